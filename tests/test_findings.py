"""Findings are judged by t tests over seeds, Holm-adjusted per family, three ways; built from
synthetic JSON. Also the step-noise callback the oscillation finding reads, the linear
baselines and the figures' bands."""

import json
import types
from pathlib import Path

import numpy as np
import pytest

from kfashion import baseline, config, report
from kfashion.analysis import claims, findings, stats, sweep_claims, transfer_claims
from kfashion.core.files import write_json
from kfashion.rendering import grid_plots, plots, sections

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"


def test_verdicts_are_three_way_and_follow_the_p_value():
    assert stats.verdict(0.2, 0.01, +1) == stats.REPRODUCED
    assert stats.verdict(-0.2, 0.01, +1) == stats.CONTRADICTED
    assert stats.verdict(0.2, 0.06, +1) == stats.NOT_RESOLVED
    assert stats.verdict(-0.2, 0.01, -1) == stats.REPRODUCED
    assert stats.verdict(0.2, None, +1) == stats.NOT_RESOLVED  # one seed: no test
    assert stats.verdict(0.2, 0.01, -1, sides=True) == stats.HIGHER
    assert stats.verdict(-0.2, 0.01, +1, sides=True) == stats.LOWER
    assert claims.combine([stats.REPRODUCED, stats.NOT_RESOLVED]) == stats.NOT_RESOLVED
    assert claims.combine([stats.REPRODUCED, stats.CONTRADICTED]) == stats.CONTRADICTED
    assert claims.combine([stats.HIGHER]) == stats.HIGHER
    assert claims.combine([stats.HIGHER, stats.LOWER]) == stats.CONTRADICTED


def test_band_claims_say_which_side_they_missed_on():
    inside = [0.00, 0.002, -0.002, 0.001]
    assert stats.band_p(inside, -0.03, 0.03)[1] == stats.REPRODUCED
    assert stats.band_p(inside, -0.03, 0.03)[0] < 0.05
    assert stats.band_p([0.05, 0.052, 0.048], -0.03, 0.03)[1] == stats.HIGHER
    assert stats.band_p([-0.05, -0.052, -0.048], -0.03, 0.03)[1] == stats.LOWER
    # p < 0.05 exactly where the 95% interval lies wholly above the band's top
    for values in ([0.031, 0.036, 0.034], [0.025, 0.04, 0.034]):
        low = stats.interval(values)[0]
        assert (stats.band_p(values, -0.03, 0.03)[0] < 0.05) == (low > 0.03)


def test_mean_interval_and_p_value_match_scipy():
    from scipy import stats as scipy_stats

    values = [0.2, 0.5, 0.3, 0.4]
    expected = scipy_stats.t.interval(0.95, 3, loc=np.mean(values), scale=scipy_stats.sem(values))
    result = stats.mean_interval(values)
    assert result["ci95"] == pytest.approx(list(expected))
    assert result["p_value"] == pytest.approx(scipy_stats.ttest_1samp(values, 0).pvalue)
    assert stats.mean_interval([0.3])["p_value"] is None


def test_holm_adjusts_a_family_and_can_undo_a_lone_verdict():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    family = [claims.comparison(f"c{k}", [0.1, 0.3, 0.2, 0.25], +1) for k in range(6)]
    assert family[0]["p_value"] < 0.05  # alone, each would be reproduced
    assert claims.settle(family) == {"size": 6}
    assert all(c["p_holm"] >= c["p_value"] for c in family)
    assert [c["verdict"] for c in family] == [stats.NOT_RESOLVED] * 6
    lone = [claims.comparison("c", [0.1, 0.3, 0.2, 0.25], +1)]
    claims.settle(lone)
    assert lone[0]["verdict"] == stats.REPRODUCED
    assert lone[0]["ci_simultaneous"] == pytest.approx(lone[0]["ci95"])  # a family of one


