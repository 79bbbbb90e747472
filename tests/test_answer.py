import numpy as np
import pytest

from kfashion.analysis import answer, sizing
from kfashion.rendering import grid_sections


def runs_of(pretrained, random, labels="1000", recipe="joint", network="course"):
    """Run records: `pretrained` a K x n table (pretraining seed by draw), `random` n lists of
    a random encoder's initialisations, accuracies as fractions."""
    cases = (2, 4) if recipe == "frozen" else (1, 3)
    base = {"network": network, "labels": labels, "recipe": recipe}
    out = [
        {**base, "case": cases[0], "encoder_seed": k, "seed": d, "test_accuracy": value}
        for k, row in enumerate(pretrained)
        for d, value in enumerate(row)
    ]
    out += [
        {**base, "case": cases[1], "encoder_seed": -1, "seed": d, "init": i, "test_accuracy": v}
        for d, values in enumerate(random)
        for i, v in enumerate(values)
    ]
    return out


def test_pretraining_seeds_that_differ_widen_the_interval_as_new_seeds_would():
    # draws alike, pretraining seeds apart: the interval is the t interval over the seeds' means
    seeds = np.array([0.01, 0.03, 0.05])
    pretrained = 0.8 + seeds[:, None] + np.zeros((3, 4))
    found = answer.row(runs_of(pretrained, [[0.8, 0.8]] * 4), "course", "1000", "joint")
    assert found["df"] == pytest.approx(2)
    assert found["standard_error"] == pytest.approx(seeds.std(ddof=1) / np.sqrt(3))
    assert found["components"]["draw"] == 0 and found["components"]["pretraining"] > 0


def test_differences_are_paired_on_the_draws_both_sides_ran():
    pretrained = [[0.80, 0.90, 0.70], [0.81, 0.91, 0.71]]
    runs = runs_of(pretrained, [[0.79, 0.79], [0.89, 0.89]])  # the random side: draws 0 and 1
    table = answer.paired_table(runs, "course", "1000", (1, 3), "joint")
    assert table["draws"] == [0, 1]  # draw 2 has no random run to pair with
    assert np.allclose(table["differences"], [[0.01, 0.01], [0.02, 0.02]])
    found = answer.row(runs, "course", "1000", "joint")
    assert found["random_initialisations"] == 2 and found["init_variance"] == 0


def test_each_row_is_judged_by_its_bound_within_one_family():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.002, (3, 8))
    runs = runs_of(0.90 + noise, [[0.80, 0.80]] * 8, "100", "frozen")  # +10 points
    runs += runs_of(0.80 + noise, [[0.80, 0.80]] * 8, "all", "joint")  # 0, tight
    runs += runs_of(0.80 + 10 * noise, [[0.80, 0.80]] * 8, "1000", "joint")  # 0, wide
    found = answer.headline(runs, ["course"], ["100", "1000", "all"], ["joint"])
    verdicts = {(r["labels"], r["recipe"]): r for r in found["rows"]}
    helps = verdicts["100", "frozen"]
    assert helps["verdict"] == answer.HELPS and helps["bound"] == helps["ci95"][0] > 0.09
    assert verdicts["all", "joint"]["verdict"] == answer.EQUIVALENT
    assert answer.verdict_text(verdicts["all", "joint"]) == "no benefit larger than 0.5 points"
    wide = verdicts["1000", "joint"]
    assert wide["verdict"] == answer.INCONCLUSIVE
    assert answer.verdict_text(wide).startswith("inconclusive: between -")
    for r in found["rows"]:  # six tests, one family: each adjusted p at least its own
        assert r["p_difference_holm"] >= r["p_difference"]
        assert r["p_equivalence_holm"] >= r["p_equivalence"]
    assert found["sentence"].startswith(
        "Fine-tuned, pretraining gives no benefit larger than 0.5 points at all labels (1 of 2 "
        "rows) and is inconclusive at 1,000 labels (1 of 2 rows; 95% interval between -"
    )
    assert "; frozen, pretraining helps by at least 9." in found["sentence"]
    sentence, found["sentence"] = found["sentence"], "as a run printed it"  # the words then
    lines = grid_sections.answer_lines(found)
    assert lines[0] == f"**{sentence}**"  # in today's words, from its rows
    assert sum("**no benefit larger than 0.5 points**" in line for line in lines) == 1
    # the README's summary: a row per comparison, a column per label count, "-" where none ran
    summary = grid_sections.answer_summary_lines(found, "figures/answer.png", "results/x")
    assert "![the answer: pretrained minus random](results/x/figures/answer.png)" in summary
    header = "| encoder | recipe (cases compared) | 100 labels | 1,000 labels | all labels |"
    assert header in summary
    (joint,) = [line for line in summary if line.startswith("| course | joint (cases 1 - 3) | ")]
    assert joint.split(" | ")[2] == "not run"  # a comparison not made at 100 labels
    assert joint.endswith(" **no benefit larger than 0.5 points** |")
    assert "] **inconclusive** | " in joint
    (frozen,) = [line for line in summary if line.startswith("| course | frozen (cases 2 - 4) | +")]
    assert "**helps by at least 9." in frozen and frozen.endswith(" | not run | not run |")


