import copy
import json
from pathlib import Path

import pytest
from helpers import refused, run_module

from kfashion import baseline, report

RESULTS = Path(__file__).resolve().parents[1] / "results"


def committed(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def test_committed_report_is_what_the_json_renders():
    # results/README.md is generated: a hand edit, or JSON changed without re-rendering, fails
    assert (RESULTS / "README.md").read_text() == report.render(RESULTS)


def test_project_readme_shows_the_current_headline():
    text = (RESULTS.parent / "README.md").read_text()
    block = text.split(report.HEADLINE_START)[1].split(report.HEADLINE_END)[0]
    assert block.strip() == report.headline(RESULTS, "results").strip()


def verdicts(sweep: dict) -> dict:
    return {finding: verdict for finding, verdict, _ in report.sweep_findings(sweep)}


def set_latent_losses(sweep: dict, losses: dict) -> None:
    for trial in sweep["trials"]:
        n = trial["config"]["latent_dim"]
        if trial["factor"] in ("base", "latent_dim") and n in losses:
            trial["best_val_loss"] = losses[n]


def test_latent_size_verdict_follows_the_losses():
    sweep = copy.deepcopy(committed("sweep.json"))
    set_latent_losses(sweep, {16: 0.05, 32: 0.04, 64: 0.03, 128: 0.02, 256: 0.01})
    assert verdicts(sweep)["Loss falls as n grows"] == "**reproduced**"
    set_latent_losses(sweep, {16: 0.05, 32: 0.04, 64: 0.045, 128: 0.02, 256: 0.01})
    assert verdicts(sweep)["Loss falls as n grows"] == "**partly**"
    set_latent_losses(sweep, {16: 0.01, 32: 0.02, 64: 0.03, 128: 0.04, 256: 0.05})
    assert verdicts(sweep)["Loss falls as n grows"] == "**contradicted**"


def test_oscillation_verdict_reads_the_curve():
    sweep = copy.deepcopy(committed("sweep.json"))
    fast = next(t for t in sweep["trials"] if t["value"] == 0.01)
    fast["history"]["val_loss"] = [0.05, 0.04, 0.035, 0.03, 0.028, 0.027, 0.026, 0.025]
    assert verdicts(sweep)["lr 1e-2 oscillates without clear descent"] == "**contradicted**"
    fast["history"]["val_loss"] = [0.04, 0.05, 0.04, 0.05, 0.04, 0.05, 0.04, 0.05]
    assert verdicts(sweep)["lr 1e-2 oscillates without clear descent"] == "**reproduced**"


def test_case_findings_and_goals_follow_the_accuracies():
    transfer = copy.deepcopy(committed("transfer.json"))
    transfer["cases"]["1"]["test_accuracy"]["mean"] = 0.95
    transfer["case1_minus_case3_accuracy"]["ci95"] = [0.01, 0.05]
    found = {finding: verdict for finding, verdict, _ in report.transfer_findings(transfer)}
    assert found["Case 1 has the highest accuracy"] == "**reproduced**"
    goals = "\n".join(report.goals_section(None, transfer, None))
    assert "| case 1 at least 91.0% | 95.00% | met |" in goals


def test_report_of_an_empty_folder_is_refused(tmp_path):
    line = refused(run_module("kfashion.report", "--results", str(tmp_path)))
    assert "neither sweep.json nor transfer.json" in line
    assert not (tmp_path / "README.md").exists()


@pytest.mark.usefixtures("debian_data_dir")
def test_baseline_on_a_small_real_subset(tmp_path):
    baseline.main(["--subset", "1200", "--results", str(tmp_path)])
    scores = json.loads((tmp_path / "baseline.json").read_text())["logistic_regression"]
    assert 0.6 < scores["test_accuracy"] < 0.95  # 1,000 images: well above chance, below full data
    assert scores["iterations"] >= 1


def test_baseline_refuses_a_bad_iteration_count(tmp_path):
    line = refused(run_module("kfashion.baseline", "--max-iter", "0", "--results", str(tmp_path)))
    assert "--max-iter 0" in line


def test_architecture_goals_follow_the_numbers():
    variant = copy.deepcopy(committed("architecture/sweep.json"))
    frozen = copy.deepcopy(committed("architecture/transfer.json"))
    lr = committed("baseline.json")
    variant["selected"]["test_mse"] = variant["pca_test_mse"]["64"] * 0.9
    frozen["cases"]["2"]["test_accuracy"]["mean"] = 0.86
    outcomes = [row[2] for row in report.architecture_goals(variant, frozen, lr)]
    assert outcomes == ["met", "met", "met"]
    variant["selected"]["test_mse"] = variant["pca_test_mse"]["64"] * 1.1
    frozen["cases"]["2"]["test_accuracy"]["mean"] = lr["logistic_regression"]["test_accuracy"]
    outcomes = [row[2] for row in report.architecture_goals(variant, frozen, lr)]
    assert outcomes == ["not met", "not met", "not met"]
