"""kfashion: convolutional autoencoders and transfer learning on Fashion-MNIST, with Keras 3."""

__version__ = "0.3.0"