def synthetic_sweep(loss, seeds=(0, 1, 2), curve=None, train=None, noise=None) -> dict:
    """A sweep.json of the reference design whose best validation loss is `loss(config, seed)`
    and whose curves come from `curve(config, seed, best)` (10 epochs); the training curve is
    `train(config, seed, val)` (the validation curve by default), and `noise(config, seed)`,
    where given, is every epoch's recorded step noise."""
    curve = curve or (lambda config, seed, best: list(np.linspace(2 * best, best, 10)))
    trials = []
    for index, point in enumerate(config.make_design()):
        runs = []
        for seed in seeds:
            best = loss(point.config, seed)
            val = curve(point.config, seed, best)
            history = {"loss": train(point.config, seed, val) if train else val, "val_loss": val}
            if noise:
                history[config.STEP_NOISE] = [noise(point.config, seed)] * len(val)
            runs.append(
                {"seed": seed, "best_val_loss": min(val), "best_epoch": 10, "history": history}
            )
        trials.append(
            {
                "trial_id": f"{index:02d}",
                "factor": point.factor,
                "value": point.value,
                "config": point.config,
                "status": "COMPLETED",
                "seeds": runs,
                "best_val_loss": float(np.mean([r["best_val_loss"] for r in runs])),
            }
        )
    return {"trials": trials}


def judged(found: list[dict]) -> dict:
    """claim -> verdict, each claim's comparisons a family of their own."""
    for one in found:
        claims.settle(one["comparisons"])
        one["verdict"] = claims.combine([c["verdict"] for c in one["comparisons"]])
    return {f["claim"]: f["verdict"] for f in found}


def test_trends_and_the_selection_follow_the_losses_of_every_seed():
    def loss(config, seed):  # falls with n, rises with p, a little noise per seed
        noise = 0.0001 * seed * (1 + config["dropout"])
        return 0.05 / np.log2(config["latent_dim"]) + 0.02 * config["dropout"] + noise

    found = judged(sweep_claims.sweep_claims(synthetic_sweep(loss)))
    assert found["Loss falls as n grows"] == "reproduced"
    assert found["Loss rises with p"] == "reproduced"
    # p=0.0 beats the selection's p=0.1 in every seed
    assert found["Final selection n=64, p=0.1, batch 100, lr 1e-3, Adam"] == "contradicted"

    def best_at_the_selection(point, seed):
        return 0.03 + 0.01 * (point != config.REFERENCE_CHOICE) * (1 + 0.1 * seed)

    found = judged(sweep_claims.sweep_claims(synthetic_sweep(best_at_the_selection)))
    assert found["Final selection n=64, p=0.1, batch 100, lr 1e-3, Adam"] == "reproduced"

    def flat(config, seed):  # no trend: the seeds disagree in sign
        return 0.03 + (0.001 if seed == 1 else -0.001) * np.log2(config["latent_dim"])

    assert judged(sweep_claims.sweep_claims(synthetic_sweep(flat)))["Loss falls as n grows"] == (
        "not resolved"
    )

    def rising(config, seed):
        return 0.01 * np.log2(config["latent_dim"]) + 0.0001 * seed

    assert judged(sweep_claims.sweep_claims(synthetic_sweep(rising)))["Loss falls as n grows"] == (
        "contradicted"
    )


def test_a_curve_that_gets_lower_sooner_is_the_one_that_descends():
    def curve(config, seed, best):  # 1e-2 starts lower and ends lower, but falls by less
        if config["learning_rate"] == 1e-2:
            return list(np.linspace(1.2 * best, (0.9 - 0.01 * seed) * best, 10))
        return list(np.linspace(2 * best, best, 10))

    sweep = synthetic_sweep(lambda config, seed: 0.03, curve=curve)
    assert judged(sweep_claims.sweep_claims(sweep))["lr 1e-2 shows no clear descent"] == (
        "contradicted"
    )

    def slow(config, seed, best):  # 1e-2 stays high
        scale = (2.0 + 0.1 * seed) if config["learning_rate"] == 1e-2 else 1.0
        return list(scale * np.linspace(2 * best, best, 10))

    sweep = synthetic_sweep(lambda config, seed: 0.03, curve=slow)
    assert judged(sweep_claims.sweep_claims(sweep))["lr 1e-2 shows no clear descent"] == (
        "reproduced"
    )


