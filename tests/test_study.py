"""The study's plan: each stage gets the sizes the study was given, and its counts of work come
from the stage's own command. (The study itself runs in tests/test_readme.py.)"""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import docs_render

from kfashion import config, report, study, transfer, tune
from kfashion.core import costs, layout
from kfashion.core.errors import UserError
from kfashion.core.files import write_json
from kfashion.finetuning import grid
from kfashion.rendering import sections

TRAINING_STAGES = {"tune", "transfer", "latent", "baseline", "probe"}


def plan_of(argv, tmp_path):
    """The stages `study ARGV` runs."""
    args = study.parse_args([*argv, "--results", str(tmp_path), "--directory", str(tmp_path)])
    return study.stages(args, *study.folders(args))


def parsed(stage):
    return {"tune": tune, "transfer": transfer}[stage.module].parse_args(stage.argv)


def grid_stage(plan):
    return next(stage for stage in plan if stage.module == "transfer")


def test_every_stage_of_the_reference_plan_gets_the_sizes_given(tmp_path):
    plan = plan_of(["--reference", "--subset", "600", "--epochs", "2", "--seeds", "2"], tmp_path)
    pretexts = config.REFERENCE["pretexts"].split(",")
    modules = ["tune"] * (2 + len(pretexts)) + ["transfer", "baseline", "probe", "latent", "report"]
    assert [s.module for s in plan] == modules
    for stage in plan:
        if stage.module in TRAINING_STAGES:
            assert stage.argv[stage.argv.index("--subset") + 1] == "600", stage
        if stage.module in ("tune", "transfer"):
            assert parsed(stage).epochs == 2, stage
            assert str(parsed(stage).seeds) == "2", stage  # transfer's may be one per count
    for name, stage in zip(pretexts, plan[2:], strict=False):  # each its knobs, chosen by rank
        args = parsed(stage)
        assert (args.pretext, args.select) == (name, "rank")
        assert args.factors == ",".join(k for k in config.PRETEXTS[name] if k in config.KNOBS)
        assert args.results == str(tmp_path / "pretexts" / name)
    grid_args = parsed(grid_stage(plan))
    assert grid_args.encoder_seeds == "0,1"  # every seed the sweeps trained
    assert grid_args.encoder == [  # the architecture comparison is swept, not fine-tuned
        str(tmp_path / "models"),
        *(str(tmp_path / "pretexts" / name / "models") for name in pretexts),
    ]
    probe = next(stage for stage in plan if stage.module == "probe").argv
    assert probe.count("--encoder") == len(grid_args.encoder)
    assert grid.parse_recipes(grid_args.recipes) == ["joint"]
    assert grid_args.cases == "1,2,3,4,5"  # contrastive pretraining: the augmentation control too
    default = parsed(grid_stage(plan_of(["--pretexts", "masked"], tmp_path)))
    assert default.cases == "1,2,3,4" and default.recipes == config.GRID_RECIPES
    assert grid_args.labels == "100,all"  # the counts below its 500 training images
    assert parsed(grid_stage(plan_of(["--reference"], tmp_path))).labels == "100,1000,all"


def test_pretexts_are_the_modes_unless_given_and_unknown_ones_are_refused(tmp_path):
    def pretexts(argv):
        return [parsed(s).pretext for s in plan_of(argv, tmp_path) if s.module == "tune"]

    assert pretexts([]) == ["reconstruction"]  # the default study: reconstruction alone
    assert pretexts(["--quick"]) == ["reconstruction", "denoising"]  # the cheapest beside it
    assert pretexts(["--quick", "--pretexts", ""]) == ["reconstruction"]
    assert pretexts(["--pretexts", "masked,supervised"]) == [
        "reconstruction",
        "masked",
        "supervised",
    ]
    assert pretexts(["--reference", "--pretexts", ""]) == ["reconstruction", "reconstruction"]
    for wrong in ("jigsaw", "reconstruction"):
        with pytest.raises(UserError, match=f"--pretexts: unknown pretext '{wrong}'"):
            plan_of(["--pretexts", wrong], tmp_path)


