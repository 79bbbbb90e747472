import json
from pathlib import Path

import keras
import pytest
from helpers import assert_picture, refused_here

from kfashion import config, latent
from kfashion.core import models


@pytest.fixture
def saved_pair(tmp_path):
    keras.utils.set_random_seed(1)
    folder = tmp_path / "models"
    folder.mkdir()
    models.build_encoder(latent_dim=16).save(folder / "encoder.keras")
    models.build_decoder(latent_dim=16).save(folder / "decoder.keras")
    return folder / "encoder.keras"


@pytest.mark.usefixtures("debian_data_dir")
def test_maps_and_paths_of_a_saved_encoder(tmp_path, saved_pair):
    results = tmp_path / "results"
    args = ["--encoder", str(saved_pair), "--subset", "600"]  # 100 test images, below 3,000
    latent.main([*args, "--results", str(results)])
    summary = json.loads((results / "latent.json").read_text())
    assert summary["settings"]["tsne_images"] == 100  # all of them, as a --subset study asks
    (numbers,) = summary["encoders"].values()
    variance = numbers["pca_explained_variance"]
    assert len(variance) == 2 and 0 < variance[1] <= variance[0] < 1
    # the maps: points of ten class colours; the paths: grey images decoded along each path
    assert_picture(results / summary["figures"]["maps"], colours=10)
    assert_picture(
        results / summary["figures"]["paths"],
        colours=config.LATENT_STEPS * len(config.LATENT_PATHS),
    )
    assert summary["provenance"]["command"].startswith("python -m kfashion.latent")


@pytest.mark.usefixtures("debian_data_dir")
def test_an_encoder_without_a_decoder_gets_its_maps_only(tmp_path, saved_pair):
    alone = saved_pair.with_name("encoder_seed1.keras")  # the grid's encoders have no decoder
    saved_pair.rename(alone)
    results = tmp_path / "results"
    latent.main(["--encoder", str(alone), "--subset", "600", "--results", str(results)])
    summary = json.loads((results / "latent.json").read_text())
    assert summary["encoders"]["encoder_seed1.keras"]["decoded_paths"] is False
    assert list(summary["figures"]) == ["maps"]
    assert_picture(results / summary["figures"]["maps"], colours=10)
    assert not (results / "figures" / "latent_paths.png").exists()


def test_encoders_are_named_by_the_path_parts_that_tell_them_apart():
    paths = [
        Path("results/models/encoder.keras"),
        Path("results/architecture/models/encoder.keras"),
    ]
    assert latent.short_names(paths) == [
        "results/models/encoder.keras",
        "architecture/models/encoder.keras",
    ]
    assert latent.short_names([Path("a/x.keras"), Path("b/y.keras")]) == ["x.keras", "y.keras"]


def latent_refuses(encoder: Path, results: Path, capsys) -> str:
    """The one line `latent` answers a wrong model with, before it reads the data."""
    args = ["--encoder", str(encoder), "--subset", "600", "--results", str(results)]
    line = refused_here(latent.main, args, capsys)
    assert not (results / "latent.json").exists()
    return line


@pytest.mark.usefixtures("debian_data_dir")
def test_a_decoder_given_as_encoder_is_refused(tmp_path, saved_pair, capsys):
    decoder = saved_pair.parent / "decoder.keras"
    line = latent_refuses(decoder, tmp_path / "results", capsys)
    assert f"{decoder}: not an encoder" in line and "(None, 16)" in line


@pytest.mark.usefixtures("debian_data_dir")
def test_a_classifier_given_as_encoder_is_refused(tmp_path, capsys):
    folder = tmp_path / "classifier"
    folder.mkdir()  # a classifier named like an encoder, with a good decoder beside it
    models.build_classifier(models.build_encoder(latent_dim=16)).save(folder / "encoder.keras")
    models.build_decoder(latent_dim=16).save(folder / "decoder.keras")
    line = latent_refuses(folder / "encoder.keras", tmp_path / "results", capsys)
    assert "not an encoder: a classifier" in line


@pytest.mark.usefixtures("debian_data_dir")
def test_a_decoder_of_another_latent_size_is_refused(tmp_path, saved_pair, capsys):
    decoder = saved_pair.parent / "decoder.keras"
    models.build_decoder(latent_dim=32).save(decoder)
    line = latent_refuses(saved_pair, tmp_path / "results", capsys)
    assert f"{decoder}: not the decoder of {saved_pair}" in line and "(None, 16)" in line