def test_oscillation_is_read_from_the_step_noise_and_never_from_the_epochs():
    def up_and_down(config, seed, best):  # rising epochs galore, but no step noise recorded
        if config["learning_rate"] == 1e-2:
            return [best * (1.2 if epoch % 2 else 1.0) for epoch in range(10)]
        return list(np.linspace(2 * best, best, 10))

    found = sweep_claims.sweep_claims(synthetic_sweep(lambda c, s: 0.03, curve=up_and_down))
    oscillates = next(f for f in found if f["claim"] == "lr 1e-2 oscillates")
    assert judged([oscillates])["lr 1e-2 oscillates"] == "not resolved"
    assert claims.NOT_RECORDED in oscillates["comparisons"][0]["reason"]

    def noise(config, seed):
        return (0.05 + 0.005 * seed) if config["learning_rate"] == 1e-2 else 0.01

    sweep = synthetic_sweep(lambda c, s: 0.03, noise=noise)
    assert judged(sweep_claims.sweep_claims(sweep))["lr 1e-2 oscillates"] == "reproduced"
    sweep = synthetic_sweep(lambda c, s: 0.03, noise=lambda c, s: 0.01 + 0.001 * s)
    assert judged(sweep_claims.sweep_claims(sweep))["lr 1e-2 oscillates"] == "not resolved"


def test_overfitting_is_a_growing_gap_not_a_rise_of_the_validation_loss():
    def climbs_back(config, seed, best):  # batch 50: falls, then climbs back
        if config["batch_size"] == 50:
            return [*np.linspace(2 * best, best, 6), *np.linspace(best, 1.1 * best, 5)[1:]]
        return list(np.linspace(2 * best, best, 10))

    def falls(config, seed, val):  # the training loss keeps falling: the gap grows
        return list(np.linspace(val[0], (0.5 - 0.01 * seed) * val[0], len(val)))

    def best(config, seed):  # the seeds differ at batch 50 alone, so the gap slopes' do
        return 0.03 + 0.001 * seed * (config["batch_size"] == 50)

    sweep = synthetic_sweep(best, curve=climbs_back, train=falls)
    assert judged(sweep_claims.sweep_claims(sweep))["Batch 50 hints at overfitting"] == "reproduced"
    # the training loss climbs back with the validation loss: the same gap, no overfitting
    sweep = synthetic_sweep(lambda c, s: 0.03, curve=climbs_back)
    assert judged(sweep_claims.sweep_claims(sweep))["Batch 50 hints at overfitting"] == (
        "not resolved"
    )
    # runs of one epoch have no trend to measure: the claim says so, and nothing raises
    sweep = synthetic_sweep(lambda c, s: 0.03, curve=lambda config, seed, best: [best])
    (found,) = [c for c in sweep_claims.sweep_claims(sweep) if c["claim"].startswith("Batch 50")]
    assert "4 epochs or more" in found["comparisons"][0]["reason"]


def synthetic_transfer(accuracy) -> dict:
    runs, curves = [], {}
    for case in (1, 2, 3, 4):
        for seed in range(5):
            value = accuracy[case] + 0.002 * ((seed * 7 + case) % 5 - 2)
            recall = [value] * 9 + [value - 0.3]
            runs.append({"case": case, "seed": seed, "test_accuracy": value, "recall": recall})
            curves[f"case{case}_seed{seed}"] = {"loss": [2.0 + 0.01 * seed if case == 4 else 0.5]}
    return {"cases": {str(c): {} for c in (1, 2, 3, 4)}, "runs": runs, "curves": curves}


def test_case_claims_need_their_test_not_just_their_mean():
    tie = synthetic_transfer({1: 0.911, 2: 0.81, 3: 0.912, 4: 0.70})
    found = judged(transfer_claims.transfer_claims(tie))
    assert found["Case 1 has the highest accuracy"] == "not resolved"  # a tie is no contradiction
    assert found["Case 2: about 80%"] == "reproduced"
    assert found["Case 3: about 88%"] == "not resolved"  # 91.2%: its interval straddles 91%
    assert found["Case 4: below 75%"] == "reproduced"
    assert found["Case 4 starts from a very high loss"] == "reproduced"
    clear = synthetic_transfer({1: 0.93, 2: 0.81, 3: 0.88, 4: 0.70})
    found = judged(transfer_claims.transfer_claims(clear))
    assert found["Case 1 has the highest accuracy"] == "reproduced"
    assert found["Case 3: about 88%"] == "reproduced"
    behind = synthetic_transfer({1: 0.85, 2: 0.70, 3: 0.93, 4: 0.80})
    found = judged(transfer_claims.transfer_claims(behind))
    assert found["Case 1 has the highest accuracy"] == "contradicted"
    assert found["Case 2: about 80%"] == "contradicted: lower"
    assert found["Case 3: about 88%"] == "contradicted: higher"
    assert found["Case 4: below 75%"] == "contradicted: higher"


