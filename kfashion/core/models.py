"""The course's convolutional autoencoder, a stronger variant, and the classifier on an encoder.

Plain builder functions returning named functional models made of built-in layers only, so a
saved `.keras` file loads with `keras.saving.load_model` in a process that never imported
kfashion. At latent_dim=64 the course encoder has 56,064 parameters and its decoder 60,353;
the "linear_code" variant's have 105,216 and 109,009.
"""

import keras

from kfashion.config import ARCHITECTURES, IMAGE_SHAPE, NUM_CLASSES
from kfashion.pretext import reconstruction

layers = keras.layers


def _convolutions(images, padding: str, dropout: float):
    """The encoders' Conv(16)-Conv(32), each with ReLU, dropout and 2x2 pooling, flattened."""
    x = images
    for i, filters in enumerate((16, 32), start=1):
        x = layers.Conv2D(filters, 3, padding=padding, name=f"enc_conv{i}")(x)
        x = layers.ReLU(name=f"enc_relu{i}")(x)
        x = layers.Dropout(dropout, name=f"enc_dropout{i}")(x)
        x = layers.MaxPooling2D(2, name=f"enc_pool{i}")(x)
    return layers.Flatten(name="enc_flatten")(x)


def _feature_maps(codes, side: int, dropout: float):
    """The decoders' Dense layer with ReLU and dropout, reshaped to side x side x 32 maps."""
    x = layers.Dense(side * side * 32, name="dec_dense")(codes)
    x = layers.ReLU(name="dec_relu1")(x)
    x = layers.Dropout(dropout, name="dec_dropout1")(x)
    return layers.Reshape((side, side, 32), name="dec_reshape")(x)


def build_encoder(latent_dim: int = 64, dropout: float = 0.2) -> keras.Model:
    """Conv(16)-Conv(32)-Dense(latent_dim), each followed by ReLU and dropout."""
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    x = _convolutions(inputs, "valid", dropout)  # 5 x 5 x 32 = 800 features
    x = layers.Dense(latent_dim, name="enc_dense")(x)
    x = layers.ReLU(name="enc_relu3")(x)
    outputs = layers.Dropout(dropout, name="latent")(x)
    return keras.Model(inputs, outputs, name="encoder")


def build_decoder(latent_dim: int = 64, dropout: float = 0.2) -> keras.Model:
    """Dense(800) reshaped to 5x5x32, then two transposed convolutions back to 28x28x1.

    As in the course's network, each transposed convolution's `output_padding` adds a last row
    and column that no input reaches: the image's last three rows and columns come from biases
    alone (the last from the output layer's, the two before it from the first layer's padded
    row through the output kernel), a grey border, the same on every reconstruction.
    """
    inputs = keras.Input((latent_dim,), name="code")
    x = _feature_maps(inputs, 5, dropout)
    x = layers.Conv2DTranspose(16, 4, strides=2, output_padding=1, name="dec_deconv1")(x)  # 13x13
    x = layers.ReLU(name="dec_relu2")(x)
    x = layers.Dropout(dropout, name="dec_dropout2")(x)
    x = layers.Conv2DTranspose(1, 3, strides=2, output_padding=1, name="dec_deconv2")(x)  # 28x28
    # float32 even under mixed precision, so the loss sees full-precision outputs
    outputs = layers.Activation("sigmoid", dtype="float32", name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="decoder")


def build_linear_code_encoder(latent_dim: int = 64, dropout: float = 0.0) -> keras.Model:
    """Conv(16)-Conv(32) with `same` padding, each with ReLU, dropout and pooling; a linear code.

    Unlike the course encoder the convolutions keep the borders (7 x 7 x 32 = 1,568 features
    reach the code, not 800) and the code is the Dense layer's output itself: no ReLU zeroes
    part of it and no dropout perturbs it.
    """
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    x = _convolutions(inputs, "same", dropout)  # 7 x 7 x 32 = 1,568 features
    outputs = layers.Dense(latent_dim, name="latent")(x)
    return keras.Model(inputs, outputs, name="encoder")


def build_linear_code_decoder(latent_dim: int = 64, dropout: float = 0.0) -> keras.Model:
    """Dense(1568) reshaped to 7x7x32, two stride-2 transposed convolutions, a 3x3 output conv.

    `same` padding throughout, so every output pixel is made the same way (the course
    decoder's `output_padding` leaves its last three rows and columns a constant grey), and the
    image comes from a convolution over 16 feature maps rather than from a single transposed
    filter.
    """
    inputs = keras.Input((latent_dim,), name="code")
    x = _feature_maps(inputs, 7, dropout)
    for i in (2, 3):  # 7x7 -> 14x14 -> 28x28
        x = layers.Conv2DTranspose(16, 3, strides=2, padding="same", name=f"dec_deconv{i - 1}")(x)
        x = layers.ReLU(name=f"dec_relu{i}")(x)
        x = layers.Dropout(dropout, name=f"dec_dropout{i}")(x)
    x = layers.Conv2D(1, 3, padding="same", name="dec_conv")(x)
    outputs = layers.Activation("sigmoid", dtype="float32", name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="decoder")


# The sweep's "architecture" factor: name -> (encoder builder, decoder builder).
BUILDERS = {
    "course": (build_encoder, build_decoder),
    "linear_code": (build_linear_code_encoder, build_linear_code_decoder),
}
assert tuple(BUILDERS) == ARCHITECTURES  # the design names each network these builders make


def build_networks(
    latent_dim: int = 64, dropout: float = 0.2, architecture: str = "course"
) -> tuple[keras.Model, keras.Model]:
    """The encoder and decoder of `architecture`, which a pretext task builds its model around."""
    if architecture not in BUILDERS:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {ARCHITECTURES}")
    make_encoder, make_decoder = BUILDERS[architecture]
    return make_encoder(latent_dim, dropout), make_decoder(latent_dim, dropout)


def build_autoencoder(
    latent_dim: int = 64, dropout: float = 0.2, architecture: str = "course"
) -> keras.Model:
    """The encoder and decoder composed (`kfashion.pretext.reconstruction`)."""
    return reconstruction.build(*build_networks(latent_dim, dropout, architecture))


def build_classifier(
    encoder: keras.Model,
    num_classes: int = NUM_CLASSES,
    train_encoder: bool = True,
    augmentation: keras.Layer | None = None,
) -> keras.Model:
    """A copy of the encoder followed by one Dense layer giving logits.

    The classifier gets its own copy of the encoder (same configuration and weights) named
    "encoder", so the model passed in is left as it was. A frozen copy (`train_encoder=False`)
    gets `trainable = False`, so its weights never change; compile the classifier after
    building it so the flag takes effect. Its dropout still follows the outer call's `training`
    (Keras 3 passes it into nested models, even past a `training=False` in the call; 3.15
    checked), so `kfashion.finetuning.cases` trains a frozen case's head on precomputed codes.
    `augmentation`: Keras's augmentation layers the images pass through before the encoder
    (active in training only), or None.
    """
    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    copy.name = "encoder"
    copy.trainable = train_encoder
    inputs = keras.Input(encoder.input_shape[1:], name="image")
    images = inputs if augmentation is None else augmentation(inputs)
    logits = layers.Dense(num_classes, dtype="float32", name="head")(copy(images))
    return keras.Model(inputs, logits, name="classifier")
