import json
import os
import re
import signal

import keras
import keras_tuner
import numpy as np
import pytest
from helpers import predict_elsewhere, refused, run_module

from kfashion import data, plots, sweep, tune
from kfashion.records import hold_lock

QUICK = ["--subset", "1200", "--epochs", "1"]


def start_tune(*args):
    return run_module("kfashion.tune", *args)


def started_trials(output: str) -> list[str]:
    """Trial ids in the order their "started" lines appear (from any worker)."""
    return re.findall(r"trial (\d+)/\d+ started: ", output)


def test_design_has_the_fourteen_reference_trials():
    design = sweep.make_design()
    configs = [tuple(sorted(point.config.items())) for point in design]
    assert len(design) == len(set(configs)) == 14
    assert design[0].factor == "base" and design[0].config == sweep.BASE
    for factor in sweep.REFERENCE_FACTORS:
        values = sweep.FACTORS[factor]
        swept = {p.config[factor] for p in design if p.factor in (factor, "base")}
        assert swept == set(values)
        for point in design:
            if point.factor == factor:
                changed = {k for k in sweep.BASE if point.config[k] != sweep.BASE[k]}
                assert changed == {factor} and point.value == point.config[factor]
    assert sweep.REFERENCE_CHOICE in [p.config for p in design]
    assert [p.factor for p in sweep.make_design(["optimizer"])] == ["base", "optimizer"]


def test_architecture_factor_compares_both_networks_without_dropout():
    design = sweep.make_design(["architecture"])
    assert [(p.factor, p.value) for p in design] == [
        ("base", None),
        ("architecture", "course"),
        ("architecture", "linear_code"),
    ]
    assert design[1].config == {**sweep.BASE, "dropout": 0.0}  # implied "course" left out
    assert design[2].config == {**sweep.BASE, "dropout": 0.0, "architecture": "linear_code"}
    # with dropout swept too, its p=0.0 trial is the course point: not run twice
    both = sweep.make_design(["dropout", "architecture"])
    assert len(both) == 6 and [p.value for p in both if p.factor == "architecture"] == [
        "linear_code"
    ]
    assert [sweep.setting(p.config, "architecture") for p in design] == [
        "course",
        "course",
        "linear_code",
    ]


def test_linear_code_hypermodel_builds_a_linear_bottleneck():
    hp = keras_tuner.HyperParameters()
    hp.values["architecture"] = "linear_code"
    model = sweep.AutoencoderHyperModel().build(hp)
    encoder = model.get_layer("encoder")
    assert encoder.output_shape == (None, 64) and encoder.layers[-1].name == "latent"
    assert encoder.layers[-1].activation is keras.activations.linear  # no ReLU on the code
    assert model.count_params() == 105_216 + 109_009


def test_hypermodel_builds_from_default_hyperparameters():
    model = sweep.AutoencoderHyperModel().build(keras_tuner.HyperParameters())
    assert model.count_params() == 56_064 + 60_353
    assert isinstance(model.optimizer, keras.optimizers.Adam)


def test_oracle_hands_out_the_design_in_order_then_stops(tmp_path):
    design = sweep.make_design(["learning_rate"])
    oracle = sweep.DesignOracle(design)
    oracle._set_project_dir(str(tmp_path), "p")
    # one trial per tuner id, as parallel workers would ask
    trials = [oracle.create_trial(f"tuner{i}") for i in range(len(design) + 1)]
    expected = [{"factor": p.factor, **sweep.IMPLIED, **p.config} for p in design]
    assert [t.hyperparameters.values for t in trials[:-1]] == expected
    assert trials[-1].status == "STOPPED"


def test_first_non_finite():
    assert sweep.first_non_finite({"loss": [1.0, 0.5], "val_loss": [1.0, 0.4]}) is None
    assert "epoch 2" in sweep.first_non_finite({"loss": [1.0, float("nan")]})
    assert "val_loss" in sweep.first_non_finite({"loss": [1.0], "val_loss": [float("inf")]})


class ExplodingHyperModel(sweep.AutoencoderHyperModel):
    """SGD with a huge learning rate when the trial varies the optimizer: the loss diverges."""

    def build(self, hp):
        model = super().build(hp)
        if hp.get("factor") == "optimizer":
            model.compile(optimizer=keras.optimizers.SGD(1e12), loss="mse")
        return model