def test_workers_given_to_the_study_reach_both_searches(tmp_path):
    tune_stage, transfer_stage = plan_of(["--workers", "3"], tmp_path)[:2]
    assert parsed(tune_stage).workers == parsed(transfer_stage).workers == 3
    tune_stage, transfer_stage = plan_of([], tmp_path)[:2]
    assert "--workers" not in tune_stage.argv + transfer_stage.argv  # each command's own


def test_the_time_left_counts_workers_side_by_side_once(tmp_path, monkeypatch):
    from kfashion.engine import parallel

    monkeypatch.setattr(parallel, "most_workers", lambda: 2)
    sweep, tune_again, grid_runs, baseline = (
        study.Stage("tune", [], "a sweep", units=10),
        study.Stage("tune", ["--workers", "1"], "a sweep in its own process", units=10),
        study.Stage("transfer", [], "a grid", units=10),
        study.Stage("baseline", ["--workers", "4"], "no workers of its own"),
    )
    assert [s.workers for s in (sweep, tune_again, grid_runs, baseline)] == [2, 1, 2, 1]
    runs = [tmp_path / f"run{index}.json" for index in range(4)]
    for path in runs:
        write_json(path, {"seconds": 60.0})
    for stage in (sweep, tune_again, grid_runs):  # 4 of 10 units done, a minute each
        stage.finished = lambda: runs
    # 6 minutes of runs left in each: 3 in two workers, 6 in one
    assert (
        costs.time_left([sweep, tune_again, grid_runs], 0) == "time left: about 12 min of training"
    )
    untimed = [study.Stage("tune", [], "one seed", units=1), study.Stage("transfer", [], "two")]
    for stage in untimed:
        stage.finished = list  # none finished yet: named, not timed
    untimed[1].units = 2
    assert costs.time_left(untimed, 0) == (
        "time left: 1 seed of tune, 2 runs of transfer, timed once the first of each ends"
    )


def test_a_full_size_grids_time_left_weighs_its_runs_left_by_the_pilots_costs(tmp_path):
    # two finished 100-label runs of case 1, priced at 1 s each by the pilot, took 3 s each:
    # every run left takes three times its price, the all-label ones too
    pilot = {"seconds_per_run": {c: {"1": 1.0, "2": 1.0, "3": 1.0, "4": 1.0} for c in
                                 ("100", "1000", "10000", "all")}}  # fmt: skip
    pilot["seconds_per_run"]["all"] = {"1": 1000.0, "2": 1.0, "3": 1000.0, "4": 1.0}
    plan = plan_of([], tmp_path)
    grid_runs = grid_stage(plan)
    runs = [tmp_path / f"run{index}.json" for index in range(2)]
    for path in runs:
        write_json(path, {"labels": "100", "case": 1, "seconds": 3.0})
    unpriced = [tmp_path / "run_500.json", tmp_path / "run_unfinished.json"]
    write_json(unpriced[0], {"labels": "500", "case": 1, "seconds": 99.0})  # another grid's
    write_json(unpriced[1], {"labels": "100", "case": 1, "seconds": None})
    grid_runs.finished = lambda: runs + unpriced  # left out, not a crash
    predicted = costs.predicted_seconds(grid_runs, pilot, None)
    left = costs.grid_seconds_left(grid_runs, pilot)
    assert left == pytest.approx(predicted * 3.0)  # no run of the plan is at its place yet
    # the same runs, each unit at their mean, would say far less: all labels cost more
    assert left > (grid_runs.units - 2) * 3.0 * 2
    hours = left / grid_runs.workers / 3600
    assert costs.time_left([grid_runs], 0, pilot) == f"time left: about {hours:.1f} h of training"
    # a choice made with all labels, and one of the final runs that take it: no longer left
    cells = costs.cells(grid_runs.argv, grid_runs.networks)
    choice = next(c for c in cells if c.search and (c.labels, c.case) == ("all", 1))
    final = next(c for c in cells if not c.search and (c.labels, c.case) == ("all", 1))
    layout.choice(tmp_path, choice).parent.mkdir(parents=True)
    write_json(layout.choice(tmp_path, choice), {"recipe": "joint", "learning_rate": 0.001})
    write_json(layout.grid_run(tmp_path, replace(final, recipe="joint"), *final.runs[0]), {})
    made = 1000.0 * (grid.least_runs(choice) + 1)
    assert costs.grid_seconds_left(grid_runs, pilot) == pytest.approx(left - 3.0 * made)
    grid_runs.finished = lambda: []  # nothing finished: nothing measured to scale by
    assert costs.grid_seconds_left(grid_runs, pilot) is None


