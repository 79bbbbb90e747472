import json
import os
import re
import signal
import subprocess
import sys
import time
import types

import keras
import keras_tuner
import numpy as np
import pytest
from helpers import assert_picture, refused_here, run_module

from kfashion import config, data, tune
from kfashion.core.errors import UserError
from kfashion.core.guards import hold_lock
from kfashion.engine import parallel
from kfashion.pretraining import sweep, sweep_export
from kfashion.rendering import plots

SMALL = ["--subset", "600", "--epochs", "1"]
# `python -m kfashion.tune ARGS` in a process that dies where KerasTuner would end a trial
KILLED_IN_END_TRIAL = (
    "import os, runpy, sys, keras_tuner\n"
    "keras_tuner.Oracle.end_trial = lambda self, trial: os._exit(137)\n"
    "sys.argv = ['kfashion.tune', *sys.argv[1:]]\n"
    "runpy.run_module('kfashion.tune', run_name='__main__', alter_sys=True)\n"
)


def start_tune(*args):
    return run_module("kfashion.tune", *args)


def started_trials(output: str) -> list[str]:
    """Trial ids in the order their "started" lines appear (from any worker)."""
    return re.findall(r"trial (\d+)/\d+ started: ", output)


def finished_seeds(output: str) -> list[tuple[str, int]]:
    return [(t, int(s)) for t, s in re.findall(r"trial (\d+)/\d+ seed (\d+): best", output)]


def test_design_has_the_fourteen_reference_points():
    points = config.make_design()
    configs = [tuple(sorted(point.config.items())) for point in points]
    assert len(points) == len(set(configs)) == 14
    assert points[0].factor == "base" and points[0].config == config.BASE
    for factor in config.REFERENCE_FACTORS:
        swept = {p.config[factor] for p in points if p.factor in (factor, "base")}
        assert swept == set(config.FACTORS[factor])
        for point in points:
            if point.factor == factor:
                changed = {k for k in config.BASE if point.config[k] != config.BASE[k]}
                assert changed == {factor} and point.value == point.config[factor]
    assert config.REFERENCE_CHOICE in [p.config for p in points]
    assert [p.factor for p in config.make_design(["optimizer"])] == ["base", "optimizer"]


def test_architecture_factor_compares_both_networks_without_dropout():
    points = config.make_design(["architecture"])
    assert [(p.factor, p.value) for p in points] == [
        ("base", None),
        ("architecture", "course"),
        ("architecture", "linear_code"),
    ]
    assert points[1].config == {**config.BASE, "dropout": 0.0}  # implied "course" left out
    assert points[2].config == {**config.BASE, "dropout": 0.0, "architecture": "linear_code"}
    both = config.make_design(["dropout", "architecture"])  # p=0.0's course point: once
    assert [p.value for p in both if p.factor == "architecture"] == ["linear_code"]


def test_hypermodel_builds_from_default_hyperparameters_and_each_seed_differs():
    hypermodel = sweep.AutoencoderHyperModel()
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert model.count_params() == 56_064 + 60_353
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    again, other = (
        hypermodel.build(keras_tuner.HyperParameters(), seed=0),
        hypermodel.build(keras_tuner.HyperParameters(), seed=1),
    )
    assert (again.get_weights()[0] == model.get_weights()[0]).all()
    assert not (other.get_weights()[0] == model.get_weights()[0]).all()
    hp = keras_tuner.HyperParameters()
    hp.values["architecture"] = "linear_code"
    assert hypermodel.build(hp).count_params() == 105_216 + 109_009


def test_oracle_hands_out_the_design_in_order_then_stops(tmp_path):
    points = config.make_design(["learning_rate"])
    oracle = sweep.DesignOracle(points)
    oracle._set_project_dir(str(tmp_path), "p")
    trials = [oracle.create_trial(f"tuner{i}") for i in range(len(points) + 1)]
    expected = [{"factor": p.factor, **config.IMPLIED, **p.config} for p in points]
    assert [t.hyperparameters.values for t in trials[:-1]] == expected
    assert trials[-1].status == "STOPPED"


def test_first_non_finite():
    assert sweep.first_non_finite({"loss": [1.0, 0.5], "val_loss": [1.0, 0.4]}) is None
    assert "epoch 2" in sweep.first_non_finite({"loss": [1.0, float("nan")]})
    assert "val_loss" in sweep.first_non_finite({"loss": [1.0], "val_loss": [float("inf")]})


class ExplodingHyperModel(sweep.AutoencoderHyperModel):
    """SGD with a huge learning rate when the trial varies the optimizer: the loss diverges."""

    def build(self, hp, seed=0):
        model = super().build(hp, seed)
        if hp.get("factor") == "optimizer":
            model.compile(optimizer=keras.optimizers.SGD(1e12), loss="mse")
        return model


