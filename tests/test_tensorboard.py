"""TensorBoard logs of both stages: a run per sweep seed and per grid run and phase, each with
its curves and its settings for the HParams dashboard (on JAX: tests/test_jax.py)."""

import pytest
from helpers import refused_here, tensorboard_tags

from kfashion import transfer, tune

HPARAMS = {"_hparams_/session_start_info", "_hparams_/session_end_info"}


def expect_runs(found: dict, runs: list[str]) -> None:
    """Each run's folder holds its settings, and its train and validation curves."""
    for run in runs:
        assert HPARAMS <= found[run], (run, found)
        assert "epoch_loss" in found[f"{run}/train"] and "epoch_loss" in found[f"{run}/validation"]


@pytest.mark.usefixtures("debian_data_dir")
def test_both_stages_log_each_run_to_tensorboard(tmp_path):
    logs, results = tmp_path / "logs", tmp_path / "results"
    small = ["--subset", "600", "--epochs", "2", "--seeds", "1", "--tensorboard", str(logs)]
    folders = ["--results", str(results), "--directory", str(tmp_path / "tuning")]
    tune.main([*small, *folders, "--factors", "", "--select", "best", "--workers", "1"])
    expect_runs(tensorboard_tags(logs), ["trial0/seed0"])

    grid_logs = logs / "transfer" / "runs" / "course" / "labelsall"
    transfer.main([*small, *folders, "--cases", "1", "--recipes", "two_phase", "--workers", "1"])
    found = tensorboard_tags(grid_logs)
    final = "case1_two_phase_enc0_seed0"
    expect_runs(found, [f"{final}/head", f"{final}/all"])  # each phase a run of its own
    assert any(run.startswith("cv_case1_two_phase_lr") for run in found)  # the choice's runs


@pytest.mark.parametrize("stage", [tune, transfer])
def test_tensorboard_without_tensorflow_is_refused_in_one_line(
    stage, tmp_path, monkeypatch, capsys
):
    # Keras writes TensorBoard's logs with TensorFlow on every backend: a JAX-only install says
    # so before it trains, not with a traceback after its first run
    import importlib.util

    find_spec = importlib.util.find_spec

    def without_tensorflow(name, *rest):
        return None if name == "tensorflow" else find_spec(name, *rest)

    monkeypatch.setattr(importlib.util, "find_spec", without_tensorflow)
    argv = ["--results", str(tmp_path / "r"), "--directory", str(tmp_path / "t")]
    line = refused_here(stage.main, [*argv, "--tensorboard", str(tmp_path / "logs")], capsys)
    assert line.startswith("kfashion: error: --tensorboard ") and '-e ".[tensorflow]"' in line
    assert not (tmp_path / "logs").exists() and not (tmp_path / "r").exists()
