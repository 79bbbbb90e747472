import json
import types

import keras
import keras_tuner
import numpy as np
import pytest
from helpers import compile_settings

from kfashion import config, pretext, tune
from kfashion.core import models, saved_models
from kfashion.pretraining import sweep, sweep_export
from kfashion.rendering import pretext_sections


@pytest.mark.parametrize("name", config.PRETEXTS)
def test_each_pretext_keeps_the_networks_as_sub_models_the_sweep_saves(name):
    encoder, decoder = models.build_networks(16, 0.0)
    model = pretext.build(name, encoder, decoder)
    assert model.get_layer("encoder") is encoder
    if pretext.load(name).DECODER:
        assert model.get_layer("decoder") is decoder
        assert model.output_shape == (None, *config.IMAGE_SHAPE)
    else:
        assert "decoder" not in [layer.name for layer in model.layers]


def test_denoising_adds_noise_in_training_only():
    keras.utils.set_random_seed(0)
    networks = models.build_networks(16, 0.0)
    denoising = pretext.build("denoising", *networks)
    plain = pretext.build("reconstruction", *networks)  # the same encoder and decoder
    images = np.random.default_rng(0).random((4, *config.IMAGE_SHAPE), dtype="float32")
    np.testing.assert_allclose(denoising(images), plain(images), atol=1e-6)
    assert not np.allclose(denoising(images, training=True), plain(images), atol=1e-3)


def test_an_unknown_pretext_is_named_with_the_choices():
    with pytest.raises(ValueError, match="choose from reconstruction, denoising, masked"):
        pretext.load("jigsaw")


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


def test_masked_hides_whole_patches_and_scores_only_them():
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).random((8, *config.IMAGE_SHAPE), dtype="float32")
    mask = keras.ops.convert_to_numpy(pretext.load("masked").PatchMask(0.25, 4)(images))
    patches = mask[:, ::4, ::4, 0]  # one pixel per 4x4 patch
    np.testing.assert_array_equal(np.repeat(np.repeat(patches, 4, 1), 4, 2), mask[..., 0])
    np.testing.assert_array_equal(patches.sum(axis=(1, 2)), [round(0.25 * 49)] * 8)
    assert not np.array_equal(patches[0], patches[1])  # drawn per image

    model = pretext.build("masked", *models.build_networks(16, 0.0))
    outputs = keras.ops.convert_to_numpy(model(images))
    visible = outputs == images
    hidden_share = 1 - visible.mean()
    assert hidden_share == pytest.approx(config.PRETEXTS["masked"]["ratio"], abs=0.02)


def nt_xent_by_hand(first, second):
    views = np.concatenate([first, second])
    n = len(first)
    logits = views @ views.T
    np.fill_diagonal(logits, -np.inf)
    partner = np.concatenate([np.arange(n) + n, np.arange(n)])
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    losses = -log_softmax[np.arange(2 * n), partner]
    return (losses[:n] + losses[n:]) / 2


def test_nt_xent_is_simclrs_loss_per_image():
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(2, 5, 3)).astype("float32")
    found = pretext.load("contrastive").nt_xent(None, np.concatenate([first, second], axis=1))
    np.testing.assert_allclose(found, nt_xent_by_hand(first, second), rtol=1e-5)


def test_contrastive_draws_views_in_evaluation_too():
    keras.utils.set_random_seed(0)
    options = config.PRETEXTS["contrastive"]
    model = pretext.build("contrastive", *models.build_networks(16, 0.0))
    images = np.random.default_rng(0).random((4, *config.IMAGE_SHAPE), dtype="float32")
    first = keras.ops.convert_to_numpy(model(images))
    assert not np.allclose(first, keras.ops.convert_to_numpy(model(images)))
    norms = np.linalg.norm(first.reshape(4, 2, -1), axis=-1)
    np.testing.assert_allclose(norms, options["temperature"] ** -0.5, rtol=1e-5)


@pytest.mark.usefixtures("debian_data_dir")
@pytest.mark.parametrize("name", ["masked", "contrastive", "supervised"])
def test_each_pretext_sweeps_and_saves_an_encoder_that_loads_plainly(tmp_path, name):
    results = tmp_path / name
    args = ["--pretext", name, "--subset", "600", "--epochs", "1", "--seeds", "1"]
    args += ["--factors", "", "--select", "best", "--workers", "1"]
    tune.main([*args, "--directory", str(tmp_path / "tuning"), "--results", str(results)])
    saved = json.loads((results / "sweep.json").read_text())
    run = saved["trials"][0]["seeds"][0]
    assert np.isfinite(run["test_loss"]) and saved["selected"]["test_loss"] == run["test_loss"]
    assert 1 <= run["code_rank"] <= config.BASE["latent_dim"]
    assert 0.1 < run["probe_accuracy"] <= 1  # above chance, on the test images
    has_decoder = pretext.load(name).DECODER
    assert (run["test_mse"] is not None) == has_decoder
    if has_decoder:  # the MSE of unmasked images, not the masked pixels' loss
        assert run["test_mse"] != run["test_loss"]
    saved_files = sorted(path.name for path in (results / "models").iterdir())
    assert ("autoencoder.keras" in saved_files) == has_decoder
    encoder = keras.saving.load_model(results / "models" / "encoder_seed0.keras")
    assert encoder.output_shape == (None, config.BASE["latent_dim"])
    given = types.SimpleNamespace(encoder=[str(results / "models")], results=None)
    assert list(saved_models.encoder_files(given, [0])) == [f"course_{name}"]


