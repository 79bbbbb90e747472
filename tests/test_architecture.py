"""The architecture factor end to end on a small real subset: tune, transfer, report."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import predict_elsewhere

from kfashion import data, report, transfer, tune

RESULTS = Path(__file__).resolve().parents[1] / "results"
QUICK = ["--subset", "1200", "--epochs", "1"]


@pytest.mark.usefixtures("debian_data_dir")
def test_architecture_sweep_feeds_transfer_and_the_report(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for name in ("sweep.json", "transfer.json", "baseline.json"):  # the reference run beside it
        shutil.copy(RESULTS / name, results / name)
    variant = results / report.ARCHITECTURE_DIR
    sweep_args = [*QUICK, "--factors", "architecture", "--select", "best", "--workers", "1",
                  "--directory", str(tmp_path / "tuning"), "--results", str(variant)]  # fmt: skip
    tune.main(sweep_args)
    sweep = json.loads((variant / "sweep.json").read_text())
    networks = [t["config"].get("architecture", "course") for t in sweep["trials"]]
    assert networks == ["course", "course", "linear_code"]
    assert [t["parameters"] for t in sweep["trials"]] == [116_417, 116_417, 214_225]
    assert (variant / "figures" / "sweep_architecture.png").stat().st_size > 10_000
    assert not (variant / "figures" / "mse_vs_pca.png").exists()  # no latent sizes swept

    # the variant's encoder, whichever was selected, works as transfer's --encoder
    encoder = variant / "models" / "encoder.keras"
    # frozen cases train a linear head on codes: 10 epochs of 1,000 images take seconds
    transfer_args = ["--subset", "1200", "--epochs", "10", "--seeds", "1", "--cases", "2,4",
                     "--encoder", str(encoder), "--results", str(variant)]  # fmt: skip
    transfer.main(transfer_args)
    frozen = json.loads((variant / "transfer.json").read_text())
    assert set(frozen["cases"]) == {"2", "4"}
    assert all(0.25 < r["test_accuracy"] <= 1 for r in frozen["runs"])  # chance: 0.1
    # exporting the finished sweep again keeps the saved files byte for byte, so the
    # transfer runs recorded against the encoder's SHA-256 still count
    saved = encoder.read_bytes()
    tune.main(sweep_args)
    assert encoder.read_bytes() == saved
    transfer.main(transfer_args)  # would be refused had the encoder's digest changed
    images = data.load(subset=1200).x_test[:4]
    assert predict_elsewhere(encoder, images, tmp_path).shape == (4, 64)

    text = report.render(results)
    section = text.split("## Architecture")[1].split("\n## ")[0]
    assert "| linear_code | 0.0 | 214,225 |" in section
    assert "course (the reference run's encoder, dropout 0.1)" in section
    goals = text.split("## Goals")[1].split("\n## ")[0]
    chosen = sweep["selected"]["config"].get("architecture", "course")
    assert f"| {chosen}: test MSE below PCA-64 |" in goals
    assert f"| {chosen}: frozen encoder + linear head above 85% |" in goals
