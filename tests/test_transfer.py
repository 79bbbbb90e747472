import argparse
import json
import signal
import warnings

import keras
import numpy as np
import pytest
from helpers import predict_elsewhere, refused, run_module

from kfashion import data, labels, models, transfer
from kfashion.errors import UserError

QUICK = ["--subset", "1200", "--epochs", "1"]


@pytest.fixture(scope="module")
def small_data():
    return data.load(subset=600)


@pytest.fixture
def encoder_file(tmp_path):
    """A saved encoder of a non-default configuration, as tune would write it."""
    keras.utils.set_random_seed(42)
    path = tmp_path / "encoder.keras"
    models.build_encoder(latent_dim=32, dropout=0.1).save(path)
    return path


def start_transfer(*args):
    return run_module("kfashion.transfer", *args)


def finished_runs(output: str) -> list[tuple[int, int]]:
    return [
        (int(line.split()[1]), int(line.split("seed ")[1].split(":")[0]))
        for line in output.splitlines()
        if line.startswith("case ") and ", seed " in line
    ]


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


@pytest.mark.parametrize("case_number", [1, 2, 3, 4])
def test_cases_train_only_what_they_should(case_number, encoder_file, small_data):
    template = transfer.load_encoder(encoder_file)
    case = transfer.CASES[case_number]
    classifier = transfer.make_classifier(template, case, seed=0, learning_rate=1e-2,
                                          total_steps=10)  # fmt: skip
    encoder = classifier.get_layer("encoder")
    assert encoder.get_layer("enc_dense").units == 32  # the file's configuration, not a default
    assert encoder.get_layer("enc_dropout1").rate == 0.1
    before_encoder = weights_of(encoder)
    before_head = weights_of(classifier.get_layer("head"))
    starts_pretrained = all(
        np.array_equal(a, b) for a, b in zip(before_encoder, weights_of(template), strict=True)
    )
    assert starts_pretrained == case.pretrained  # cases 3 and 4 start from fresh weights
    classifier.fit(small_data.x_train, small_data.y_train, epochs=1, batch_size=100, verbose=0)
    after_encoder = weights_of(encoder)
    for before, after in zip(before_head, weights_of(classifier.get_layer("head")), strict=True):
        assert not np.allclose(before, after)
    if case.train_encoder:
        assert not np.allclose(before_encoder[0], after_encoder[0])
    else:
        for before, after in zip(before_encoder, after_encoder, strict=True):
            np.testing.assert_allclose(after, before)