def test_the_grids_progress_counts_only_its_own_groups_records(tmp_path):
    grid_runs = grid_stage(plan_of([], tmp_path))
    mine = layout.grid_runs(tmp_path, "course", "100") / "cv_case1_joint_lr0.001_seed0_fold0.json"
    other = layout.grid_runs(tmp_path, "course", "500") / "cv_case1_joint_lr0.001_seed0_fold0.json"
    for path in (mine, other):
        path.parent.mkdir(parents=True)
        write_json(path, {"seconds": 1.0})
    assert grid_runs.finished() == [mine]


def test_the_grids_progress_counts_each_cells_least_runs_at_most(tmp_path):
    # a choice whose best rate was at the edge of its ladder trains one more rate: records
    # beyond its least runs, which neither pass the grid's units nor hide its time left
    grid_runs = grid_stage(plan_of([], tmp_path))
    cells = costs.cells(grid_runs.argv, grid_runs.networks)
    choice = next(c for c in cells if c.search and c.labels == "100")
    recipe = choice.recipes[0]
    tried = [(r, rate) for r in choice.recipes for rate in config.RECIPES[r].rates]
    tried.append((recipe, config.RECIPES[recipe].ladder[0]))
    for tried_recipe, rate in tried:
        for fold in range(config.FOLDS):
            path = layout.fold_run(tmp_path, choice, tried_recipe, rate, fold)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, {"labels": "100", "case": choice.case, "seconds": 1.0})
    write_json(layout.choice(tmp_path, choice), {"recipe": recipe, "learning_rate": tried[-1][1]})
    assert len(grid_runs.finished()) > grid.least_runs(choice)
    assert grid_runs.done() == grid.least_runs(choice)
    pilot = {"seconds_per_run": {c.labels: dict.fromkeys("1234", 1.0) for c in cells}}
    assert costs.time_left([grid_runs], 0, pilot) != "time left: under a minute of training"


def test_units_of_work_follow_each_commands_defaults(tmp_path):
    plan = plan_of(["--reference"], tmp_path)
    sweep, variant, denoising, masked = plan[:4]
    assert sweep.units == 14 * config.SWEEP_SEEDS and variant.units == 3 * config.SWEEP_SEEDS
    assert denoising.units == 3 * config.SWEEP_SEEDS  # noise: the base case and 2 levels
    assert masked.units == 4 * config.SWEEP_SEEDS  # ratio: 2 levels beside the base; patch: 1
    # per network, each draw of a few-label count: the choices of cases 1 and 2 (3 folds of
    # 2 rates, joint and frozen), then cases 1 and 2 from 3 pretraining seeds; with all labels
    # (reconstruction's network only) the choices train once each, and the final runs cover
    # every draw. The course network pretrained by each pretext shares one random arm: cases 3
    # and 4, and at the few-label counts 5 (the augmentation control, there for contrastive
    # pretraining), each chosen likewise and run from 2 initialisations of each draw.
    draws = config.REFERENCE_DRAWS  # the pilot's sizes
    few = draws[100] + draws[1000]
    assert config.REFERENCE["pretext_labels"] == "100,1000"
    pretrained = few * (2 * 3 * 2 + 2 * 3)
    random = few * (3 * 3 * 2 + 3 * 2) + 2 * 2 + draws["all"] * 2 * 2
    networks = 1 + len(config.REFERENCE["pretexts"].split(","))
    with_all = 2 * 2 + draws["all"] * 2 * 3  # reconstruction's, with all labels
    assert grid_stage(plan).units == networks * pretrained + with_all + random