@pytest.mark.usefixtures("debian_data_dir")
def test_trials_keep_each_seed_and_a_diverging_trial_fails_while_the_sweep_goes_on(tmp_path):
    dataset = data.load(subset=600)
    points = config.make_design(["optimizer"])

    def search():
        tuner = sweep.SweepTuner(
            design=points,
            seeds=[0, 1],
            test_data=(dataset.x_test, dataset.x_test),
            rank_images=dataset.x_val,
            probe_data=sweep.probe_data(dataset),
            oracle=sweep.DesignOracle(points),
            hypermodel=ExplodingHyperModel(verbose=0),
            directory=str(tmp_path),
            project_name="sweep",
        )
        tuner.search(
            dataset.x_train, dataset.x_train, validation_data=(dataset.x_val,) * 2, epochs=3
        )
        return tuner

    tuner = search()
    base, exploded = (tuner.oracle.get_trial(str(i)) for i in range(2))
    assert base.status == "COMPLETED" and exploded.status == "FAILED"
    assert "seed 0: loss became nan" in exploded.message
    runs = [
        json.loads((tmp_path / "sweep" / "trial_0" / f"seed{s}.json").read_text()) for s in (0, 1)
    ]
    assert base.score == pytest.approx((runs[0]["best_val_loss"] + runs[1]["best_val_loss"]) / 2)
    assert (tmp_path / "sweep" / "trial_0" / "seed1.keras").exists()
    diverged = json.loads((tmp_path / "sweep" / "trial_1" / "seed0.json").read_text())
    assert diverged["diverged"] and len(diverged["history"]["loss"]) < 3  # stopped early
    record = {"value": "sgd", "is_base": False, "status": "FAILED", "seeds": [diverged]}
    plots.plot_factor("optimizer", [record], tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 0
    # the main effects: the diverged level keeps its label with no dot, beside the base's two
    levels = [
        {"label": "adam", "is_base": True, "values": sweep_export.best_losses({"seeds": runs})},
        {"label": "sgd", "is_base": False, "values": sweep_export.best_losses(record)},
    ]
    assert len(levels[0]["values"]) == 2 and levels[1]["values"] == []
    fig = plots.plot_main_effects({"optimizer": levels}, tmp_path / "effects.png", "effects")
    (ax,) = fig.axes
    assert [label.get_text() for label in ax.get_xticklabels()] == ["adam", "sgd"]
    dots = [line for line in ax.lines if line.get_marker() == "."]
    assert [list(line.get_xdata()) for line in dots] == [[0, 0]]  # adam's two seeds
    assert len(ax.containers) == 1  # adam's mean and interval; none for sgd
    assert_picture(tmp_path / "effects.png", colours=3)


def test_every_band_and_bar_is_the_95_percent_t_interval_of_the_mean():
    from scipy import stats

    curves = [[1.0, 2.0], [2.0, 4.0], [3.0, 9.0]]  # at the first x: mean 2, sd 1
    half = stats.t.ppf(0.975, 2) / np.sqrt(3)
    fig, ax = plots.subplots(figsize=(3, 3))
    plots.band(ax, [1, 2], curves, "C0")
    edges = ax.collections[0].get_paths()[0].vertices  # the band's outline
    at_first = sorted({round(y, 9) for x, y in edges if x == 1})
    assert at_first == [round(2 - half, 9), round(2 + half, 9)]  # not the seeds' range, 1 to 3
    bars = plots.t_bars([[1.0, 2.0, 3.0], [5.0]])  # below and above each mean
    assert np.allclose(bars, [[half, 0], [half, 0]])


@pytest.mark.usefixtures("debian_data_dir")
def test_killed_sweep_resumes_at_the_first_unfinished_seed(tmp_path, capsys):
    folders = ["--directory", str(tmp_path / "tuning"), "--results", str(tmp_path / "results")]
    args = [
        *SMALL,
        "--seeds",
        "2",
        "--factors",
        "optimizer",
        "--select",
        "best",
        *folders,
        "--workers",
        "1",
    ]
    first = start_tune(*args)
    seen = []
    for line in first.stdout:
        seen.append(line)
        if "trial 0/2 seed 0: best" in line:
            first.send_signal(signal.SIGKILL)  # during seed 1, as a power cut would
            break
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert not (tmp_path / "results" / "sweep.json").exists()

    capsys.readouterr()
    tune.main(args)  # the rerun, in this process (a fresh one pays TensorFlow's import again)
    assert finished_seeds(capsys.readouterr().out) == [("0", 1), ("1", 0), ("1", 1)]  # seed 0 kept
    summary = json.loads((tmp_path / "results" / "sweep.json").read_text())
    assert [t["status"] for t in summary["trials"]] == ["COMPLETED"] * 2
    assert all(len(t["seeds"]) == 2 for t in summary["trials"])
    written = (tmp_path / "results" / "sweep.json").read_bytes()
    tune.main(args)  # again, with nothing to train: the finished sweep's file stays as it was
    assert (tmp_path / "results" / "sweep.json").read_bytes() == written
    assert "sweep.json holds this sweep already: kept as it was" in capsys.readouterr().out

    capsys.readouterr()
    tune.main([*args, "--seeds", "3"])  # more seeds (the last --seeds wins): only theirs train
    assert finished_seeds(capsys.readouterr().out) == [("0", 2), ("1", 2)]
    summary = json.loads((tmp_path / "results" / "sweep.json").read_text())
    assert [t["status"] for t in summary["trials"]] == ["COMPLETED"] * 2
    assert all([r["seed"] for r in t["seeds"]] == [0, 1, 2] for t in summary["trials"])

    message = refused_here(tune.main, [*args, "--seeds", "1"], capsys)  # fewer: a new sweep
    assert "other seeds" in message and "--overwrite" in message

    more = [*args, "--seeds", "3", "--factors", "optimizer,learning_rate"]  # points after its own
    tune.main(more)
    trained = [(trial, seed) for trial in ("2", "3") for seed in (0, 1, 2)]
    assert finished_seeds(capsys.readouterr().out) == trained  # the new points' seeds alone
    summary = json.loads((tmp_path / "results" / "sweep.json").read_text())
    assert [t["factor"] for t in summary["trials"]] == ["base", "optimizer", *["learning_rate"] * 2]
    moved = [*args, "--seeds", "3", "--factors", "learning_rate,optimizer"]  # another order
    assert "other design" in refused_here(tune.main, moved, capsys)


@pytest.mark.usefixtures("debian_data_dir")
def test_a_kill_after_a_trials_last_seed_leaves_no_trial_running(tmp_path, capsys):
    """Killed after the last seed's record is written but before KerasTuner ends the trial
    (`Oracle.end_trial` exits the process, as a power cut there would), the rerun ends the
    trial from its records instead of exporting it as running."""
    args = [*SMALL, "--seeds", "1", "--factors", "", "--select", "best", "--workers", "1"]
    args += ["--directory", str(tmp_path / "tuning"), "--results", str(tmp_path / "results")]
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_IN_END_TRIAL, *args], capture_output=True, text=True
    )
    assert killed.returncode == 137, killed.stderr[-2000:]
    assert finished_seeds(killed.stdout) == [("0", 0)]

    tune.main(args)  # the rerun, in this process
    assert finished_seeds(capsys.readouterr().out) == []  # nothing trained again
    (trial,) = json.loads((tmp_path / "results" / "sweep.json").read_text())["trials"]
    assert trial["status"] == "COMPLETED" and trial["best_val_loss"] is not None


