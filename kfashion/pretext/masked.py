"""Masked reconstruction: hide a random share of each image's square patches and reconstruct
what was hidden (SimMIM, Xie et al. 2022; keras-io's masked image modelling example).

The encoder sees the image with its masked patches set to 0. The model's output is the
reconstruction on the masked pixels and the input itself elsewhere, so `mse` against the
image is the squared error of the masked pixels alone (over all pixels: `ratio` times their
mean), and no gradient comes from the visible ones. The mask is drawn in evaluation too, so the
validation and test losses score the same task as training.
"""

import keras
from keras import ops

DECODER = True
LOSS = "mse"


@keras.saving.register_keras_serializable(package="kfashion")
class PatchMask(keras.layers.Layer):
    """A mask of each image: 1 on `round(ratio * patches)` of its `patch` x `patch` squares,
    drawn at random per image, 0 elsewhere."""

    def __init__(self, ratio: float, patch: int, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.ratio, self.patch, self.seed = ratio, patch, seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images):
        height, width = images.shape[1] // self.patch, images.shape[2] // self.patch
        patches = height * width
        noise = keras.random.uniform((ops.shape(images)[0], patches), seed=self.generator)
        rank = ops.argsort(ops.argsort(noise, axis=-1), axis=-1)  # a random order per image
        hidden = ops.cast(rank < round(self.ratio * patches), images.dtype)
        grid = ops.reshape(hidden, (-1, height, width, 1))
        return ops.repeat(ops.repeat(grid, self.patch, axis=1), self.patch, axis=2)

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio, "patch": self.patch, "seed": self.seed}


def build(encoder: keras.Model, decoder: keras.Model, ratio: float, patch: int) -> keras.Model:
    height, width = encoder.input_shape[1:3]
    if height % patch or width % patch:
        raise ValueError(f"patch {patch} does not divide the {height}x{width} images")
    inputs = keras.Input(encoder.input_shape[1:], name="image")
    mask = PatchMask(ratio, patch, name="mask")(inputs)
    reconstruction = decoder(encoder(inputs * (1 - mask)))
    outputs = mask * reconstruction + (1 - mask) * inputs
    return keras.Model(inputs, outputs, name="masked_autoencoder")