def test_the_quick_look_runs_every_stage_of_the_study_at_its_sizes(tmp_path):
    plan = plan_of(["--quick"], tmp_path)
    modules = ["tune", "tune", "transfer", "baseline", "probe", "report"]
    assert [s.module for s in plan] == modules
    assert config.QUICK["pretexts"] == "denoising" == parsed(plan[1]).pretext  # the cheapest
    grid_args = parsed(grid_stage(plan))
    assert grid_args.pretext_labels == config.QUICK["pretext_labels"] == "100"
    assert parsed(plan[0]).subset == config.QUICK["subset"] == grid_args.subset
    assert parsed(plan[0]).seeds == config.QUICK["seeds"]
    assert grid_args.seeds == str(config.QUICK["transfer_seeds"])
    assert grid_args.recipes == config.QUICK["recipes"]
    assert grid_args.directory == str(tmp_path)  # KerasTuner's state beside the sweep's
    baseline = plan[3].argv
    assert baseline[baseline.index("--max-iter") + 1] == str(config.QUICK["max_iter"])
    assert "--max-iter" not in plan_of([], tmp_path)[2].argv  # the study's own: the default


def test_the_readme_describes_the_quick_look_at_its_sizes():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    readme = " ".join(text.split())  # its words, whatever the line breaks
    quick, subset = config.QUICK, config.QUICK["subset"]
    assert f"- {subset:,} images ({subset * 5 // 6:,} to train, {subset // 6:,} to" in readme
    assert f"validate) and {quick['epochs']} epochs;" in readme
    assert quick["seeds"] == 1 and quick["pretexts"] == "denoising"
    assert "- one sweep seed a point, and one a noise level of the denoising sweep;" in readme
    labels = quick["labels"].replace(",", " and ")
    assert (
        f"- {quick['transfer_seeds']} draws of labels at {labels} labels, the {quick['recipes']} "
        f"recipe alone (the denoising encoder at {quick['pretext_labels']} labels);"
    ) in readme
    assert f"- the baseline's fits capped at {quick['max_iter']} iterations." in readme


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
    assert parsed(grid_stage(plan)).labels == "all"
    train = 130 - 130 // 6
    grid.parse_counts(parsed(grid_stage(plan)).labels, train)  # accepted as the stage would


def test_fewer_epochs_take_fewer_minimum_steps_in_a_few_label_run(tmp_path):
    assert parsed(plan_of([], tmp_path)[1]).min_steps == config.MIN_STEPS  # its own default
    quick = parsed(grid_stage(plan_of(["--quick"], tmp_path)))
    assert quick.epochs == 2 and quick.min_steps == 67  # 1000 steps of 30 epochs, 2 of them


def test_the_reference_runs_prediction_prices_each_unit_at_its_measured_cost(tmp_path):
    plan = plan_of(["--reference"], tmp_path)
    sweep = {"trials": [{"seeds": [{"seconds": 10.0}, {"seconds": 30.0}]}]}
    pilot = {"seconds_per_run": {c: {"1": 1.0, "2": 0.0, "3": 100.0, "4": 0.0} for c in
                                 ("100", "1000", "all")}}  # fmt: skip
    tune_stage, transfer_stage = plan[0], grid_stage(plan)
    assert costs.predicted_seconds(tune_stage, pilot, sweep) == 20.0 * tune_stage.units
    cells = costs.cells(transfer_stage.argv, transfer_stage.networks)
    expected = sum(
        grid.least_runs(cell) * {1: 1.0, 3: 100.0, 5: 100.0}.get(cell.case, 0.0) for cell in cells
    )  # the augmentation control (case 5) at a random encoder trained jointly's cost
    assert costs.predicted_seconds(transfer_stage, pilot, sweep) == pytest.approx(expected)
    assert costs.predicted_seconds(plan[-1], pilot, sweep) is None  # the report: no training
    committed = costs.prediction(plan, *costs.committed_costs())  # from the committed costs
    assert committed["predicted_seconds"] > 0