def test_second_tuner_on_the_same_directory_is_refused(tmp_path, capsys):
    with hold_lock(tmp_path / ".kfashion.lock", "test"), pytest.raises(SystemExit) as exit_info:
        tune.main([*SMALL, "--directory", str(tmp_path), "--results", str(tmp_path / "r")])
    assert exit_info.value.code == 2 and "in use by process" in capsys.readouterr().err


@pytest.mark.usefixtures("debian_data_dir")
def test_ctrl_c_stops_with_a_line_not_a_traceback(tmp_path):
    process = start_tune(
        *SMALL,
        "--factors",
        "optimizer",
        "--select",
        "best",
        "--workers",
        "1",
        "--directory",
        str(tmp_path),
        "--results",
        str(tmp_path / "r"),
    )
    for line in process.stdout:
        if " started: " in line:
            process.send_signal(signal.SIGINT)
            break
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == [
        "kfashion: interrupted; run the same command again to continue"
    ]


@pytest.mark.usefixtures("debian_data_dir")
def test_killed_worker_is_restarted_and_its_trial_continues(tmp_path):
    folders = ["--directory", str(tmp_path / "tuning"), "--results", str(tmp_path / "results")]
    chief = start_tune(
        *SMALL,
        "--seeds",
        "1",
        "--factors",
        "learning_rate",
        "--select",
        "best",
        "--workers",
        "2",
        *folders,
    )
    pids, killed, lines = {}, None, []
    for line in chief.stdout:
        lines.append(line)
        started = re.match(r"started worker (tuner\d) \(process (\d+)\)", line)
        if started:
            pids.setdefault(started[1], int(started[2]))
        if killed is None and line.startswith("[tuner0] trial") and " started: " in line:
            killed = started_trials(line)[0]
            os.kill(pids["tuner0"], signal.SIGKILL)  # mid-trial
    chief.wait(timeout=600)
    output = "".join(lines)
    assert chief.returncode == 0, output + chief.stderr.read()
    assert "exited with code -9; starting it again" in output
    starts = started_trials(output)
    assert sorted(set(starts)) == ["0", "1", "2"]
    assert starts.count(killed) == 2 and len(starts) == 4  # only the killed trial ran again
    summary = json.loads((tmp_path / "results" / "sweep.json").read_text())
    assert [t["status"] for t in summary["trials"]] == ["COMPLETED"] * 3