def test_a_level_claim_reads_each_seeds_mean_over_its_initialisations():
    transfer = synthetic_transfer({1: 0.93, 2: 0.81, 3: 0.88, 4: 0.70})
    for run in [r for r in transfer["runs"] if r["case"] in (3, 4)]:  # a second, higher init
        transfer["runs"].append({**run, "init": 1, "test_accuracy": run["test_accuracy"] + 0.02})
        name = f"case{run['case']}_seed{run['seed']}"
        transfer["curves"][f"{name}_init1"] = transfer["curves"][name]
    by_claim = {c["claim"]: c for c in transfer_claims.transfer_claims(transfer)}
    for name, case, target in (("Case 3: about 88%", 3, 0.88), ("Case 4: below 75%", 4, 0.75)):
        (comparison,) = by_claim[name]["comparisons"]
        first = [r["test_accuracy"] for r in transfer["runs"] if r["case"] == case][:5]
        assert comparison["per_seed"] == pytest.approx([v + 0.01 - target for v in first])


def test_each_part_of_a_compound_claim_gets_its_own_verdict():
    found = judged(
        transfer_claims.transfer_claims(synthetic_transfer({1: 0.85, 2: 0.7, 3: 0.9, 4: 0.6}))
    )
    assert found["Confusion: case 1 the cleanest"] == "contradicted"  # case 3 is cleaner
    assert found["Confusion: case 4 the most confused"] == "reproduced"
    sweep = judged(sweep_claims.sweep_claims(synthetic_sweep(lambda c, s: 0.03)))
    assert {"Batch 100 falls more steadily than 50", "Batch 150 falls more steadily than 50"} <= (
        set(sweep)
    )


def synthetic_labels() -> dict:
    return {
        "settings": {"labels": [100, "all"]},
        "test_accuracy": {
            "1": {"100": {"per_seed": [0.70, 0.71, 0.72]}, "all": {"per_seed": [0.9, 0.91, 0.92]}},
            "2": {"100": {"per_seed": [0.60, 0.62, 0.61]}, "all": {"per_seed": [0.91, 0.9, 0.92]}},
        },
    }


def test_label_comparisons_say_who_is_ahead_only_where_the_adjusted_test_does():
    rows = transfer_claims.label_comparisons(synthetic_labels())
    claims.settle(rows)
    assert {row["labels"]: transfer_claims.ahead(row) for row in rows} == {
        100: "case 1 ahead",
        "all": "not resolved",
    }
    answered = synthetic_labels()  # pretrained against random: the answer's, judged there only
    answered["test_accuracy"]["3"] = answered["test_accuracy"].pop("2")
    assert transfer_claims.label_comparisons(answered) == []


def test_judge_states_its_families_and_the_report_shows_both_p_values(tmp_path):
    sweep = synthetic_sweep(lambda c, s: 0.05 / np.log2(c["latent_dim"]) + 0.0001 * s)
    write_json(tmp_path / "sweep.json", sweep)
    classic = synthetic_transfer({1: 0.93, 2: 0.81, 3: 0.95, 4: 0.7})
    write_json(tmp_path / "grid.json", {"classic": classic, "label_efficiency": synthetic_labels()})
    judged_here = findings.judge(tmp_path)
    compared = [c for f in judged_here["claims"] for c in f["comparisons"]]
    tested = [c for c in compared if c["p_value"] is not None]
    family = judged_here["families"]["findings"]
    assert family["size"] == len(tested) == len(family["members"]) < len(compared)  # oscillation
    assert judged_here["families"]["label_efficiency"]["size"] == 2
    assert judged_here["per_class_recall"]["3"][config.CLASS_NAMES[9]]["mean"] == pytest.approx(
        0.65
    )
    text = "\n".join(sections.findings_section(judged_here))
    assert "Holm" in text and "contradicted: higher" in text and claims.NOT_RECORDED in text