def test_a_prediction_loads_no_framework_and_is_none_without_the_committed_costs(tmp_path):
    code = (
        "import sys; from pathlib import Path; from kfashion import study; "
        "from kfashion.core import costs; "
        "args = study.parse_args([]); plan = study.stages(args, Path('r'), Path('t')); "
        "print(costs.prediction(plan, *costs.committed_costs()) is None, "
        "sorted({'keras', 'tensorflow', 'jax'} & "
        "set(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[1]
    for where, none in ((root, False), (tmp_path, True)):  # tmp_path: no committed costs
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=where, capture_output=True, text=True, check=True
        )
        assert done.stdout.split() == [str(none), "[]"], done.stderr[-2000:]


def test_every_full_size_run_predicts_its_time_and_no_smaller_one_does():
    assert study.full_size(study.parse_args([]))  # the default study, too
    assert study.full_size(study.parse_args(["--reference", "--seeds", "2"]))
    for smaller in (["--quick"], ["--subset", "600"], ["--epochs", "2"]):
        assert not study.full_size(study.parse_args(smaller))


def test_the_time_taken_is_read_where_each_stage_of_the_study_writes(tmp_path):
    results = tmp_path / "results"
    plan = study.stages(study.parse_args(["--reference"]), results, tmp_path / "tuning")
    sweeps = [stage for stage in plan if stage.module == "tune"]
    assert len(sweeps) == 2 + len(config.REFERENCE["pretexts"].split(","))
    for index, stage in enumerate(sweeps):  # each sweep's seeds took their own seconds
        written = Path(stage.argv[stage.argv.index("--results") + 1])
        trials = [{"seeds": [{"seconds": index}, {"seconds": 100.0}]}]
        write_json(written / layout.SWEEP, {"trials": trials})
    write_json(results / layout.GRID, {"settings": {"networks": ["course"], "labels": ["100"]}})
    # two runs side by side, then one after a pause: 30 s on the clock, 40 s of runs
    ended = ["2026-12-06T10:00:10+00:00", "2026-12-06T10:00:20+00:00", "2026-12-06T11:00:00+00:00"]
    for name, end, seconds in zip(
        ("case1", "cv_case1", "case3"), ended, (10.0, 20.0, 10.0), strict=True
    ):
        write_json(
            layout.grid_runs(results, "course", "100") / f"{name}_joint_seed0.json",
            {"seconds": seconds, "ended": end},
        )
    other = layout.grid_runs(results, "linear_code", "100") / "case1_joint_seed0.json"
    write_json(other, {"seconds": 99.0, "ended": ended[0]})  # another grid's, beside it
    entries = [
        {"what": s.what, "module": s.module} for s in plan if s.module in ("tune", "transfer")
    ]
    runs = [report.stage_runs(entry, results) for entry in entries]
    taken = [sections.taken_seconds(done) for done in runs]
    assert taken == [100.0 + index for index in range(len(sweeps))] + [40.0]
    assert sections.clock_seconds(runs[-1]) == 30.0
    assert sections.clock_seconds(runs[0]) is None  # no seed says when it ended
    mixed = [{"seconds": 1.0, "ended": ended[0]}, {"seconds": 1.0}]  # nor does every run here
    assert sections.clock_seconds(mixed) is None
    prediction = {
        "provenance": {"command": "python -m kfashion.study --reference"},
        "costs": {"tune": "a cost"},
        "stages": [{**entry, "units": 3, "predicted_seconds": 3600.0} for entry in entries],
        "predicted_seconds": 3600.0 * len(entries),
    }
    lines = sections.time_section(prediction, runs)
    assert "| the grid of transfer runs | 3 | 1.0 h | 0.0 h | 0.01 | 0.0 h |" in lines
    lines = sections.time_section(prediction, [*runs[:-1], None])  # the grid not done yet
    assert "| the grid of transfer runs | 3 | 1.0 h | - | - | - |" in lines
    assert any(
        line.startswith("| the autoencoder sweep | 3 | 1.0 h | 0.0 h | 0.03 | - |")
        for line in lines
    )
    # the README's line under the answer: the whole study's time, once every stage is done
    write_json(results / layout.PREDICTION, prediction)
    assert report.training_time(results) == (prediction, runs)
    said = docs_render().time_taken(results, "results/x")
    assert said[-1] == (
        "The run behind it, `python -m kfashion.study --reference`, took 0.2 h of training in "
        "its runs' own seconds ([each stage's time]"
        "(results/x/README.md#training-time-predicted-and-taken))."
    )  # no time on the clock: the sweeps' seeds do not say when they ended
    (results / layout.GRID).unlink()
    assert docs_render().time_taken(results, "results/x") == []  # the grid not done yet


