import keras
import numpy as np
import pytest
from helpers import predict_elsewhere

from kfashion.config import ARCHITECTURES
from kfashion.core import models

ENCODER_LAYERS = [
    "image",
    "enc_conv1",
    "enc_relu1",
    "enc_dropout1",
    "enc_pool1",
    "enc_conv2",
    "enc_relu2",
    "enc_dropout2",
    "enc_pool2",
    "enc_flatten",
    "enc_dense",
    "enc_relu3",
    "latent",
]
DECODER_LAYERS = [
    "code",
    "dec_dense",
    "dec_relu1",
    "dec_dropout1",
    "dec_reshape",
    "dec_deconv1",
    "dec_relu2",
    "dec_dropout2",
    "dec_deconv2",
    "reconstruction",
]


def test_reference_parameter_counts():
    assert models.build_encoder(64, 0.2).count_params() == 56_064
    assert models.build_decoder(64, 0.2).count_params() == 60_353
    assert models.build_autoencoder(64, 0.2).count_params() == 56_064 + 60_353


def test_layer_order_and_shapes():
    encoder = models.build_encoder(32, 0.3)
    decoder = models.build_decoder(32, 0.3)
    assert [layer.name for layer in encoder.layers] == ENCODER_LAYERS
    assert [layer.name for layer in decoder.layers] == DECODER_LAYERS
    shapes = {layer.name: layer.output.shape[1:] for layer in encoder.layers + decoder.layers}
    assert shapes["enc_conv1"] == (26, 26, 16) and shapes["enc_pool1"] == (13, 13, 16)
    assert shapes["enc_conv2"] == (11, 11, 32) and shapes["enc_pool2"] == (5, 5, 32)
    assert shapes["enc_flatten"] == (800,) and shapes["latent"] == (32,)
    assert shapes["dec_deconv1"] == (13, 13, 16) and shapes["reconstruction"] == (28, 28, 1)
    assert encoder.get_layer("enc_dropout1").rate == 0.3


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("latent_dim", [16, 256])
def test_autoencoder_reconstructs_in_unit_range(latent_dim, architecture):
    autoencoder = models.build_autoencoder(latent_dim, 0.0, architecture)
    out = autoencoder.predict(np.random.rand(4, 28, 28, 1).astype("float32"), verbose=0)
    assert out.shape == (4, 28, 28, 1) and 0.0 <= out.min() and out.max() <= 1.0
    assert [layer.name for layer in autoencoder.layers[1:]] == ["encoder", "decoder"]
    assert autoencoder.get_layer("encoder").output_shape == (None, latent_dim)


def test_linear_code_variant_shapes_and_counts():
    encoder = models.build_linear_code_encoder(64, 0.1)
    decoder = models.build_linear_code_decoder(64, 0.1)
    assert encoder.count_params() == 105_216 and decoder.count_params() == 109_009
    shapes = {layer.name: layer.output.shape[1:] for layer in encoder.layers + decoder.layers}
    assert shapes["enc_conv1"] == (28, 28, 16) and shapes["enc_pool2"] == (7, 7, 32)
    assert shapes["latent"] == (64,) and shapes["dec_reshape"] == (7, 7, 32)
    assert shapes["dec_deconv1"] == (14, 14, 16) and shapes["reconstruction"] == (28, 28, 1)
    assert encoder.get_layer("enc_dropout1").rate == 0.1
    with pytest.raises(ValueError, match="unknown architecture"):
        models.build_autoencoder(64, 0.0, "resnet")


@pytest.mark.parametrize("train_encoder", [True, False])
def test_classifier_trainable_flags(train_encoder):
    encoder = models.build_encoder(64, 0.2)
    classifier = models.build_classifier(encoder, train_encoder=train_encoder)
    assert classifier.output_shape == (None, 10)
    expected = 56_064 + 650 if train_encoder else 650
    assert sum(int(np.prod(w.shape)) for w in classifier.trainable_weights) == expected


def test_saved_model_loads_without_kfashion(tmp_path):
    autoencoder = models.build_autoencoder(16, 0.2)
    path = tmp_path / "autoencoder.keras"
    autoencoder.save(path)
    images = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    expected = autoencoder.predict(images, verbose=0)
    (elsewhere,) = predict_elsewhere([path], images, tmp_path)
    np.testing.assert_allclose(elsewhere, expected, atol=1e-6)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert reloaded.get_layer("encoder").get_layer("enc_dense").units == 16