def test_baselines_choose_c_on_validation_and_keep_the_default_entry():
    rng = np.random.default_rng(0)

    def split(n):
        labels = np.arange(n) % 10
        images = rng.random((n, 28, 28, 1)) * 0.5 + labels[:, None, None, None] / 20
        return images.astype("float32"), labels

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(300), split(100), split(100)
    dataset = types.SimpleNamespace(
        x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test
    )
    scores = baseline.fit_and_score(dataset, max_iter=200, grid=(1e-4, 1.0))
    tuned = scores["logistic_regression_tuned"]
    assert [row["C"] for row in tuned["grid"]] == [1e-4, 1.0]
    best = max(tuned["grid"], key=lambda row: row["validation_accuracy"])
    assert tuned["chosen_C"] == best["C"]
    assert (
        scores["logistic_regression"]["validation_accuracy"]
        == tuned["grid"][1]["validation_accuracy"]
    )
    assert "test_accuracy" in scores["pca_logistic_regression"]
    assert "test_accuracy" not in tuned["grid"][0]  # the test split is read only at the end
    with pytest.raises(ValueError, match="C"):
        baseline.fit_and_score(dataset, grid=(0.1,))


def test_figure_bands_are_the_95_percent_t_interval():
    from scipy import stats as scipy_stats

    rows = np.array([[0.1, 0.5], [0.3, 0.6], [0.2, 0.9]])
    low, high = plots.t_band(rows)
    expected = scipy_stats.t.interval(
        0.95, 2, loc=rows[:, 1].mean(), scale=scipy_stats.sem(rows[:, 1])
    )
    assert (low[1], high[1]) == pytest.approx(expected)


def test_a_sweep_whose_trials_all_failed_is_reported_not_judged(tmp_path):
    """A sweep.json in which no trial completed (every seed diverged) gives a report whose
    sweep findings say they have nothing to measure, not a traceback."""
    sweep = json.loads((REFERENCE / "sweep.json").read_text())
    for trial in sweep["trials"]:
        trial.update(status="FAILED", best_val_loss=None, test_mse=None)
        for run in trial["seeds"]:
            run.update(diverged="loss became nan in epoch 1", best_val_loss=None, test_mse=None)
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    report.main(["--results", str(tmp_path)])
    judged = json.loads((tmp_path / "findings.json").read_text())
    for found in judged["claims"]:
        assert found["verdict"] == "not resolved", found["claim"]
    assert claims.NO_SEED in (tmp_path / "README.md").read_text()


def test_the_report_says_where_a_moved_run_was_made_and_which_versions_made_its_runs(
    tmp_path, monkeypatch
):
    # a reference run made in results/next/ and moved keeps its commands as they ran; its
    # report says so, and names every kfashion version its records carry. A user's own
    # folder never gets that line, whatever its commands' paths look like.
    def stage(command, versions):
        environments = [
            {"backend": "tensorflow", "machine": "m", "versions": {"kfashion": v}} for v in versions
        ]
        return {
            "provenance": {
                "command": command,
                "date": "2026-12-01T00:00:00",
                "backend": "tensorflow",
                "machine": "m",
                "versions": {"kfashion": versions[-1]},
            },
            "runs": [{"environment": env} for env in environments],
        }

    monkeypatch.chdir(tmp_path)  # the project's root, where results/reference is
    moved = {
        "sweep": stage("python -m kfashion.tune --results results/next --seeds 3", ["0.2.0"]),
        "architecture sweep": stage(
            "python -m kfashion.tune --results results/next/architecture", ["0.2.0"]
        ),
        "transfer grid": stage("python -m kfashion.transfer --results results/next", ["0.10.0"]),
    }
    (line, _) = report.made_elsewhere(moved, tmp_path / "results" / "reference")
    assert line.startswith("These runs were made in `results/next` and moved here once")
    in_place = {"sweep": stage("python -m kfashion.tune --results results/reference", ["0.3.0"])}
    assert report.made_elsewhere(in_place, tmp_path / "results" / "reference") == []
    mine = {
        "sweep": stage("python -m kfashion.tune --results .../myruns/results", ["0.3.0"]),
        "baseline": stage("python -m kfashion.baseline --results 'my results'", ["0.3.0"]),
    }
    assert report.made_elsewhere(mine, tmp_path / "elsewhere") == []
    assert report.made_elsewhere(moved, tmp_path / "results") == []
    lines = sections.how_section(moved)
    assert any("kfashion 0.2.0 and 0.10.0;" in line for line in lines), lines  # by number
    assert not any("kfashion 0.3.0 and" in line for line in sections.how_section(in_place))