@pytest.mark.parametrize("case_number", [2, 4])
def test_frozen_cases_train_on_codes_as_the_whole_classifier_would(
    tmp_path, case_number, small_data
):
    # without dropout, training the whole classifier is what "frozen" means: no Keras quirk
    path = tmp_path / "encoder.keras"
    models.build_encoder(latent_dim=32, dropout=0.0).save(path)
    template = transfer.load_encoder(path)
    args = argparse.Namespace(epochs=2, batch_size=100, learning_rate=1e-2)
    record, fast = transfer.train_one(template, case_number, 0, small_data, args)
    steps = len(small_data.y_train) // 100 * 2
    whole = transfer.make_classifier(template, transfer.CASES[case_number], 0, 1e-2, steps)
    keras.utils.set_random_seed(0)  # as train_one does before fitting
    best = keras.callbacks.EarlyStopping(  # as train_one keeps the best epoch
        monitor="val_accuracy", mode="max", patience=2, restore_best_weights=True
    )
    history = whole.fit(small_data.x_train, small_data.y_train, epochs=2, batch_size=100,
                        validation_data=(small_data.x_val, small_data.y_val), callbacks=[best],
                        verbose=0)  # fmt: skip
    for name in ("loss", "val_accuracy"):
        np.testing.assert_allclose(record["history"][name], history.history[name], rtol=1e-4)
    for a, b in zip(weights_of(fast), weights_of(whole), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_fresh_encoders_depend_on_the_seed(encoder_file):
    template = transfer.load_encoder(encoder_file)
    first, second = (
        transfer.make_classifier(template, transfer.CASES[3], seed, 1e-3, 10).get_layer("encoder")
        for seed in (0, 1)
    )
    assert not np.allclose(first.get_weights()[0], second.get_weights()[0])


def test_paired_difference_interval():
    result = transfer.paired_difference([0.90, 0.91, 0.92], [0.89, 0.89, 0.91])
    assert result["mean"] == pytest.approx(0.0133333, abs=1e-6)
    low, high = result["ci95"]
    assert low < result["mean"] < high and high - low == pytest.approx(0.0287, abs=1e-3)
    assert transfer.paired_difference([0.9], [0.8])["ci95"] is None


@pytest.mark.usefixtures("debian_data_dir")
def test_quick_run_writes_every_output(tmp_path, encoder_file):
    results = tmp_path / "results"
    transfer.main([*QUICK, "--seeds", "2", "--encoder", str(encoder_file),
                   "--results", str(results)])  # fmt: skip
    summary = json.loads((results / "transfer.json").read_text())
    assert set(summary["cases"]) == {"1", "2", "3", "4"}
    for case in summary["cases"].values():
        assert case["seeds"] == [0, 1] and 0 < case["test_accuracy"]["mean"] <= 1
        assert np.array(case["confusion_matrix_all_seeds"]).sum() == 2 * 200
    assert len(summary["case1_minus_case3_accuracy"]["ci95"]) == 2
    assert summary["provenance"]["command"].startswith("python -m kfashion.transfer")
    run = json.loads((results / "transfer" / "runs" / "case2_seed1.json").read_text())
    assert set(run["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(run["precision"]) == len(run["recall"]) == 10
    for name in summary["figures"].values():
        assert (results / name).stat().st_size > 10_000
    dataset = data.load(subset=1200)
    for case in (1, 2, 3, 4):
        path = results / "models" / f"classifier_case{case}.keras"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. an optimizer saved without its variables
            model = keras.saving.load_model(path)
        expected = model.predict(dataset.x_test, verbose=0)
        elsewhere = predict_elsewhere(path, dataset.x_test, tmp_path)
        np.testing.assert_allclose(elsewhere, expected, atol=1e-5)
    seed0 = json.loads((results / "transfer" / "runs" / "case4_seed0.json").read_text())
    saved = keras.saving.load_model(results / "models" / "classifier_case4.keras")
    _, accuracy = saved.evaluate(dataset.x_test, dataset.y_test, verbose=0)
    assert accuracy == pytest.approx(seed0["test_accuracy"], abs=1e-6)


@pytest.mark.usefixtures("debian_data_dir")
def test_killed_run_keeps_finished_runs_and_more_seeds_add_only_missing(tmp_path, encoder_file):
    args = [*QUICK, "--encoder", str(encoder_file), "--results", str(tmp_path), "--cases", "2,4"]
    first = start_transfer(*args, "--seeds", "2")
    seen = []
    for line in first.stdout:
        seen.append(line)
        if line.startswith("case 4") and "seed 0:" in line:
            first.send_signal(signal.SIGKILL)  # during case 2 seed 1
            break
    first.wait(timeout=60)
    assert finished_runs("".join(seen)) == [(2, 0), (4, 0)]

    second = start_transfer(*args, "--seeds", "3")
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    assert finished_runs(out) == [(2, 1), (4, 1), (2, 2), (4, 2)]
    summary = json.loads((tmp_path / "transfer.json").read_text())
    assert summary["cases"]["4"]["seeds"] == [0, 1, 2]

    message = refused(start_transfer(*args, "--seeds", "3", "--epochs", "2"))
    assert "other epochs" in message and "--overwrite" in message


def test_bad_encoders_are_refused(tmp_path):
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a zip file")
    colour = tmp_path / "colour.keras"
    inputs = keras.Input((28, 28, 3))
    keras.Model(inputs, keras.layers.Flatten()(inputs)).save(colour)
    maps = tmp_path / "maps.keras"
    inputs = keras.Input((28, 28, 1))
    keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs)).save(maps)
    for path, fragment in (
        (tmp_path / "missing.keras", "run `python -m kfashion.tune` first"),
        (garbage, "not a readable .keras model"),
        (colour, "must map (None, 28, 28, 1) images"),
        (maps, "to (None, n) codes"),
    ):
        message = refused(
            run_module(
                "kfashion.transfer", "--encoder", str(path), "--results", str(tmp_path / "r")
            )
        )
        assert str(path) in message and fragment in message
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--cases", "1,5"], "--cases"),
        (["--cases", "one"], "--cases"),
        (["--epochs", "0"], "--epochs 0"),
        (["--seeds", "-1"], "--seeds -1"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, args, fragment):
    assert fragment in refused(start_transfer(*args, "--results", str(tmp_path)))


def test_label_counts_are_parsed_and_checked():
    assert labels.parse_counts("all,1000, 100", 50_000) == [100, 1000, "all"]
    for bad in ("", "5", "50000", "ten", "100,-3"):
        with pytest.raises(UserError, match="--labels"):
            labels.parse_counts(bad, 50_000)


def test_few_label_runs_take_at_least_the_minimum_steps():
    assert labels.repeats_for(100, 100, 30) * 30 >= labels.MIN_STEPS  # one batch per epoch
    assert labels.repeats_for(10_000, 100, 30) == 1  # 3,000 steps already
    subset = labels.labelled_subset(data.load(subset=1200), 100, seed=3, repeats=2)
    assert len(subset.y_train) == 200 and np.bincount(subset.y_train).tolist() == [20] * 10
    assert np.array_equal(subset.x_train[:100], subset.x_train[100:])


def test_crossings_name_where_one_case_overtakes_another():
    summary = {
        "1": {"100": {"mean": 0.6}, "1000": {"mean": 0.7}, "all": {"mean": 0.9}},
        "3": {"100": {"mean": 0.5}, "1000": {"mean": 0.75}, "all": {"mean": 0.91}},
    }
    counts = [100, 1000, "all"]
    assert labels.crossings(summary, counts, "1", "3") == ["falls behind at 1000 labels"]
    assert labels.crossings(summary, counts, "3", "1") == ["overtakes at 1000 labels"]


@pytest.mark.usefixtures("debian_data_dir")
def test_label_efficiency_run(tmp_path, encoder_file, monkeypatch, capsys):
    monkeypatch.setattr(labels, "MIN_STEPS", 20)  # the real minimum, 1,000 steps, is for full runs
    results = tmp_path / "results"
    args = [*QUICK, "--seeds", "2", "--encoder", str(encoder_file), "--results", str(results)]
    transfer.main([*args, "--labels", "50,all", "--cases", "1,2"])
    summary = json.loads((results / "label_efficiency.json").read_text())
    assert summary["settings"]["labels"] == [50, "all"]
    assert summary["repeats_per_epoch"] == {"50": 20}
    for case in ("1", "2"):
        assert set(summary["test_accuracy"][case]) == {"50", "all"}
        assert summary["test_accuracy"][case]["50"]["n"] == 2
    run = json.loads((results / "transfer" / "runs" / "labels50" / "case1_seed1.json").read_text())
    assert len(run["history"]["loss"]) == 1 and "val_loss" not in run["history"]
    assert (results / summary["figure"]).stat().st_size > 10_000
    # "all" is the ordinary run: the plain command reuses it instead of training again
    capsys.readouterr()
    transfer.main([*args, "--cases", "1,2"])
    assert finished_runs(capsys.readouterr().out) == []
    assert json.loads((results / "transfer.json").read_text())["cases"]["1"]["seeds"] == [0, 1]