def test_one_seed_and_one_draw_give_a_difference_and_no_interval():
    found = answer.headline(runs_of([[0.8]], [[0.79]]), ["course"], ["1000"], ["joint"])
    assert found["rows"][0]["ci95"] is None
    assert found["rows"][0]["verdict"] == answer.NO_INTERVAL
    assert found["sentence"].startswith("Not resolved here")


def test_margins_of_counts_between_the_planned_ones_are_the_lower_ones():
    assert answer.margin("100") == 0.015 and answer.margin("all") == 0.005
    assert answer.margin("5000") == answer.margin("1000") and answer.margin("50") == 0.015


def test_the_sizes_reach_the_margin_and_more_draws_narrow_the_interval():
    parts = {"pretraining": 1e-6, "draw": 4e-5, "residual": 4e-5}
    assert sizing.half_width(parts, 3, 10) < sizing.half_width(parts, 3, 5)
    pilot = [{"network": "course", "recipe": "joint", "labels": "1000", "margin": 0.0075,
              "components": parts, "init_variance": 2e-5, "random_initialisations": 2}]  # fmt: skip
    chosen = sizing.sizes(pilot, seeds=3, inits=2)["1000"]
    assert chosen["reached"] and chosen["pretraining_seeds"] == 3
    n = chosen["draws"]
    assert sizing.half_width(parts, 3, n) <= 0.0075 < sizing.half_width(parts, 3, n - 1)


def test_one_pretraining_seed_gives_the_t_interval_over_its_draws():
    from scipy import stats

    pretrained = [[0.81, 0.83, 0.80, 0.84]]
    found = answer.row(runs_of(pretrained, [[0.8]] * 4), "course", "1000", "joint")
    expected = stats.ttest_1samp(np.array(pretrained[0]) - 0.8, 0).confidence_interval(0.95)
    assert found["ci95"] == pytest.approx([expected.low, expected.high])
    assert found["components"]["pretraining"] == 0 and found["df"] == 3


def test_a_table_of_equal_differences_has_no_interval_and_no_verdict():
    # a spread of 0 from a few runs (collapsed classifiers) is no certainty: the quick look once
    # read "hurts by at least 9.0 [-9.00, -9.00]" from such a table
    runs = runs_of([[0.71, 0.71], [0.71, 0.71]], [[0.8], [0.8]])
    found = answer.headline(runs, ["course"], ["1000"], ["joint"])["rows"][0]
    assert found["mean_difference"] == pytest.approx(-0.09)
    assert found["ci95"] is None and found["verdict"] == answer.NO_INTERVAL


def test_the_estimate_and_the_sizing_give_the_same_half_width_for_the_same_design():
    rng = np.random.default_rng(1)
    seeds, draws = rng.normal(0, 0.004, (4, 1)), rng.normal(0, 0.006, (1, 6))
    table = 0.8 + seeds + draws + rng.normal(0, 0.002, (4, 6))
    found = answer.row(runs_of(table, [[0.8]] * 6), "course", "1000", "joint")
    parts = found["components"]
    assert parts["pretraining"] > 0 and parts["draw"] > 0  # both components above 0
    half = (found["ci95"][1] - found["ci95"][0]) / 2
    assert sizing.half_width(parts, 4, 6) == pytest.approx(half)