def test_the_report_marks_every_baseline_fit_that_did_not_converge():
    # the quick look caps lbfgs: the fixed C=1 fit, the number set beside the reference's,
    # must say it stopped short, as the chosen-C rows do
    fixed = {
        "model": "LogisticRegression(C=1.0, solver=lbfgs, max_iter=300)",
        "features": "raw pixels",
        "validation_accuracy": 0.8365,
        "converged": False,
        "test_accuracy": 0.812,
    }
    frozen = {"label": "pretrained encoder, frozen", "test_accuracy": {"mean": 0.8, "std": 0.01}}
    transfer = {"cases": {"2": frozen}}
    lines = sections.baseline_lines({"logistic_regression": fixed}, transfer)
    (row,) = [line for line in lines if line.startswith("| LogisticRegression")]
    assert "83.65% (not converged)" in row, row
    converged = sections.baseline_lines(
        {"logistic_regression": {**fixed, "converged": True}}, transfer
    )
    assert not any("not converged" in line for line in converged)


def test_the_mse_figure_labels_each_latent_size_once(tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "save", lambda fig, path: figures.append(fig))
    sizes = [16, 32, 64, 128, 256]
    plots.plot_mse_vs_pca(sizes, [[0.05, 0.051]] * 5, [0.02, 0.015, 0.01, 0.006, 0.003], "x")
    (axes,) = figures[0].axes
    figures[0].canvas.draw()  # the labels are made when the figure is drawn
    shown = [t.get_text() for t in axes.get_xticklabels(which="both") if t.get_text()]
    assert shown == [str(n) for n in sizes]


def test_accuracy_axes_show_percentages_as_the_tables_do(monkeypatch):
    figures = []
    monkeypatch.setattr(grid_plots, "save", lambda fig, path: figures.append(fig))
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "accuracy": [0.5, 0.8]}
    history["val_accuracy"] = [0.5, 0.75]
    grid_plots.plot_transfer_curves({1: [history, history]}, {1: "case 1"}, "x")
    summary = {"1": {"100": {"mean": 0.7, "per_seed": [0.69, 0.71]}}}
    summary["1"]["all"] = {"mean": 0.9, "per_seed": [0.89, 0.91]}
    grid_plots.plot_label_efficiency(summary, [100, "all"], {1: "case 1"}, "x", 50_000)
    grid_plots.plot_grid({("course", 1, "joint"): {"100": [0.7, 0.72], "all": [0.9, 0.91]}},
                    ["100", "all"], "x", 50_000)  # fmt: skip
    accuracy = [figures[0].axes[1], figures[1].axes[0], figures[2].axes[0]]
    for axes in accuracy:
        figures[0].canvas.draw(), figures[1].canvas.draw(), figures[2].canvas.draw()
        shown = [t.get_text() for t in axes.get_yticklabels() if t.get_text()]
        assert shown and all(text.endswith("%") for text in shown), shown