def test_a_run_resumed_with_another_plan_keeps_its_first_prediction_and_adds_the_new(tmp_path):
    path = tmp_path / layout.PREDICTION

    def predicted(grid_units, seconds):
        stages = [
            {"what": "the autoencoder sweep", "module": "tune", "units": 42,
             "predicted_seconds": 3600.0},
            {"what": "the grid of transfer runs", "module": "transfer", "units": grid_units,
             "predicted_seconds": seconds},
        ]  # fmt: skip
        return {"costs": {"tune": "a cost"}, "stages": stages, "predicted_seconds": 3600 + seconds}

    study.keep_prediction(path, predicted(1652, 36000.0), ["--reference"])
    first = json.loads(path.read_text())
    study.keep_prediction(path, predicted(1652, 36000.0), ["--reference"])  # resumed alike
    assert json.loads(path.read_text()) == first
    study.keep_prediction(path, predicted(1530, 7200.0), ["--reference"])  # a plan amended
    kept = json.loads(path.read_text())
    assert {k: v for k, v in kept.items() if k != "amended"} == first
    assert [a["stages"][1]["units"] for a in kept["amended"]] == [1530]
    lines = sections.time_section(kept, [None, None])
    text = "\n".join(lines)
    assert "with its plan amended (its first plan, predicted on " in text
    assert ": 11.0 h in all; the grid of transfer runs: 1,652 units)" in text
    assert "| the grid of transfer runs | 1,530 | 2.0 h | - | - | - |" in lines


def test_a_stage_whose_results_record_its_very_command_is_done_already(tmp_path):
    # a clone of a reference run in progress: the sweep's records and models are there, but not
    # KerasTuner's state or the seeds' weights, so running the sweep again would retrain it all
    from kfashion.core.provenance import command_line

    plan = study.stages(study.parse_args(["--reference"]), tmp_path / "r", tmp_path / "t")
    sweep = plan[0]
    assert not sweep.made_already()  # nothing there yet
    made = {"provenance": {"command": command_line("kfashion.tune", sweep.argv)}}
    write_json(tmp_path / "r" / layout.SWEEP, made)
    assert sweep.made_already()
    other = study.stages(
        study.parse_args(["--reference", "--seeds", "2"]), tmp_path / "r", tmp_path / "t"
    )
    assert not other[0].made_already()  # another experiment: it runs (and extends)
    assert not plan[-1].made_already()  # the report is always made again