def test_a_worker_that_keeps_failing_ends_the_search_in_one_line(capsys):
    # a worker that dies at once (no such module) is restarted, then the chief's search, here
    # a wait of a minute, is interrupted and ends in the error the command prints
    def wait_a_minute():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # an interrupt from the watching thread lands
            time.sleep(0.1)  # between short sleeps, as between KerasTuner's steps

    # the watching thread interrupts as Ctrl-C does, which a command's handler receives
    # (`errors.exit_on_user_error`); pytest started in the background (`&`) ignores SIGINT
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(UserError, match=r"worker tuner0 keeps failing .*output is above"):
            parallel.run_as_chief(wait_a_minute, 1, [], "kfashion.no_such_module")
    finally:
        signal.signal(signal.SIGINT, handler)
    out = capsys.readouterr().out
    assert out.count("exited with code 1; starting it again") == config.WORKER_RESTARTS
    assert "No module named kfashion.no_such_module" in out


def test_a_lone_pending_seed_takes_the_compiled_path_where_epochs_compile(monkeypatch):
    """A resume with one seed left (or --seeds 1) on a GPU trains it as its siblings were:
    in the compiled program, whose image orders are drawn from its seed alone."""
    from kfashion.engine import compiled_fit, training

    class Compiled(Exception):
        pass

    def fit_seeds(models, *args, seeds, **kwargs):
        raise Compiled(seeds)

    monkeypatch.setattr(training, "compiles_whole_epochs", lambda: True)
    monkeypatch.setattr(compiled_fit, "fit_seeds", fit_seeds)
    tuner = sweep.SweepTuner.__new__(sweep.SweepTuner)  # only what _train reads
    tuner.hypermodel = sweep.AutoencoderHyperModel(verbose=0)
    tuner.tensorboard = None
    trial = types.SimpleNamespace(hyperparameters=sweep.search_space(), trial_id="0")
    with pytest.raises(Compiled, match=r"\[2\]"):
        next(tuner._train(trial, [2], ([],), {"epochs": 1}))


def test_a_worker_does_not_check_the_worker_count_it_was_not_given(monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")  # a worker of a chief elsewhere
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    args = tune.parse_args(["--workers", "100000"])  # a worker's default may not fit here
    assert len(tune.design_from_args(args)) == 14
    monkeypatch.delenv("KERASTUNER_ORACLE_IP")
    with pytest.raises(UserError, match="--workers 100000"):
        tune.design_from_args(args)


def test_a_new_architecture_sweep_names_the_grid_runs_made_from_its_encoders(tmp_path, capsys):
    """The grid keeps the architecture comparison's runs in the folder above it
    (transfer/runs/linear_code/...): a new sweep there says so up front, counting only the
    runs whose record names an encoder the folder holds now."""
    from kfashion.core import layout
    from kfashion.core.files import file_digest

    variant = tmp_path / layout.ARCHITECTURE
    encoder = layout.encoder_seed(variant / "models", 0)
    encoder.parent.mkdir(parents=True)
    encoder.write_bytes(b"an encoder the sweep exported")
    runs = layout.grid_runs(tmp_path, "linear_code", "all")
    runs.mkdir(parents=True)
    mine = {"encoder_sha256": file_digest(encoder)}
    (runs / "case1_joint_enc0_seed0.json").write_text(json.dumps(mine))
    (runs / "case1_joint_enc0_seed1.json").write_text(json.dumps({"encoder_sha256": "other"}))
    tune.warn_about_transfer_runs(variant)
    note = capsys.readouterr().out
    assert f"the transfer runs in {tmp_path / 'transfer' / 'runs'} include 1 made" in note, note
    tune.warn_about_transfer_runs(tmp_path)  # the main sweep's folder holds no such encoder
    assert capsys.readouterr().out == ""
    # the main sweep's own encoder, and a run of its own grid made from it (`study`)
    own = layout.encoder_seed(tmp_path / "models", 0)
    own.parent.mkdir()
    own.write_bytes(b"the main sweep's encoder")
    course = layout.grid_runs(tmp_path, "course", "all")
    course.mkdir(parents=True)
    record = {"encoder_sha256": file_digest(own)}
    (course / "case1_joint_enc0_seed0.json").write_text(json.dumps(record))
    tune.warn_about_transfer_runs(tmp_path)
    assert f"the transfer runs in {tmp_path / 'transfer' / 'runs'} include 1 made" in (
        capsys.readouterr().out
    )
