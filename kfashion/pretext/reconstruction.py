"""Reconstruction: the autoencoder of the reference study, images in, the same images out."""

import keras

DECODER = True
LOSS = "mse"


def build(encoder: keras.Model, decoder: keras.Model) -> keras.Model:
    """The encoder and decoder composed, each kept a model of its own so it can be saved alone."""
    inputs = keras.Input(encoder.input_shape[1:], name="image")
    return keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
