import json
import signal

import keras
import numpy as np
import pytest
from helpers import FINAL, compile_settings, finished_runs, refused_here, run_module

from kfashion import config, data, transfer
from kfashion.config import CASES
from kfashion.core import layout, models, saved_models
from kfashion.core.errors import UserError
from kfashion.core.guards import hold_lock
from kfashion.core.saved_models import load_encoder
from kfashion.finetuning import cases, grid, grid_tuner

SMALL = ["--subset", "600", "--epochs", "1", "--workers", "1"]  # in this process


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


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


def train(template, case, recipe, data_, epochs=1, rate=1e-2, split=None):
    split = split or cases.whole_split(data_)
    probe = cases.probe_images(data_)
    return cases.train(template, case, recipe, rate, 0, split, epochs, 100, probe)


@pytest.mark.parametrize("case_number", [1, 2, 3, 4, 5])
def test_cases_train_only_what_they_should(case_number, encoder_file, small_data):
    template = load_encoder(encoder_file)
    trains = CASES[case_number].train_encoder
    classifier = cases.make_classifier(template, case_number, seed=0, train_encoder=trains)
    cases.compile_classifier(classifier, 1e-2, 10)
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
    if trains:
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
    fast, record = train(template, case_number, "frozen", small_data, epochs=2)
    whole = cases.make_classifier(template, case_number, 0, train_encoder=False)
    cases.compile_classifier(whole, 1e-2, cases.steps(500, 100, 2))
    keras.utils.set_random_seed(0)  # as cases.fit_phase does before fitting
    history = whole.fit(
        small_data.x_train,
        small_data.y_train,
        epochs=2,
        batch_size=100,
        validation_data=(small_data.x_val, small_data.y_val),
        callbacks=[cases.best_epoch_kept(2)],
        verbose=0,
    )
    for name in ("loss", "val_accuracy"):
        np.testing.assert_allclose(record["history"][name], history.history[name], rtol=1e-4)
    for a, b in zip(weights_of(fast), weights_of(whole), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert record["val_accuracy"] == max(history.history["val_accuracy"])


def test_the_two_phase_recipe_trains_the_head_alone_first_then_every_layer(
    encoder_file, small_data
):
    template = load_encoder(encoder_file)
    classifier, record = train(template, 1, "two_phase", small_data, epochs=3, rate=1e-3)
    assert record["phase_epochs"] == [1, 2] and len(record["history"]["val_accuracy"]) == 3
    assert record["encoder_weight_change"] > 0  # the second phase moved the encoder
    assert 2 <= record["best_epoch"] <= 3  # the epoch kept is one of the last phase's
    assert record["val_accuracy"] == max(record["history"]["val_accuracy"][1:])
    # phase one alone (one epoch): the encoder stays where it started
    _, head_only = train(template, 1, "two_phase", small_data, epochs=1, rate=0.0)
    assert head_only["phase_epochs"] == [1, 1]


def test_a_run_trained_again_in_the_same_process_gives_the_same_numbers(encoder_file, small_data):
    def outcome(case, recipe, seed, rate):
        split, probe = cases.whole_split(small_data), cases.probe_images(small_data)
        classifier, record = cases.train(template, case, recipe, rate, seed, split, 2, 100, probe)
        scores = cases.test_scores(classifier, small_data)
        del record["seconds"]
        return record, scores["test_loss"], classifier.get_weights()

    template = load_encoder(encoder_file)
    first = outcome(3, "two_phase", 2, 3e-3)
    outcome(1, "joint", 0, 1e-2)  # other runs in between
    again = outcome(3, "two_phase", 2, 3e-3)
    assert first[:2] == again[:2]
    assert all(map(np.array_equal, first[2], again[2]))


def test_fresh_encoders_depend_on_the_seed(encoder_file):
    template = load_encoder(encoder_file)
    first, second = (
        cases.make_classifier(template, 3, seed, True).get_layer("encoder") for seed in (0, 1)
    )
    assert not np.allclose(first.get_weights()[0], second.get_weights()[0])


def test_the_grid_crosses_every_pretraining_seed_with_every_draw():
    cells = grid.plan(["course"], ["100", "all"], [1, 2, 3, 4], ["joint", "two_phase"],
                      [0, 1, 2], grid.draws(["100", "all"], "5"), 2)  # fmt: skip
    choices = [c for c in cells if c.search]
    finals = [c for c in cells if not c.search]
    assert cells[: len(choices)] == choices  # the choices first: the finals take them
    assert len(choices) == 4 * 5 + 4  # each case: one per draw, one with all labels
    few = [c for c in choices if (c.labels, c.case) == ("100", 1)]
    assert [(c.recipe, c.encoder_seed, c.draw) for c in few] == [
        ("joint,two_phase", 0, draw) for draw in range(5)
    ]  # made with the first pretraining seed, on each draw's own labels
    assert {c.recipe for c in choices if c.case in (2, 4)} == {"frozen"}
    assert [c.draw for c in choices if c.labels == "all"] == [None] * 4
    case1 = [c for c in finals if (c.labels, c.case) == ("100", 1)]
    assert [(c.encoder_seed, c.runs, c.recipe) for c in case1] == [
        (seed, [(draw, 0)], None) for seed in (0, 1, 2) for draw in range(5)
    ]  # every pretraining seed on every draw, its recipe and rate the draw's choice
    case3 = [c for c in finals if (c.labels, c.case) == ("all", 3)]
    assert [c.runs for c in case3] == [[(draw, init) for draw in range(5) for init in (0, 1)]]
    assert all(grid.Cell.from_values(c.values()) == c for c in cells)  # as KerasTuner holds it
    assert sum(map(grid.least_runs, choices)) == 2 * (5 * 3 * 4 + 4) + 2 * (5 * 3 * 2 + 2)


def test_each_initialisation_of_a_draw_has_its_own_seed_apart_from_every_draw():
    seeds = {grid.init_seed(draw, init) for draw in range(50) for init in range(3)}
    assert len(seeds) == 150 and {grid.init_seed(draw, 0) for draw in range(50)} == set(range(50))
    cell = grid.Cell("course", "100", 3, "joint", -1, (7,), False, 1e-3, inits=2)
    names = {layout.grid_run("r", cell, *run).name for run in cell.runs}
    assert names == {"case3_joint_random_seed7.json", "case3_joint_random_seed7_init1.json"}


def test_a_choice_at_the_edge_of_the_rates_tried_goes_on_along_the_ladder():
    assert grid.next_rate("joint", {1e-3: 0.80, 3e-3: 0.85}) == 1e-2  # best at the top
    assert grid.next_rate("joint", {1e-3: 0.90, 3e-3: 0.85}) == 3e-4  # best at the bottom
    assert grid.next_rate("joint", {3e-4: 0.8, 1e-3: 0.90, 3e-3: 0.85}) is None  # inside
    assert grid.next_rate("two_phase", {1e-4: 0.8, 1e-3: 0.9}) is None  # the ladder ends
    assert grid.next_rate("joint", {1e-3: 0.9, 3e-3: 0.9}) is None  # a tie: no edge to pass
    assert grid.next_rate("frozen", {3e-2: 0.9, 1e-2: 0.8}) is None


def test_the_best_candidate_wins_and_a_tie_goes_to_the_first_recipe_then_the_lower_rate():
    scores = {("joint", 1e-3): 0.80, ("two_phase", 1e-4): 0.85, ("joint", 3e-3): 0.84}
    assert grid.best_candidate(scores) == ("two_phase", 1e-4) and grid.ties(scores) == []
    tied = {("two_phase", 1e-4): 0.805, ("joint", 3e-3): 0.805, ("joint", 1e-3): 0.805}
    assert grid.best_candidate(tied) == ("joint", 1e-3)
    assert len(grid.ties(tied)) == 3


def test_label_counts_are_parsed_and_checked():
    assert grid.parse_counts("all,1000, 100", 50_000) == ["100", "1000", "all"]
    for bad in ("", "5", "29", "50000", "ten", "100,-3"):
        with pytest.raises(UserError, match="--labels"):
            grid.parse_counts(bad, 50_000)


def test_few_label_runs_see_only_their_labels_and_take_at_least_the_minimum_steps(small_data):
    assert grid_tuner.repeats_for(100, 100, 30, 1000) * 30 >= 1000  # one batch per epoch
    assert grid_tuner.repeats_for(10_000, 100, 30, 1000) == 1  # 3,000 steps already
    cell = grid.Cell("course", "90", 1, "joint", 0, (3,), search=False, rate=1e-3)
    final = grid_tuner.split_for(cell, 3, small_data, 100, 2, 4)
    assert final.x_val is None and final.images == 90 and final.repeats == 2
    assert np.bincount(final.y_train).tolist() == [18] * 10
    pool = {img.tobytes() for img in final.x_train}
    choice = grid.Cell("course", "90", 1, "joint,two_phase", 0, (3,), search=True)
    held = []
    for fold in range(config.FOLDS):
        split = grid_tuner.fold_split(choice, fold, small_data, 100, 2, 4)
        assert split.images == 60 and np.bincount(split.y_val).tolist() == [3] * 10
        assert not split.keep_best
        seen = {img.tobytes() for img in np.concatenate([split.x_train, split.x_val])}
        assert seen == pool  # the choice reads the final runs' labels, and no other
        assert not {i.tobytes() for i in split.x_val} & {i.tobytes() for i in split.x_train}
        held += [img.tobytes() for img in split.x_val]
    assert sorted(held) == sorted(pool)  # each labelled image held out once


def test_killed_grid_keeps_finished_runs_and_more_seeds_add_only_missing(
    tmp_path, encoder_file, capsys
):
    folders = ["--results", str(tmp_path), "--directory", str(tmp_path / "tuning")]
    args = [*SMALL, *folders, "--cases", "2,4", "--random-inits", "1"]
    args += ["--encoder", str(encoder_file)]
    first = start_transfer(*args, "--seeds", "2")
    seen = []
    for line in first.stdout:
        seen.append(line)
        if FINAL.search(line) and line.startswith("course") and "case 4" in line:
            first.send_signal(signal.SIGKILL)  # after case 2's two runs and case 4's first
            break
    first.wait(timeout=60)
    assert finished_runs("".join(seen)) == [(2, 0), (2, 1), (4, 0)]

    capsys.readouterr()
    transfer.main([*args, "--seeds", "3"])  # another grid (KerasTuner's folder anew), here
    out = capsys.readouterr().out
    assert finished_runs(out) == [(2, 2), (4, 1), (4, 2)]  # the rest, from the records
    assert "(choice" not in out  # the choices were read back from their records, not made again
    summary = json.loads((tmp_path / "grid.json").read_text())["classic"]
    assert summary["cases"]["4"]["seeds"] == [0, 1, 2]
    assert summary["runs"][0]["environment"]["backend"] == "tensorflow"
    assert_final_rates_are_the_searchs_choice(tmp_path, summary, (2, 4))

    message = refused_here(transfer.main, [*args, "--seeds", "3", "--epochs", "2"], capsys)
    assert "other epochs" in message and "--overwrite" in message
    other = tmp_path / "other.keras"
    models.build_encoder(latent_dim=32, dropout=0.1).save(other)
    # refused in this process just above: its lock was released, so this one is judged too
    message = refused_here(transfer.main, [*args[:-1], str(other)], capsys)
    assert "from another encoder" in message


def assert_final_rates_are_the_searchs_choice(results, summary, cases) -> None:
    """Each of `cases` chose with all labels, and its final runs trained at the rate its
    choice scored best (grid.json)."""
    found = json.loads((results / "grid.json").read_text())
    made = {c["case"]: c for c in found["choices"] if c["labels"] == "all"}
    for choice in made.values():
        means = {(c["recipe"], c["learning_rate"]): c["mean"] for c in choice["candidates"]}
        assert (choice["recipe"], choice["learning_rate"]) == grid.best_candidate(means)
        assert choice["mean_accuracy"] == max(means.values())
    chosen = {case: c["learning_rate"] for case, c in made.items()}
    assert {c: summary["cases"][str(c)]["learning_rate"] for c in cases} == chosen


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
    with pytest.raises(SystemExit):
        transfer.main(["--encoder", str(colour), "--encoder-seeds", "0,1"])
    assert "one file holds one pretraining seed" in capsys.readouterr().err


def test_records_of_pretraining_seeds_not_loaded_now_are_left_alone(tmp_path):
    """A plain transfer after the whole grid loads seed 0 alone: seed 2's runs are not refused,
    while a run of seed 0 made from another file is."""
    folder = layout.grid_runs(tmp_path, "course", "all")
    folder.mkdir(parents=True)
    for name, seed, digest in (
        ("case1_joint_enc2_seed0.json", 2, "seed two's file"),
        ("case3_joint_random_seed0.json", -1, "seed zero's file"),
    ):
        (folder / name).write_text(json.dumps({"encoder_seed": seed, "encoder_sha256": digest}))
    transfer.check_encoders(tmp_path, [("course", "all")], {"course": {0: "seed zero's file"}})
    record = {"encoder_seed": 0, "encoder_sha256": "another file"}
    (folder / "case1_joint_enc0_seed0.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="made from another encoder"):
        transfer.check_encoders(tmp_path, [("course", "all")], {"course": {0: "seed zero's file"}})


@pytest.mark.usefixtures("debian_data_dir")
def test_a_refused_grid_writes_no_group_settings(tmp_path, encoder_file, capsys):
    """The few-label group passes its check and the all-label one refuses: nothing is written,
    so the command the user meant still runs."""
    held = layout.grid_runs(tmp_path, "course", "all")
    held.mkdir(parents=True)
    (held / "settings.json").write_text(json.dumps({"epochs": 1, "batch_size": 100}))
    args = [*SMALL, "--encoder", str(encoder_file), "--results", str(tmp_path)]
    args += ["--labels", "100,all", "--directory", str(tmp_path / "tuning")]
    message = refused_here(transfer.main, [*args, "--epochs", "2"], capsys)
    assert "other epochs" in message
    assert not layout.grid_runs(tmp_path, "course", "100").exists()


@pytest.mark.usefixtures("debian_data_dir")
def test_a_second_grid_on_the_same_tuner_folder_is_refused(tmp_path, encoder_file, capsys):
    """Each grid starts KerasTuner's project afresh: a second one, even on other results,
    would delete the first one's while it runs."""
    tuning = tmp_path / "tuning"
    args = [*SMALL, "--encoder", str(encoder_file), "--directory", str(tuning)]
    with hold_lock(tuning / f".{layout.GRID_PROJECT}.lock", "held by this test"):
        message = refused_here(transfer.main, [*args, "--results", str(tmp_path / "b")], capsys)
    assert f"{tuning / layout.GRID_PROJECT} is in use" in message
    assert not (tmp_path / "b" / "transfer" / "runs").exists()


@pytest.mark.usefixtures("debian_data_dir")
def test_label_runs_save_the_classifiers_and_overwrite_discards_only_its_own_runs(
    tmp_path, encoder_file, capsys
):
    args = [*SMALL, "--encoder", str(encoder_file), "--results", str(tmp_path), "--seeds", "1"]
    args += ["--cases", "2", "--directory", str(tmp_path / "tuning")]
    transfer.main([*args, "--labels", "50,all", "--min-steps", "5"])
    saved = tmp_path / "models" / "classifier_case2.keras"
    assert compile_settings(saved).get("steps_per_execution", 1) == 1  # every backend predicts
    efficiency = json.loads((tmp_path / "grid.json").read_text())["label_efficiency"]
    assert efficiency["settings"]["labels"] == [50, "all"]
    # a grid without the classic cells keeps those an earlier grid made, the saved classifier's
    transfer.main([*args, "--labels", "50", "--min-steps", "5"])  # found done
    found = json.loads((tmp_path / "grid.json").read_text())
    assert "--labels 50 " in found["provenance"]["command"] + " "
    assert "--labels 50,all" in found["classic"]["provenance"]["command"]
    assert list(found["classic"]["cases"]) == ["2"] and found["label_efficiency"] == efficiency

    capsys.readouterr()
    transfer.main(args)
    assert finished_runs(capsys.readouterr().out) == []  # found done, as the label grid left it
    few = tmp_path / "transfer/runs/course/labels50/case2_frozen_enc0_seed0.json"
    kept = few.read_bytes()

    transfer.main([*args, "--epochs", "2", "--overwrite"])
    assert finished_runs(capsys.readouterr().out) == [(2, 0)]
    assert few.read_bytes() == kept  # another group of runs: not this grid's to discard


@pytest.mark.parametrize("case_number", [2, 3])
def test_each_run_records_what_training_did_to_its_encoder(case_number, encoder_file, small_data):
    template = load_encoder(encoder_file)
    recipe = "joint" if CASES[case_number].train_encoder else "frozen"
    classifier, record = train(template, case_number, recipe, small_data)
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


def test_a_run_counts_as_done_only_at_the_rate_chosen_now_with_the_classifier_it_saved(
    tmp_path, small_data
):
    from kfashion.core import layout
    from kfashion.core.files import write_json

    cell = grid.Cell("course", "all", 2, "frozen", 0, (0,), search=False, rate=3e-3)
    saved = tmp_path / "models" / "classifier_case2.keras"
    tuner = grid_tuner.GridTuner(
        {}, small_data, tmp_path, 1, 100, 10, lambda c: saved, None,
        oracle=grid_tuner.GridOracle([cell], tmp_path), directory=str(tmp_path),
        project_name="p",
    )  # fmt: skip
    path = layout.grid_run(tmp_path, cell, 0)
    write_json(path, {"learning_rate": 1e-3, "classifier_sha256": "x"})
    assert not tuner.done(cell, (0, 0))  # made at another rate: the search chose again
    saved.parent.mkdir()
    saved.write_bytes(b"another run's classifier")
    write_json(path, {"learning_rate": 3e-3, "classifier_sha256": "x"})
    assert not tuner.done(cell, (0, 0))  # the file there is not the one this run saved
    from kfashion.core.files import file_digest

    write_json(path, {"learning_rate": 3e-3, "classifier_sha256": file_digest(saved)})
    assert tuner.done(cell, (0, 0))


def test_a_cell_that_failed_is_one_line_naming_it():
    from keras_tuner.engine.trial import Trial, TrialStatus

    cell = grid.Cell("course", "100", 1, "joint", 0, (0,), search=False, rate=1e-3)
    hp = grid_tuner.search_space([cell])
    hp.values = cell.values()
    failed = Trial(hp, "3", TrialStatus.FAILED, message="Traceback...\nValueError: bad shape")

    class Tuner:  # what check_every_cell_ran reads of KerasTuner's tuner
        class oracle:
            trials = {"3": failed}

    with pytest.raises(UserError) as error:
        transfer.check_every_cell_ran(Tuner)
    message = str(error.value)
    assert "1 cells of the grid failed, first course, 100 labels, case 1, joint at lr" in message
    assert message.endswith("fix the cause and run the same command again")
    assert "ValueError: bad shape" in message and "\n" not in message


def test_a_final_cell_waits_for_its_draws_choice_then_takes_its_recipe_and_rate(tmp_path):
    """The grid's oracle answers a final cell IDLE (ask again) until its draw's choice is on
    disk, then hands it out with that choice's recipe and rate."""
    from keras_tuner.engine.trial import TrialStatus

    from kfashion.core.files import write_json

    choice = grid.Cell("course", "100", 1, "joint,two_phase", 0, (4,), True)
    final = grid.Cell("course", "100", 1, None, 2, (4,), False)
    other = grid.Cell("course", "100", 1, None, 2, (5,), False)  # another draw's
    oracle = grid_tuner.GridOracle([choice, final, other], tmp_path)
    oracle._set_project_dir(str(tmp_path), "p")
    assert oracle.create_trial("tuner0").status == TrialStatus.RUNNING  # the choice
    assert oracle.create_trial("tuner1").status == TrialStatus.IDLE and len(oracle.trials) == 1
    write_json(layout.choice(tmp_path, choice), {"recipe": "two_phase", "learning_rate": 1e-4})
    handed = grid.Cell.from_values(oracle.create_trial("tuner1").hyperparameters.values)
    assert (handed.recipe, handed.rate, handed.encoder_seed) == ("two_phase", 1e-4, 2)
    assert oracle.create_trial("tuner2").status == TrialStatus.IDLE  # draw 5: not chosen yet


@pytest.mark.usefixtures("debian_data_dir")
def test_a_grid_of_other_four_cases_does_not_replace_the_saved_classifiers(
    tmp_path, encoder_file, capsys
):
    """grid.json's classic cases and models/classifier_case*.keras hold the first network's
    and first pretraining seed's four cells; a command whose first ones differ would replace
    them (and a later run of the first command would train its first seeds again): refused."""
    saved = layout.classifier(tmp_path, 1)
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"the classifier an earlier transfer saved")
    record = {
        "settings": {"network": "course", "encoder_seed": 0},
        "cases": {"1": {"recipe": "joint"}},
    }
    (tmp_path / layout.GRID).write_text(json.dumps({"classic": record}))
    args = [*SMALL, "--encoder", str(encoder_file), "--results", str(tmp_path), "--cases", "1"]
    args += ["--directory", str(tmp_path / "tuning")]
    message = refused_here(transfer.main, [*args, "--encoder-seeds", "1"], capsys)
    assert "case 1 of course, pretraining seed 0" in message, message
    assert "--results" in message
    assert saved.read_bytes() == b"the classifier an earlier transfer saved"
    assert not (tmp_path / "transfer" / "runs").exists()  # refused before anything is written


def test_the_other_pretexts_run_at_their_own_label_counts():
    networks = ["course", "course_denoising", "course_contrastive"]
    cells = grid.plan(networks, ["100", "all"], [1, 2, 3, 4, 5], ["joint"], [0],
                      {"100": [0], "1000": [0], "all": [0]}, 2, ["100", "1000"])  # fmt: skip
    ran = {}
    for cell in cells:
        ran.setdefault((cell.network, cell.case), set()).add(cell.labels)
    assert ran["course", 1] == ran["course", 2] == {"100", "all"}
    assert ran["course", 3] == ran["course", 4] == {"100", "1000", "all"}  # every count's
    assert ran["course", 5] == {"100", "1000"}  # the augmentation control: the pretexts'
    for network in networks[1:]:
        assert ran[network, 1] == ran[network, 2] == {"100", "1000"}
    assert grid.plan(networks, ["100"], [1, 3], ["joint"], [0], {"100": [0]}, 2) == grid.plan(
        networks, ["100"], [1, 3], ["joint"], [0], {"100": [0]}, 2, ["100"]
    )


def test_each_label_count_has_its_planned_draws_unless_seeds_are_given():
    planned = grid.draws(["100", "500", "all"], None)
    assert planned["100"] == list(range(config.DRAWS[100]))
    assert planned["500"] == planned["100"]  # between two planned counts: the lower one's
    assert planned["all"] == list(range(config.DRAWS["all"]))
    assert grid.draws(["100", "all"], "2") == {"100": [0, 1], "all": [0, 1]}
    given = grid.draws(["100", "1000", "all"], "100:3,1000:2,all:1")
    assert given == {"100": [0, 1, 2], "1000": [0, 1], "all": [0]}
    for bad in ("0", "x", "100:2", "100:0,all:1", "100:2,all"):
        with pytest.raises(UserError, match="--seeds"):
            grid.draws(["100", "all"], bad)


def test_the_pretraining_seeds_are_those_every_encoder_folder_holds(tmp_path):
    for network, seeds in (("a", (0, 1, 2)), ("b", (0, 1))):
        (tmp_path / network).mkdir()
        for seed in seeds:
            (tmp_path / network / f"encoder_seed{seed}.keras").write_bytes(b"")
    assert saved_models.default_encoder_seeds([tmp_path / "a"]) == [0, 1, 2]
    assert saved_models.default_encoder_seeds([tmp_path / "a", tmp_path / "b"]) == [0, 1]
    assert saved_models.default_encoder_seeds([tmp_path / "a" / "encoder_seed2.keras"]) == [0]


def test_a_final_cell_whose_choice_failed_is_handed_out_to_fail_not_left_waiting(tmp_path):
    from keras_tuner.engine.trial import TrialStatus

    choice = grid.Cell("course", "100", 1, "joint,two_phase", 0, (4,), True)
    final = grid.Cell("course", "100", 1, None, 0, (4,), False)
    oracle = grid_tuner.GridOracle([choice, final], tmp_path)
    oracle._set_project_dir(str(tmp_path), "p")
    trial = oracle.create_trial("tuner0")
    assert oracle.create_trial("tuner1").status == TrialStatus.IDLE  # the choice still runs
    trial.status = TrialStatus.FAILED
    oracle.end_trial(trial)
    handed = oracle.create_trial("tuner1")  # not IDLE for ever: handed out without a choice
    assert handed.status == TrialStatus.RUNNING
    assert grid.Cell.from_values(handed.hyperparameters.values).recipe is None


def test_a_choice_made_among_other_recipes_is_refused_not_taken(tmp_path, small_data):
    from kfashion.core.files import write_json

    choice = grid.Cell("course", "100", 1, "joint", 0, (4,), True)
    write_json(layout.choice(tmp_path, choice), {"candidates": [{"recipe": "two_phase"}]})
    tuner = grid_tuner.GridTuner(
        {}, small_data, tmp_path, 1, 100, 10, lambda c: None, None,
        oracle=grid_tuner.GridOracle([choice], tmp_path), directory=str(tmp_path),
        project_name="p",
    )  # fmt: skip
    with pytest.raises(UserError, match="holds a choice among two_phase; this grid chooses"):
        tuner._choose(choice)


def test_networks_of_one_architecture_share_the_first_ones_random_cases():
    networks = ["course", "linear_code", "course_masked", "course_supervised"]
    assert grid.random_arms(networks) == {
        "course": "course",
        "linear_code": "linear_code",
        "course_masked": "course",
        "course_supervised": "course",
    }
    cells = grid.plan(networks, ["100"], [1, 3], ["joint"], [0], {"100": [0]}, 2)
    random = {cell.network for cell in cells if not config.CASES[cell.case].pretrained}
    pretrained = {cell.network for cell in cells if config.CASES[cell.case].pretrained}
    assert random == {"course", "linear_code"} and pretrained == set(networks)


def test_the_augmentation_control_augments_in_training_only_and_loads_plainly(
    tmp_path, encoder_file, small_data
):
    classifier, record = train(load_encoder(encoder_file), 5, "joint", small_data)
    augmentation = classifier.get_layer("augmentation")
    images = small_data.x_val[:8]
    np.testing.assert_array_equal(augmentation(images, training=False), images)
    assert not np.allclose(augmentation(images, training=True), images)
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(tmp_path / "classifier.keras")
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), classifier.predict(images, verbose=0), atol=1e-5
    )
    assert record["val_accuracy"] is not None


def test_the_augmentation_control_trains_jointly_whatever_the_recipes():
    assert grid.recipes_of(5, ["joint", "two_phase"]) == ["joint"]
    assert grid.recipes_of(5, ["two_phase"]) == ["joint"]
    assert grid.recipes_of(3, ["joint", "two_phase"]) == ["joint", "two_phase"]
    assert grid.recipes_of(4, ["joint", "two_phase"]) == ["frozen"]
    cells = grid.plan(
        ["course", "course_contrastive"],
        ["100"],
        [1, 3, 5],
        ["joint", "two_phase"],
        [0],
        {"100": [0]},
        2,
    )
    control = [cell for cell in cells if cell.case == 5]
    assert {cell.network for cell in control} == {"course"}  # one random arm for both
    assert [cell.recipe for cell in control if cell.search] == ["joint"]
    # the classic four-case comparison (grid.json's "classic", its claims, the classifiers)
    # leaves the control out
    finals = grid.plan(["course"], ["all"], [1, 2, 3, 4, 5], ["joint"], [0], {"all": [0]}, 1)
    main = [cell.case for cell in finals if grid.is_main(cell, "course", 0)]
    assert main == [1, 2, 3, 4]