def test_the_quick_looks_time_is_rendered_only_from_a_cpus_timing_at_todays_sizes():
    render = docs_render()
    run = {
        "command": "python -m kfashion.study --quick",
        "date": "2026-12-07T18:16:26+00:00",
        "sizes": config.QUICK,
        "wall_seconds": 251.0,
        "stage_seconds": {"kfashion.tune --pretext denoising": 16.0},
        "compilation_cache": {"hits": 0, "misses": 0},
    }
    bench = {"AMD EPYC x2, no GPU, tensorflow": {"quick_study": run}}
    (line,) = render.quick_time(bench)
    assert line.startswith("The quick look took 4.2 minutes from scratch (the data already")
    assert "2-core CPU (AMD EPYC x2, no GPU, tensorflow, 2026-12-07" in line
    speed = "\n".join(render.speed_section(bench))  # an entry of a quick look alone
    assert "(kfashion ?, 2026-12-07), from scratch: 251 s (kfashion.tune (denoising) 16 s)" in speed
    assert render.quick_time({"Xeon x16, no GPU, tensorflow": {"quick_study": run}}) == []
    earlier = {**run, "sizes": {**config.QUICK, "subset": 12_000}}  # another version's sizes
    assert render.quick_time({"AMD EPYC x2, no GPU, tensorflow": {"quick_study": earlier}}) == []
    assert render.quick_time({"Xeon x16, NVIDIA H200, jax": {"quick_study": run}}) == []


def test_the_reference_grid_at_its_own_prices_predicts_the_seconds_its_runs_took():
    """A grid's prices are its seconds per least run: priced at them, the committed reference
    grid's plan costs what its runs took (its choices' extra rates included), and a count it
    did not run (10,000) is the pilot's price scaled by a ratio the two counts share."""
    root = Path(__file__).resolve().parents[1]
    reference = root / config.REFERENCE_RESULTS
    made = json.loads((reference / layout.GRID).read_text())
    argv, networks = made["provenance"]["command"].split()[3:], made["settings"]["networks"]
    prices, _ = costs.committed_costs(root)
    cost = prices["seconds_per_run"]
    planned = costs.cells(argv, networks)
    predicted = sum(
        grid.least_runs(cell) * cost[cell.labels][str(costs.priced_as(cell.case))]
        for cell in planned
    )
    mine = {(layout.grid_runs(reference, cell.network, cell.labels), cell.case) for cell in planned}
    records = [
        (path, json.loads(path.read_text())) for path in layout.finished_transfer_runs(reference)
    ]
    took = sum(
        record["seconds"] for path, record in records if (path.parent, record["case"]) in mine
    )
    assert predicted == pytest.approx(took)
    assert took > 20 * 3600  # the least runs alone would price it far lower
    pilot = json.loads((root / config.PILOT_RESULTS / layout.PILOT).read_text())
    scales = {cost["10000"][c] / pilot["seconds_per_run"]["10000"][c] for c in cost["10000"]}
    assert len({round(s, 9) for s in scales}) == 1 and 1 < scales.pop() < 10


def test_the_default_study_runs_its_own_config_and_the_readme_says_so(tmp_path):
    grid_args = parsed(grid_stage(plan_of([], tmp_path)))
    assert grid_args.labels == config.STUDY["labels"] == "100,all"
    assert grid_args.recipes == config.GRID_RECIPES == "joint"  # transfer's own
    assert grid_args.seeds == config.STUDY["transfer_seeds"] == "100:8,all:3"
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert (
        "its 3 pretraining seeds crossed with 8 and 3 draws of labels at 100 and all labels, "
        "the joint recipe alone" in readme
    )


