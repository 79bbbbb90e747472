"""Denoising: reconstruct the clean image from one with Gaussian noise added (Vincent et al.
2008; keras-io's denoising autoencoder adds noise of 0.4 standard deviations).

`keras.layers.GaussianNoise` is active in training only, so validation and test losses score
the reconstruction of clean images, as the reconstruction pretext's do.
"""

import keras

DECODER = True
LOSS = "mse"


def build(encoder: keras.Model, decoder: keras.Model, noise: float) -> keras.Model:
    inputs = keras.Input(encoder.input_shape[1:], name="image")
    noisy = keras.layers.GaussianNoise(noise, name="noise")(inputs)
    return keras.Model(inputs, decoder(encoder(noisy)), name="denoising_autoencoder")