def test_the_grid_figure_keeps_its_panels_readable_and_names_only_the_counts(monkeypatch):
    figures = []
    monkeypatch.setattr(grid_plots, "save", lambda fig, path: figures.append(fig))
    counts = ["100", "1000", "all"]
    values = {count: [0.7, 0.72] for count in counts}
    lines = {(f"network{i}", 1, "chosen"): values for i in range(5)}  # five pretexts' networks
    lines["network0", 2, "frozen"] = values
    grid_plots.plot_grid(lines, counts, "x", 50_000)
    (fig,) = figures
    fig.canvas.draw()
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 5 and fig.get_size_inches()[0] <= 18  # two rows, not one of five
    # each draw's own recipe is "fine-tuned", as in the tables: "chosen" is the code's word
    legend = [t.get_text() for t in shown[0].get_legend().get_texts()]
    assert legend == ["case 1, fine-tuned", "case 2, frozen"]
    for ax in shown:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "1,000", "all\n(50,000)"]
        assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]


def test_the_answers_forest_plot_puts_each_column_on_one_scale(monkeypatch):
    figures = []
    monkeypatch.setattr(grid_plots, "save", lambda fig, path: figures.append(fig))

    def row(network, recipe, mean):
        interval = (mean - 0.01, mean + 0.01)
        return {"network": network, "labels": "100", "recipe": recipe, "cases": (1, 3),
                "margin": 0.015, "mean_difference": mean, "ci95": interval}  # fmt: skip

    rows = [row("course", "joint", -0.01), row("course", "frozen", 0.1)]
    rows += [row("course_supervised", "joint", 0.08), row("course_supervised", "frozen", 0.3)]
    grid_plots.plot_answer(rows, "x")
    (fig,) = figures
    (course, supervised) = fig.axes[0:2], fig.axes[2:4]
    for column in (0, 1):  # fine-tuned, frozen: the networks compare on one axis
        assert course[column].get_xlim() == supervised[column].get_xlim()
    assert course[0].get_xlim()[1] >= 9  # the supervised control's +8 shows beside course's


def test_the_latent_maps_name_their_axes_and_their_network(monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "save", lambda fig, path: figures.append(fig))
    points, labels = np.zeros((20, 2)), np.arange(20) % 10
    row = {"pca": points, "pca_labels": labels, "tsne": points, "tsne_labels": labels}
    row |= {"pca_explained_variance": [0.243, 0.162], "title": "course encoder (encoder.keras)"}
    plots.plot_latent_maps({"results/models/encoder.keras": row}, config.CLASS_NAMES, "x")
    pca, tsne = figures[0].axes[:2]
    assert pca.get_xlabel() == "principal component 1 (24% of the variance)"
    assert pca.get_ylabel() == "principal component 2 (16% of the variance)"
    assert tsne.get_xlabel() == "t-SNE 1"
    assert pca.get_title().startswith("course encoder (encoder.keras): PCA of 20 test codes")


def test_a_comparison_whose_seeds_all_agree_has_no_test_and_stays_outside_its_family():
    # three seeds with the same count of rising epochs once gave p = 0 and "reproduced"
    alike = claims.comparison("alike", [2.0, 2.0, 2.0], +1)
    apart = claims.comparison("apart", [1, 1.2, 0.9], +1)
    band = claims.band_comparison("band", [0.01, 0.01, 0.01], -0.03, 0.03, "accuracy")
    assert claims.settle([alike, apart, band]) == {"size": 1}
    assert [c["verdict"] for c in (alike, band)] == [stats.NOT_RESOLVED] * 2
    assert alike["ci95"] is None and "(no interval: every seed alike)" in sections.interval(alike)


def test_the_label_efficiency_figure_takes_counts_with_their_own_numbers_of_draws(monkeypatch):
    # a crossed grid draws its labels more often where they are few (8 at 100, 4 at all): each
    # count's mean and band are its own draws'
    figures = []
    monkeypatch.setattr(grid_plots, "save", lambda fig, path: figures.append(fig))
    summary = {"1": {"100": {"per_seed": [0.6, 0.7, 0.8]}, "all": {"per_seed": [0.9, 0.92]}}}
    grid_plots.plot_label_efficiency(summary, [100, "all"], {1: "case 1"}, "x", 50_000)
    (axes,) = figures[0].axes
    np.testing.assert_allclose(axes.lines[0].get_ydata(), [0.7, 0.91])
    band = axes.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.7 - 4.302653 * 0.1 / 3**0.5, abs=1e-6)
