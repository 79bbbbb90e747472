"""Contrastive: two augmented views of each image, their codes through a projection head,
pulled together and pushed from every other image's views (SimCLR's NT-Xent loss, Chen et
al. 2020; keras-io's semi-supervised SimCLR example). The head is discarded after pretraining:
the sweep saves the encoder alone.

The model outputs both views' projections side by side, unit length and scaled by
1/sqrt(temperature), so their dot products are cosine similarities over the temperature and
`LOSS` needs no option; `model.fit(images, images)` ignores its targets. The views are drawn in
evaluation too, so the validation and test losses score the same task as training, on batches
of `config.EVAL_BATCH_SIZE` images: more images to tell a partner from than a training batch
has, so a higher loss than training's at the same encoder.
"""

import keras
from keras import ops

from kfashion import config

DECODER = False


def augmentation(strength: float, seed=None) -> keras.Sequential:
    """Random crop (zoom in) and shift by up to `strength` of the image, horizontal flip, and
    random erasing of one box: Keras's own augmentation layers, active in training only."""
    return keras.Sequential(
        [
            keras.layers.RandomZoom((-strength, 0.0), fill_mode="constant", seed=seed),
            keras.layers.RandomTranslation(strength, strength, fill_mode="constant", seed=seed),
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomErasing(
                factor=config.ERASING_FACTOR, value_range=(0, 1), fill_value=0.0, seed=seed
            ),
        ],
        name="augmentation",
    )


@keras.saving.register_keras_serializable(package="kfashion")
class Views(keras.layers.Layer):
    """Two augmented views of each image, in training and evaluation alike."""

    def __init__(self, strength: float, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.strength, self.seed = strength, seed
        # no seed: each layer draws its own from Keras's global seed (the sweep seed's)
        self.first = augmentation(strength, seed)
        self.second = augmentation(strength, None if seed is None else seed + 1)

    def call(self, images):
        return self.first(images, training=True), self.second(images, training=True)

    def compute_output_shape(self, input_shape):
        return input_shape, input_shape

    def get_config(self):
        return {**super().get_config(), "strength": self.strength, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kfashion")
def nt_xent(y_true, y_pred):
    """SimCLR's loss per image: each view's cross-entropy of finding its partner among the
    other 2n - 1 views of the batch. `y_pred` holds the two views' scaled projections side by
    side; `y_true` is ignored."""
    first, second = ops.split(y_pred, 2, axis=-1)
    n = ops.shape(first)[0]
    views = ops.concatenate([first, second], axis=0)
    logits = ops.matmul(views, ops.transpose(views))
    logits = logits - 1e9 * ops.eye(2 * n, dtype=logits.dtype)  # a view is not its own partner
    partners = ops.concatenate([ops.arange(n) + n, ops.arange(n)], axis=0)
    losses = keras.losses.sparse_categorical_crossentropy(partners, logits, from_logits=True)
    return (losses[:n] + losses[n:]) / 2


LOSS = nt_xent


def build(
    encoder: keras.Model, decoder: keras.Model, temperature: float, strength: float, width: int
) -> keras.Model:
    """The encoder and a projection head (Dense(width), ReLU, Dense(width)) on two views."""
    del decoder  # contrastive pretraining has none
    inputs = keras.Input(encoder.input_shape[1:], name="image")
    head = keras.Sequential(
        [keras.layers.Dense(width, activation="relu"), keras.layers.Dense(width)],
        name="projection",
    )
    scale = 1 / temperature**0.5
    projections = []
    for view in Views(strength, name="views")(inputs):
        projection = keras.layers.UnitNormalization(dtype="float32")(head(encoder(view)))
        projections.append(projection * scale)
    outputs = keras.layers.Concatenate(name="projections")(projections)
    return keras.Model(inputs, outputs, name="contrastive")