def test_a_pretexts_network_is_judged_against_its_architectures_random_encoders():
    noise = np.random.default_rng(0).normal(0, 0.002, (3, 8))
    runs = runs_of(0.80 + noise, [[0.80, 0.80]] * 8, "all", "joint")  # course: 0, tight
    supervised = runs_of(0.85 + noise, [[0.10, 0.10]] * 8, "all", "joint", "course_supervised")
    runs += [run for run in supervised if run["case"] == 1]  # its random side: course's
    found = answer.headline(runs, ["course", "course_supervised"], ["all"], ["joint"])
    rows = {r["network"]: r for r in found["rows"]}
    assert rows["course_supervised"]["random_network"] == "course"
    assert rows["course_supervised"]["random_mean"] == pytest.approx(0.80)
    assert rows["course_supervised"]["verdict"] == answer.HELPS
    assert found["sentence"].startswith(
        "Fine-tuned, reconstruction pretraining gives no benefit larger than 0.5 points"
    )
    assert (
        " Fine-tuned, supervised pretraining (a control that must help) helps by at least 4."
        in found["sentence"]
    )
    # the README's summary: a line a pretext task, the control's last
    summary = grid_sections.answer_summary_lines(found, None, "results/x")
    assert summary[0].startswith("- Fine-tuned, reconstruction pretraining gives no benefit")
    assert summary[1].startswith("- Fine-tuned, supervised pretraining (a control that must")
    assert " ".join(line.removeprefix("- ") for line in summary[:2]) == found["sentence"]


def test_contrastive_pretraining_is_also_judged_against_the_augmentation_control():
    noise = np.random.default_rng(0).normal(0, 0.002, (3, 8))
    runs = runs_of(0.86 + noise, [[0.80, 0.80]] * 8, "all", "joint", "course_contrastive")
    runs = [run for run in runs if run["case"] == 1]  # its random side: course's
    runs += runs_of(0.80 + noise, [[0.80, 0.80]] * 8, "all", "joint")
    augmented = runs_of(noise, [[0.86, 0.86]] * 8, "all")  # as good as contrastive: no gain
    runs += [{**run, "case": 5} for run in augmented if run["case"] == 3]
    found = answer.headline(runs, ["course", "course_contrastive"], ["all"], ["joint"])
    rows = {(r["network"], tuple(r["cases"])): r for r in found["rows"]}
    assert ("course", (1, 5)) not in rows  # reconstruction's runs are not compared with it
    assert rows["course_contrastive", (1, 3)]["verdict"] == answer.HELPS
    control = rows["course_contrastive", (1, 5)]
    assert control["random_network"] == "course" and control["verdict"] == answer.EQUIVALENT
    assert (
        "against a random encoder fine-tuned on augmented images, contrastive pretraining "
        "gives no benefit larger than 0.5 points" in found["sentence"]
    )


def test_a_pretext_run_at_fewer_label_counts_leaves_its_other_cells_empty():
    noise = np.random.default_rng(0).normal(0, 0.002, (3, 8))
    runs = runs_of(0.80 + noise, [[0.80, 0.80]] * 8, "all", "joint")
    runs += runs_of(0.70 + noise, [[0.70, 0.70]] * 8, "100", "joint")
    denoising = runs_of(0.75 + noise, [[0.10, 0.10]] * 8, "100", "joint", "course_denoising")
    runs += [run for run in denoising if run["case"] == 1]  # at 100 labels only
    networks = ["course", "course_denoising"]
    found = answer.headline(runs, networks, ["100", "all"], ["joint"])
    cells = {(r["network"], r["labels"]) for r in found["rows"]}
    assert cells == {("course", "100"), ("course", "all"), ("course_denoising", "100")}
    summary = grid_sections.answer_summary_lines(found, None, "results/x")
    row = next(line for line in summary if line.startswith("| course_denoising |"))
    assert row.rstrip(" |").endswith("| not run")  # not run with all labels
