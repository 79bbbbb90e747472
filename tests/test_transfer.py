import json
import signal

import keras
import numpy as np
import pytest
from helpers import refused, run_module

from kfashion import cases, data, labels, models, transfer
from kfashion.design import CASES
from kfashion.errors import UserError
from kfashion.saved_models import load_encoder

SMALL = ["--subset", "600", "--epochs", "1"]


@pytest.fixture(scope="module")
def small_data(debian_data_dir):
    return data.load(debian_data_dir, subset=600)


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
    template = load_encoder(encoder_file)
    classifier = cases.make_classifier(template, case_number, seed=0, learning_rate=1e-2, steps=10)
    encoder = classifier.get_layer("encoder")
    assert encoder.get_layer("enc_dense").units == 32  # the file's configuration, not a default
    assert encoder.get_layer("enc_dropout1").rate == 0.1
    before_encoder = weights_of(encoder)
    before_head = weights_of(classifier.get_layer("head"))
    starts_pretrained = all(
        np.array_equal(a, b) for a, b in zip(before_encoder, weights_of(template), strict=True)
    )
    assert starts_pretrained == CASES[case_number].pretrained  # 3 and 4 start from fresh weights
    assert template.trainable  # the caller's encoder is left as it was
    classifier.fit(small_data.x_train, small_data.y_train, epochs=1, batch_size=100, verbose=0)
    after_encoder = weights_of(encoder)
    for before, after in zip(before_head, weights_of(classifier.get_layer("head")), strict=True):
        assert not np.allclose(before, after)
    if CASES[case_number].train_encoder:
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
    template = load_encoder(path)
    schedule = cases.Schedule(epochs=2, batch_size=100, learning_rate=1e-2)
    fast, record = cases.train(template, case_number, 0, small_data, schedule)
    whole = cases.make_classifier(template, case_number, 0, 1e-2, schedule.steps(500))
    keras.utils.set_random_seed(0)  # as cases.train does before fitting
    best = keras.callbacks.EarlyStopping(  # as cases.train keeps the best epoch
        monitor="val_accuracy", mode="max", patience=2, restore_best_weights=True
    )
    history = whole.fit(
        small_data.x_train,
        small_data.y_train,
        epochs=2,
        batch_size=100,
        validation_data=(small_data.x_val, small_data.y_val),
        callbacks=[best],
        verbose=0,
    )
    for name in ("loss", "val_accuracy"):
        np.testing.assert_allclose(record["history"][name], history.history[name], rtol=1e-4)
    for a, b in zip(weights_of(fast), weights_of(whole), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert record["best_val_accuracy"] == max(history.history["val_accuracy"])


def test_fresh_encoders_depend_on_the_seed(encoder_file):
    template = load_encoder(encoder_file)
    first, second = (
        cases.make_classifier(template, 3, seed, 1e-3, 10).get_layer("encoder") for seed in (0, 1)
    )
    assert not np.allclose(first.get_weights()[0], second.get_weights()[0])


@pytest.mark.usefixtures("debian_data_dir")
def test_killed_run_keeps_finished_runs_and_more_seeds_add_only_missing(tmp_path, encoder_file):
    args = [*SMALL, "--encoder", str(encoder_file), "--results", str(tmp_path), "--cases", "2,4"]
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
    assert summary["runs"][0]["environment"]["backend"] == "tensorflow"

    message = refused(start_transfer(*args, "--seeds", "3", "--epochs", "2"))
    assert "other epochs" in message and "--overwrite" in message
    other = tmp_path / "other.keras"
    models.build_encoder(latent_dim=32, dropout=0.1).save(other)
    message = refused(start_transfer(*args, "--encoder", str(other)))
    assert "another encoder (its SHA-256 differs)" in message


def test_bad_encoders_are_refused(tmp_path, capsys):
    colour = tmp_path / "colour.keras"
    inputs = keras.Input((28, 28, 3))
    keras.Model(inputs, keras.layers.Flatten()(inputs)).save(colour)
    maps = tmp_path / "maps.keras"
    inputs = keras.Input((28, 28, 1))
    keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs)).save(maps)
    for path, fragment in (
        (colour, "must map (None, 28, 28, 1) images"),
        (maps, "to (None, n) codes"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            transfer.main(["--encoder", str(path), "--results", str(tmp_path / "r")])
        message = capsys.readouterr().err
        assert exit_info.value.code == 2 and message.count("\n") == 1
        assert str(path) in message and fragment in message
    assert not (tmp_path / "r").exists()


def test_label_counts_are_parsed_and_checked():
    assert labels.parse_counts("all,1000, 100", 50_000) == [100, 1000, "all"]
    for bad in ("", "5", "50000", "ten", "100,-3"):
        with pytest.raises(UserError, match="--labels"):
            labels.parse_counts(bad, 50_000)


def test_few_label_runs_take_at_least_the_minimum_steps(small_data):
    assert labels.repeats_for(100, 100, 30, 1000) * 30 >= 1000  # one batch per epoch
    assert labels.repeats_for(10_000, 100, 30, 1000) == 1  # 3,000 steps already
    subset = labels.labelled_subset(small_data, 100, seed=3, repeats=2)
    assert len(subset.y_train) == 200 and np.bincount(subset.y_train).tolist() == [20] * 10
    assert np.array_equal(subset.x_train[:100], subset.x_train[100:])


@pytest.mark.usefixtures("debian_data_dir")
def test_label_runs_save_the_classifiers_and_overwrite_discards_only_its_own_runs(
    tmp_path, encoder_file
):
    args = [*SMALL, "--encoder", str(encoder_file), "--results", str(tmp_path), "--seeds", "1"]
    args += ["--cases", "2"]
    labelled = start_transfer(*args, "--labels", "20,all", "--min-steps", "5")
    _, err = labelled.communicate(timeout=600)
    assert labelled.returncode == 0, err
    classifier = tmp_path / "models" / "classifier_case2.keras"
    assert classifier.exists()  # the "all" runs are transfer's own runs, saved models and all

    again = start_transfer(*args)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert finished_runs(out) == []  # found done, as the label stage left it
    few = tmp_path / "transfer" / "runs" / "labels20" / "case2_seed0.json"
    kept = few.read_bytes()

    overwritten = start_transfer(*args, "--epochs", "2", "--overwrite")
    out, err = overwritten.communicate(timeout=600)
    assert overwritten.returncode == 0, err
    assert finished_runs(out) == [(2, 0)]
    assert few.read_bytes() == kept  # another group of runs: not transfer's to discard


@pytest.mark.parametrize("case_number", [2, 3])
def test_each_run_records_what_training_did_to_its_encoder(case_number, encoder_file, small_data):
    template = load_encoder(encoder_file)
    schedule = cases.Schedule(epochs=1, batch_size=100, learning_rate=1e-2)
    classifier, record = cases.train(template, case_number, 0, small_data, schedule)
    probe = cases.probe_images(small_data)
    assert len(probe) == len(small_data.y_val)  # fewer than PROBE_IMAGES: all of them
    encoder = classifier.get_layer("encoder")
    assert record["dead_code_units_after"] == cases.dead_units(encoder, probe)
    codes = encoder.predict(probe, verbose=0)
    assert record["dead_code_units_after"] == np.mean(np.all(codes == 0, axis=0))
    if CASES[case_number].train_encoder:
        assert record["encoder_weight_change"] > 0  # the jointly trained encoder moved
    else:  # a frozen encoder: not a weight moved, no unit died or woke
        assert record["encoder_weight_change"] == 0
        assert record["dead_code_units_before"] == record["dead_code_units_after"]
