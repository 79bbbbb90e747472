"""The study's plan: each stage gets the sizes the study was given, and its counts of work come
from the stage's own command. (The study itself runs in tests/test_readme.py.)"""

import pytest

from kfashion import config, study, transfer, tune
from kfashion.core.errors import UserError
from kfashion.finetuning import grid

TRAINING_STAGES = {"tune", "transfer", "latent", "baseline", "probe"}


def plan_of(argv, tmp_path):
    """The stages `study ARGV` runs."""
    args = study.parse_args([*argv, "--results", str(tmp_path), "--directory", str(tmp_path)])
    return study.stages(args, *study.folders(args))


def parsed(stage):
    return {"tune": tune, "transfer": transfer}[stage.module].parse_args(stage.argv)


def test_every_stage_of_the_reference_plan_gets_the_sizes_given(tmp_path):
    plan = plan_of(["--reference", "--subset", "600", "--epochs", "2", "--seeds", "2"], tmp_path)
    modules = ["tune", "tune", "transfer", "baseline", "probe", "latent", "report"]
    assert [s.module for s in plan] == modules
    for stage in plan:
        if stage.module in TRAINING_STAGES:
            assert stage.argv[stage.argv.index("--subset") + 1] == "600", stage
        if stage.module in ("tune", "transfer"):
            assert parsed(stage).epochs == 2, stage
            assert str(parsed(stage).seeds) == "2", stage  # transfer's may be one per count
    grid_args = parsed(plan[2])
    assert grid_args.encoder_seeds == "0,1"  # every seed the sweeps trained
    assert grid_args.encoder == [str(tmp_path / "models"), str(tmp_path / "architecture/models")]
    assert grid.parse_recipes(grid_args.recipes) == ["joint", "two_phase"]
    assert grid_args.labels == "100,all"  # the counts below its 500 training images
    assert parsed(plan_of(["--reference"], tmp_path)[2]).labels == config.LABELS


def test_workers_given_to_the_study_reach_both_searches(tmp_path):
    tune_stage, transfer_stage = plan_of(["--workers", "3"], tmp_path)[:2]
    assert parsed(tune_stage).workers == parsed(transfer_stage).workers == 3
    tune_stage, transfer_stage = plan_of([], tmp_path)[:2]
    assert parsed(transfer_stage).workers == config.TRANSFER_WORKERS  # each command's own


def test_units_of_work_follow_each_commands_defaults(tmp_path):
    sweep, variant, cells = plan_of(["--reference"], tmp_path)[:3]
    assert sweep.units == 14 * config.SWEEP_SEEDS and variant.units == 3 * config.SWEEP_SEEDS
    # per network, each draw of a few-label count: the choices of cases 1 and 3 (3 folds of 2
    # joint and 2 two-phase rates) and of cases 2 and 4 (3 folds of 2 rates), then cases 1
    # and 2 from 3 pretraining seeds, cases 3 and 4 from 2 initialisations; with all labels
    # the choices train once each, and the final runs cover every draw
    per_draw = 2 * 3 * 4 + 2 * 3 * 2 + 2 * 3 + 2 * 2
    draws = config.REFERENCE_DRAWS  # the pilot's sizes
    every = 2 * 4 + 2 * 2 + draws["all"] * (2 * 3 + 2 * 2)
    assert cells.units == 2 * (per_draw * (draws[100] + draws[1000] + draws[10000]) + every)


def test_the_quick_look_runs_every_stage_of_the_study_at_its_sizes(tmp_path):
    plan = plan_of(["--quick"], tmp_path)
    assert [s.module for s in plan] == ["tune", "transfer", "baseline", "probe", "report"]
    assert parsed(plan[0]).subset == config.QUICK["subset"] == parsed(plan[1]).subset
    assert parsed(plan[0]).seeds == config.QUICK["seeds"]
    assert parsed(plan[1]).seeds == str(config.QUICK["transfer_seeds"])
    assert parsed(plan[1]).directory == str(tmp_path)  # KerasTuner's state beside the sweep's
    baseline = plan[2].argv
    assert baseline[baseline.index("--max-iter") + 1] == str(config.QUICK["max_iter"])
    assert "--max-iter" not in plan_of([], tmp_path)[2].argv  # the study's own: the default


def test_the_readme_describes_the_quick_look_at_its_sizes():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    subset = config.QUICK["subset"]
    assert f"runs every stage on {subset:,} images ({subset * 5 // 6:,} to train" in readme
    assert f"{config.QUICK['epochs']} epochs, one\nsweep seed a point and two transfer" in readme
    assert (config.QUICK["seeds"], config.QUICK["transfer_seeds"]) == (1, 2)
    assert f"the baseline's fits capped at {config.QUICK['max_iter']} iterations" in readme


def test_a_size_of_zero_reaches_its_stage_to_be_refused(tmp_path):
    """0 is a size given (and refused by the stage that takes it), not "use the default"."""
    for flag in ("--epochs", "--subset"):
        (sweep, *_) = plan_of(["--quick", flag, "0"], tmp_path)
        assert sweep.argv[sweep.argv.index(flag) + 1] == "0", flag
    with pytest.raises(UserError, match="--seeds 0: "):  # the transfer stage's, as it plans
        plan_of(["--quick", "--seeds", "0"], tmp_path)


def test_the_reference_grid_asks_only_for_label_counts_its_split_can_hold(tmp_path):
    # 130 images: 109 to train, so at most 99 labels (grid.parse_counts keeps 10 aside)
    plan = plan_of(["--reference", "--subset", "130", "--seeds", "1"], tmp_path)
    assert parsed(plan[2]).labels == "all"
    train = 130 - 130 // 6
    grid.parse_counts(parsed(plan[2]).labels, train)  # accepted as the stage would


def test_fewer_epochs_take_fewer_minimum_steps_in_a_few_label_run(tmp_path):
    assert parsed(plan_of([], tmp_path)[1]).min_steps == config.MIN_STEPS  # its own default
    quick = parsed(plan_of(["--quick"], tmp_path)[1])
    assert quick.min_steps == config.MIN_STEPS * quick.epochs // config.TRANSFER_EPOCHS