def test_the_readme_lists_the_quick_looks_own_sizes():
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    quick = config.QUICK
    train = config.train_split_size(quick["subset"])
    labels = " and ".join(quick["labels"].split(","))
    assert quick["seeds"] == 1  # "one sweep seed a point"
    for said in (
        f"{quick['subset']:,} images ({train:,} to train, {quick['subset'] - train:,} to "
        f"validate) and {quick['epochs']} epochs",
        "one sweep seed a point",
        f"{quick['transfer_seeds']} draws of labels at {labels} labels, the {quick['recipes']} "
        f"recipe alone (the {quick['pretexts']} encoder at {quick['pretext_labels']} labels)",
        f"with {quick['pretexts']} pretraining beside reconstruction",
        f"capped at {quick['max_iter']} iterations",
    ):
        assert said in readme, said


def test_a_grids_price_is_its_plans_seconds_over_its_least_runs(tmp_path):
    """Case 3 with all labels, one draw: a choice (2 starting rates, one more tried) and 2
    initialisations, 4 least runs that took 5 runs of 10 s; a case-5 run left in the same
    folder by another plan is not this plan's."""
    argv = ["--labels", "all", "--seeds", "1", "--cases", "3"]
    choice, final = sorted(costs.cells(argv, ["course"]), key=lambda cell: not cell.search)
    assert grid.least_runs(choice) + grid.least_runs(final) == 4
    chosen = replace(final, recipe="joint")
    paths = [layout.grid_run(tmp_path, chosen, *run) for run in final.runs]
    paths += [layout.fold_run(tmp_path, choice, "joint", rate, 0) for rate in (1e-4, 1e-3, 3e-3)]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"labels": "all", "case": 3, "seconds": 10.0})
    other = layout.grid_run(tmp_path, replace(chosen, case=5), *final.runs[0])
    write_json(other, {"labels": "all", "case": 5, "seconds": 1000.0})
    assert costs.taken_prices(argv, ["course"], tmp_path) == {"all": {"3": 12.5}}


def test_the_readme_states_the_default_studys_time_once_a_study_of_its_plan_is_timed_whole(
    tmp_path,
):
    args = study.parse_args([])
    predicted = costs.prediction(
        study.stages(args, *study.folders(args)), *costs.committed_costs(docs_render().ROOT)
    )
    timed = tmp_path / "study"
    render = docs_render()
    assert render.timed_whole(timed, predicted) == "It has not been timed whole."
    made_on = {"machine": "AMD EPYC, 2 cores, Linux, no GPU"}
    seeds = [  # two seeds side by side, 100 s each, on the 6th
        {"seconds": 100.0, "ended": "2026-12-06T10:01:40+00:00", "environment": made_on},
        {"seconds": 100.0, "ended": "2026-12-06T10:01:40+00:00", "environment": made_on},
    ]
    write_json(timed / layout.SWEEP, {"trials": [{"seeds": seeds}]})
    write_json(timed / layout.GRID, {"settings": {"networks": ["course"], "labels": ["100"]}})
    run = {"seconds": 3600.0, "ended": "2026-12-07T11:00:00+00:00", "environment": made_on}
    write_json(layout.grid_runs(timed, "course", "100") / "case1_joint_seed0.json", run)
    command = "python -m kfashion.study --results results/study --directory results/study/tuning"
    write_json(timed / layout.PREDICTION, {**predicted, "provenance": {"command": command}})
    # every stage's records are there, but the study has not said it finished its plan
    assert render.timed_whole(timed, predicted) == "It has not been timed whole."
    study.finish_prediction(timed / layout.PREDICTION)
    assert render.timed_whole(timed, predicted) == (
        f"Timed whole, `{command}` took 1.1 h of training in its runs' own seconds, 1.0 h on "
        "the clock (AMD EPYC, 2 cores, Linux, no GPU; 2026-12-06 to 2026-12-07: [each stage's "
        f"time]({timed}/README.md#training-time-predicted-and-taken))."
    )
    other = {**predicted, "stages": [{**s, "units": s["units"] + 1} for s in predicted["stages"]]}
    said = render.timed_whole(timed, other)  # a study of another plan than today's
    assert said == "It has not been timed whole at today's sizes."
