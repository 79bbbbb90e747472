"""The study's plan: each stage gets the sizes the study was given, and its counts of work come
from the stage's own command. (The study itself runs in tests/test_readme.py.)"""

import json

from kfashion import schedule, study, transfer, tune

TRAINING_STAGES = {"tune", "schedule", "transfer", "latent", "baseline"}


def plan_of(argv, tmp_path, chosen=None):
    """The stages `study ARGV` runs, with their late flags taken from a schedule.json whose
    choice is `chosen`."""
    args = study.parse_args([*argv, "--results", str(tmp_path), "--directory", str(tmp_path)])
    results, directory = study.folders(args)
    chosen = chosen or {"epochs": 30, "learning_rate": 0.003, "batch_size": 100}
    (tmp_path / "schedule.json").write_text(json.dumps({"chosen": chosen}))
    plan = study.stages(args, results, directory)
    for stage in plan:
        stage.argv += stage.later() if stage.later else []
    return plan


def parsed(stage):
    module = {"tune": tune, "schedule": schedule, "transfer": transfer}[stage.module]
    return module.parse_args(stage.argv)


def test_every_stage_of_the_reference_plan_gets_the_sizes_given(tmp_path):
    plan = plan_of(["--reference", "--subset", "600", "--epochs", "2", "--seeds", "1"], tmp_path)
    assert [s.module for s in plan] == [
        "tune",
        "schedule",
        "transfer",
        "transfer",
        "baseline",
        "tune",
        "transfer",
        "latent",
        "report",
    ]
    for stage in plan:
        if stage.module in TRAINING_STAGES:
            assert stage.argv[stage.argv.index("--subset") + 1] == "600", stage
        if stage.module in ("tune", "transfer"):
            assert parsed(stage).epochs == 2, stage  # the schedule's 30 epochs do not win
        if stage.module == "transfer":
            assert parsed(stage).learning_rate == 0.003
    assert schedule.parse_candidates(parsed(plan[1]).candidates) == [(2, 0.001), (2, 0.003)]


def test_the_reference_plan_takes_the_schedule_validation_chose(tmp_path):
    plan = plan_of(["--reference"], tmp_path, {"epochs": 15, "learning_rate": 0.001})
    for stage in plan:
        if stage.module == "transfer":
            assert (parsed(stage).epochs, parsed(stage).learning_rate) == (15, 0.001)


def test_units_of_work_follow_each_commands_defaults(tmp_path):
    plan = plan_of(["--reference"], tmp_path)
    sweep, chosen, cases, labels = plan[:4]
    assert sweep.units == 14 * tune.SEEDS
    candidates = len(schedule.parse_candidates(schedule.CANDIDATES))
    assert chosen.units == candidates * schedule.SEEDS * 4
    assert cases.units == 4 * transfer.SEEDS
    assert labels.units == 5 * 4 * study.LABEL_SEEDS  # the counts below "all"
    variant_sweep, variant_cases = plan[5:7]
    assert variant_sweep.units == 3 * tune.SEEDS and variant_cases.units == 2 * transfer.SEEDS


def test_the_quick_look_runs_every_stage_of_the_study_at_its_sizes(tmp_path):
    plan = plan_of(["--quick"], tmp_path)
    assert [s.module for s in plan] == ["tune", "transfer", "baseline", "report"]
    assert parsed(plan[0]).subset == study.QUICK["subset"] == parsed(plan[1]).subset
    assert parsed(plan[0]).seeds == study.QUICK["seeds"]
    assert parsed(plan[1]).seeds == study.QUICK["transfer_seeds"]


def test_the_readme_describes_the_quick_look_at_its_sizes():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    subset = study.QUICK["subset"]
    assert f"runs every stage on {subset:,} images ({subset * 5 // 6:,} to train" in readme
    assert f"{study.QUICK['epochs']} epochs, one\nsweep seed a point and two transfer" in readme
    assert (study.QUICK["seeds"], study.QUICK["transfer_seeds"]) == (1, 2)


def test_a_damaged_schedule_is_one_line_naming_it(tmp_path):
    import pytest

    from kfashion.errors import UserError

    args = study.parse_args(["--reference", "--results", str(tmp_path)])
    plan = study.stages(args, *study.folders(args))
    (tmp_path / "schedule.json").write_text(json.dumps({"chosen": {"epochs": 30}}))
    later = next(stage.later for stage in plan if stage.later)
    with pytest.raises(UserError, match=r"schedule\.json: not what this version.*learning_rate"):
        later()
