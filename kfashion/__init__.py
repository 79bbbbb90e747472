"""kfashion: convolutional autoencoders and transfer learning on Fashion-MNIST, with Keras 3."""

import os

# TensorFlow's C++ start-up chatter (CUDA probes, CPU flags) hides the progress users read.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
