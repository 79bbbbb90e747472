"""Supervised: the encoder and a Dense head trained on the labels of every training image.
Not a pretext task but a control that must help: the transfer grid runs its encoder as an
arm marked as an oracle, to show how large a benefit the design detects when one surely
exists. The head is discarded after pretraining: the sweep saves the encoder alone.
"""

import keras

from kfashion.config import NUM_CLASSES

DECODER = False
TARGETS = "labels"
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def build(encoder: keras.Model, decoder: keras.Model) -> keras.Model:
    del decoder  # trained on labels, not images
    inputs = keras.Input(encoder.input_shape[1:], name="image")
    logits = keras.layers.Dense(NUM_CLASSES, dtype="float32", name="head")(encoder(inputs))
    return keras.Model(inputs, logits, name="supervised")
