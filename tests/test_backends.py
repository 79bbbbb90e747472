import json

import keras
import numpy as np
import pytest
from helpers import run_on_jax

from kfashion import models, training

QUICK = ["--subset", "1200", "--epochs", "1"]


@pytest.mark.usefixtures("debian_data_dir")
def test_both_stages_run_on_jax_and_their_models_load_on_tensorflow(tmp_path):
    results = tmp_path / "results"
    commands = [
        ["kfashion.tune", *QUICK, "--factors", "optimizer", "--select", "best",
         "--directory", str(tmp_path / "tuning"), "--results", str(results)],
        ["kfashion.transfer", *QUICK, "--seeds", "1", "--cases", "1,2",
         "--encoder", str(results / "models" / "encoder.keras"), "--results", str(results)],
    ]  # fmt: skip
    for command in commands:
        run_on_jax("-m", *command)
    for name in ("sweep.json", "transfer.json"):
        assert json.loads((results / name).read_text())["provenance"]["backend"] == "jax"
    assert keras.backend.backend() == "tensorflow"  # this process: the saved files cross over
    classifier = keras.saving.load_model(results / "models" / "classifier_case1.keras")
    assert classifier.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0).shape == (2, 10)


def test_mixed_precision_keeps_float32_outputs():
    training.use_mixed_precision(True)
    try:
        autoencoder = models.build_autoencoder(16, 0.0)
        classifier = models.build_classifier(models.build_encoder(16, 0.0))
    finally:
        training.use_mixed_precision(False)
    assert autoencoder.get_layer("encoder").get_layer("enc_conv1").compute_dtype == "bfloat16"
    assert autoencoder.output.dtype == "float32" and classifier.output.dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"
