import json
import types

import keras
import keras_tuner
import numpy as np
import pytest
from helpers import compile_settings

from kfashion import config, pretext, tune
from kfashion.core import models, saved_models
from kfashion.pretraining import sweep


@pytest.mark.parametrize("name", config.PRETEXTS)
def test_each_pretext_keeps_the_networks_as_sub_models_the_sweep_saves(name):
    encoder, decoder = models.build_networks(16, 0.0)
    model = pretext.build(name, encoder, decoder)
    assert model.get_layer("encoder") is encoder
    assert (model.get_layer("decoder") is decoder) == pretext.load(name).DECODER
    assert model.output_shape == (None, *config.IMAGE_SHAPE)


def test_denoising_adds_noise_in_training_only():
    keras.utils.set_random_seed(0)
    networks = models.build_networks(16, 0.0)
    denoising = pretext.build("denoising", *networks)
    plain = pretext.build("reconstruction", *networks)  # the same encoder and decoder
    images = np.random.default_rng(0).random((4, *config.IMAGE_SHAPE), dtype="float32")
    np.testing.assert_allclose(denoising(images), plain(images), atol=1e-6)
    assert not np.allclose(denoising(images, training=True), plain(images), atol=1e-3)


def test_an_unknown_pretext_is_named_with_the_choices():
    with pytest.raises(ValueError, match="choose from reconstruction, denoising"):
        pretext.load("contrastive")


@pytest.mark.usefixtures("debian_data_dir")
def test_a_denoising_sweep_names_its_network_apart_in_the_grid(tmp_path):
    results = tmp_path / "denoising"
    args = ["--pretext", "denoising", "--subset", "600", "--epochs", "1", "--seeds", "1"]
    args += ["--factors", "", "--select", "best", "--workers", "1"]
    tune.main([*args, "--directory", str(tmp_path / "tuning"), "--results", str(results)])
    saved = json.loads((results / "sweep.json").read_text())
    assert saved["settings"]["pretext"] == "denoising"
    assert compile_settings(results / "models" / "autoencoder.keras")["loss"] == "mse"
    assert compile_settings(results / "models" / "autoencoder.keras")["steps_per_execution"] == 1
    autoencoder = keras.saving.load_model(results / "models" / "autoencoder.keras")
    assert autoencoder.get_layer("noise").stddev == config.PRETEXTS["denoising"]["noise"]

    other = tmp_path / "reconstruction" / "models"  # a course encoder with no sweep.json beside
    other.mkdir(parents=True)
    models.build_encoder(16).save(other / "encoder_seed0.keras")
    given = types.SimpleNamespace(encoder=[str(other), str(results / "models")], results=None)
    assert list(saved_models.encoder_files(given, [0])) == ["course", "course_denoising"]


def test_the_hypermodel_compiles_the_pretexts_loss():
    hypermodel = sweep.AutoencoderHyperModel(pretext_name="denoising")
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert model.name == "denoising_autoencoder" and model.loss == "mse"