def test_effective_rank_counts_the_directions_the_codes_spread_over():
    rng = np.random.default_rng(0)
    line = np.outer(rng.normal(size=500), rng.normal(size=16))
    assert sweep.effective_rank(line) == pytest.approx(1.0, abs=0.01)
    assert sweep.effective_rank(rng.normal(size=(5000, 16))) > 15.5
    squashed = rng.normal(size=(5000, 16)) * np.r_[np.ones(4), np.full(12, 0.01)]
    assert 4 < sweep.effective_rank(squashed) < 5


def test_a_pretexts_knobs_are_factors_around_its_options():
    points = config.make_design(["noise"], "denoising")
    assert [p.label for p in points] == ["base case", "noise=0.2", "noise=0.6"]  # 0.4: the base
    with pytest.raises(ValueError, match="unknown factor 'noise'"):
        config.make_design(["noise"])  # reconstruction has no noise

    hp = sweep.search_space("masked")
    hp.values.update(config.make_design(["ratio"], "masked")[1].config)
    model = sweep.AutoencoderHyperModel(pretext_name="masked").build(hp)
    assert model.get_layer("mask").ratio == 0.25
    assert model.get_layer("mask").patch == config.PRETEXTS["masked"]["patch"]


def test_select_rank_takes_the_highest_mean_code_rank():
    records = [
        {"status": "COMPLETED", "code_rank": 20.0, "best_val_loss": 0.1, "trial_id": "0"},
        {"status": "COMPLETED", "code_rank": 31.0, "best_val_loss": 0.2, "trial_id": "1"},
        {"status": "FAILED", "code_rank": None, "best_val_loss": None, "trial_id": "2"},
    ]
    assert sweep_export.select(records, "rank")["trial_id"] == "1"
    assert sweep_export.select(records, "best")["trial_id"] == "0"


def test_reconstruction_against_features_is_a_rank_correlation_over_points():
    records = [
        {"test_mse": mse, "probe_accuracy": accuracy}
        for mse, accuracy in ((0.01, 0.9), (0.02, 0.85), (0.03, 0.8), (0.04, 0.7))
    ]
    found = sweep_export.reconstruction_against_features(records)
    assert found["spearman"] == pytest.approx(-1) and found["points"] == 4
    assert found["ci95"] == pytest.approx([-1, -1])
    records[1]["probe_accuracy"] = None  # a point made before probes: left out
    assert sweep_export.reconstruction_against_features(records)["points"] == 3
    assert sweep_export.reconstruction_against_features(records[:2]) is None


def test_contrastive_views_follow_the_seed_a_sweep_seed_sets():
    images = np.random.default_rng(0).random((4, *config.IMAGE_SHAPE), dtype="float32")
    views = []
    for seed in (0, 0, 1):
        keras.utils.set_random_seed(seed)
        layer = pretext.load("contrastive").Views(0.2)
        views.append(keras.ops.convert_to_numpy(layer(images)[0]))
    np.testing.assert_array_equal(views[0], views[1])
    assert not np.array_equal(views[0], views[2])


def test_a_knobs_points_include_the_base_case_at_the_pretexts_option():
    from kfashion.analysis.sweep_claims import points_of

    design = config.make_design(["noise"], "denoising")
    trials = [{"factor": p.factor, "value": p.value, "config": p.config} for p in design]
    sweep = {"settings": {"pretext": "denoising"}, "trials": trials}
    assert [value for value, _ in points_of(sweep, "noise")] == [0.2, 0.4, 0.6]
    assert points_of(sweep, "noise")[1][1]["factor"] == "base"


def test_a_one_point_sweep_says_its_point_was_not_chosen_by_a_rule():
    def swept(points: int) -> dict:
        trials = [{"trial_id": f"{i:02d}", "seeds": [{"seconds": 10.0}]} for i in range(points)]
        return {
            "settings": {"pretext": "supervised", "epochs": 10, "sizes": {"train": 50_000}},
            "selected": {"trial_id": "00", "rule": "the highest code rank", "config": {}},
            "trials": trials,
        }

    (one,) = pretext_sections.cost_lines({"supervised": swept(1)})[2:]
    (two,) = pretext_sections.cost_lines({"supervised": swept(2)})[2:]
    assert "| its only point |" in one and "| the highest code rank |" in two