def test_diverging_trial_fails_and_the_sweep_goes_on(tmp_path):
    dataset = data.load(subset=600)
    design = sweep.make_design(["optimizer"])
    tuner = sweep.SweepTuner(
        oracle=sweep.DesignOracle(design),
        hypermodel=ExplodingHyperModel(verbose=0),
        directory=str(tmp_path),
        project_name="sweep",
    )
    tuner.search(dataset.x_train, dataset.x_train, validation_data=(dataset.x_val,) * 2, epochs=3)
    base, exploded = (tuner.oracle.get_trial(str(i)) for i in range(2))
    assert base.status == "COMPLETED"
    assert exploded.status == "FAILED" and "diverged" in exploded.message
    history = json.loads((tmp_path / "sweep" / "trial_1" / sweep.HISTORY_FILE).read_text())
    assert history["diverged"] and len(history["history"]["loss"]) < 3  # stopped early
    record = {"value": "sgd", "is_base": False, "status": "FAILED", "history": history["history"]}
    plots.plot_factor("optimizer", [record], tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 0


@pytest.mark.usefixtures("debian_data_dir")
def test_quick_full_sweep_on_a_chief_and_two_workers_writes_every_output(tmp_path, capsys):
    results = tmp_path / "results"
    tune.main([*QUICK, "--workers", "2", "--directory", str(tmp_path / "tuning"),
               "--results", str(results)])  # fmt: skip
    output = capsys.readouterr().out
    assert sorted(started_trials(output)) == [f"{i:02d}" for i in range(14)]  # each once
    assert "[tuner0] trial" in output and "[tuner1] trial" in output  # both workers ran trials
    assert "KERASTUNER_ORACLE_IP" not in os.environ  # the chief's settings did not leak
    summary = json.loads((results / "sweep.json").read_text())
    trials = summary["trials"]
    assert len(trials) == 14 and all(t["status"] == "COMPLETED" for t in trials)
    for trial in trials:
        assert len(trial["history"]["loss"]) == len(trial["history"]["val_loss"]) == 1
        assert trial["best_epoch"] == 1 and 0 < trial["test_mse"] < 0.3 and trial["seconds"] > 0
    assert summary["selected"]["config"] == sweep.REFERENCE_CHOICE
    assert summary["provenance"]["command"].startswith("python -m kfashion.tune --subset 1200")
    assert set(summary["pca_test_mse"]) == {"16", "32", "64", "128", "256"}
    for factor in sweep.REFERENCE_FACTORS:
        assert (results / "figures" / f"sweep_{factor}.png").stat().st_size > 10_000
    for name in ("reconstructions", "mse_vs_pca"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 10_000
    encoder = keras.saving.load_model(results / "models" / "encoder.keras")
    images = data.load(subset=1200).x_test[:8]
    expected = encoder.predict(images, verbose=0)
    assert expected.shape == (8, 64)
    np.testing.assert_allclose(
        predict_elsewhere(results / "models" / "encoder.keras", images, tmp_path),
        expected,
        atol=1e-6,
    )
    autoencoder = keras.saving.load_model(results / "models" / "autoencoder.keras")
    selected = summary["selected"]["test_mse"]
    dataset = data.load(subset=1200)
    measured = autoencoder.evaluate(dataset.x_test, dataset.x_test, verbose=0)
    assert measured == pytest.approx(selected, rel=1e-4)


@pytest.mark.usefixtures("debian_data_dir")
def test_killed_sweep_resumes_without_rerunning_finished_trials(tmp_path):
    folders = ["--directory", str(tmp_path / "tuning"), "--results", str(tmp_path / "results")]
    args = [*QUICK, "--factors", "learning_rate,batch_size", "--select", "best", *folders,
            "--workers", "1"]  # fmt: skip
    first = start_tune(*args)
    seen = []
    for line in first.stdout:
        seen.append(line)
        if "trial 2/5 started" in line:
            first.send_signal(signal.SIGKILL)  # mid-trial, as a power cut would
            break
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert not (tmp_path / "results" / "sweep.json").exists()
    assert started_trials("".join(seen)) == ["0", "1", "2"]

    second = start_tune(*args)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    assert started_trials(out) == ["2", "3", "4"]  # the interrupted one again, then the rest
    summary = json.loads((tmp_path / "results" / "sweep.json").read_text())
    assert [t["status"] for t in summary["trials"]] == ["COMPLETED"] * 5

    message = refused(start_tune(*args, "--epochs", "2"))  # the last --epochs wins
    assert "other epochs" in message and "--overwrite" in message


def test_second_tuner_on_the_same_directory_is_refused(tmp_path):
    lock = hold_lock(tmp_path / ".kfashion.lock", "test")
    try:
        message = refused(start_tune(*QUICK, "--directory", str(tmp_path)))
    finally:
        lock.close()
    assert "in use by process" in message


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--epochs", "0"], "--epochs"),
        (["--factors", "colour"], "unknown factor 'colour'"),
        (["--factors", "latent_dim"], "--select reference needs the dropout factor"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, args, fragment):
    assert fragment in refused(start_tune(*args, "--directory", str(tmp_path / "t")))
    assert not (tmp_path / "t").exists()


@pytest.mark.usefixtures("debian_data_dir")
def test_ctrl_c_stops_with_a_line_not_a_traceback(tmp_path):
    process = start_tune(*QUICK, "--factors", "optimizer", "--select", "best", "--workers", "1",
                       "--directory", str(tmp_path), "--results", str(tmp_path / "r"))  # fmt: skip
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
def test_killed_worker_is_restarted_and_its_trial_rerun(tmp_path):
    folders = ["--directory", str(tmp_path / "tuning"), "--results", str(tmp_path / "results")]
    chief = start_tune(*QUICK, "--factors", "learning_rate,batch_size", "--select", "best",
                     "--workers", "2", *folders)  # fmt: skip
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
    assert sorted(set(starts)) == ["0", "1", "2", "3", "4"]
    assert starts.count(killed) == 2 and len(starts) == 6  # only the killed trial ran again
    summary = json.loads((tmp_path / "results" / "sweep.json").read_text())
    assert [t["status"] for t in summary["trials"]] == ["COMPLETED"] * 5
