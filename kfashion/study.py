"""`python -m kfashion.study`: the whole study in one command, resumable like each stage.

Runs the stages in order, each exactly as its own command would (`python -m kfashion.tune`,
`transfer`, `baseline`, `probe`, `report`), all in one folder: `--results` (default `results/`) with
KerasTuner's state in `--directory` (default `tuning/`). Before each stage it prints one line:
what runs, how much of it is already done, and an estimate of the time left, from the seconds
the finished units of work took (`kfashion.core.costs`). Stop it at any time and run the same
command again; a stage whose results file records its very command is done already and
skipped. A full-size run (no `--quick`, `--subset` or `--epochs`) first prints its predicted
training time, priced from the committed reference run's measured costs (found from the
project's folder), and keeps it in `prediction.json`; its grid's time left weighs the runs left
by those costs.

- `--quick`: a first look at every stage, on a 2-core CPU in minutes (`config.QUICK`), into
  `results/quick/` and `tuning/quick/`, with its own report: the same tables, smaller.
- `--reference`: the reference run (`config.REFERENCE`: every pretext task, the draws the
  pilot sized), into `results/next/`, KerasTuner's state in `results/next/tuning/` (the
  committed one is `results/reference/`, rewritten only when given as `--results` on
  purpose); it adds the architecture comparison (a sweep) and draws the latent maps.

The transfer stage is the crossed grid (`kfashion.finetuning.grid`): every pretraining seed the
sweep trained, crossed with each label count's draws (`config.STUDY`'s, or the mode's), its
answer judged by the analysis plan in the config. Each stage's settings are its own command's
defaults, except the sizes given here (`--subset`, `--epochs`, `--seeds`, or the mode's:
`config.STUDY`, `QUICK` or `REFERENCE`), which every stage that trains receives (of a mode's,
the transfer seeds, label counts and recipes go to transfer and probe and the lbfgs cap to the
baseline and probe; fewer epochs take fewer minimum steps in a few-label run, as many an epoch
as the default's); the counts of work the progress lines use are read from each stage's own
parsed arguments.
"""

import functools
import sys
import time
from pathlib import Path

from kfashion import config
from kfashion.config import train_split_size
from kfashion.core import cli, costs, layout
from kfashion.core.cli import flags
from kfashion.core.errors import UserError, exit_on_user_error
from kfashion.core.files import write_json
from kfashion.core.stages import Stage


def parse_args(argv):
    parser = cli.parser(
        "kfashion.study", "Run the whole study: tune, transfer, baseline, probe, report.", "--quick"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="a small look at every stage")
    which.add_argument(
        "--reference",
        action="store_true",
        help=f"the reference run, with the architecture comparison (into {config.NEXT_RESULTS})",
    )
    parser.add_argument(
        "--results", help=f"results folder (default: {config.RESULTS}, or per mode)"
    )
    parser.add_argument(
        "--directory", help=f"KerasTuner's folder (default: {config.DIRECTORY}, ...)"
    )
    parser.add_argument(
        "--workers", type=int, help="worker processes of tune and transfer (default: each one's)"
    )
    parser.add_argument(
        "--pretexts",
        help="pretext tasks to pretrain beside reconstruction, each swept over its own knobs, "
        f"comma-separated, from {', '.join(p for p in config.PRETEXTS if p != config.PRETEXT)} "
        f"(default: {config.STUDY_PRETEXTS or 'none'}; --quick: {config.QUICK['pretexts']}; "
        f"--reference: {config.REFERENCE['pretexts']})",
    )
    parser.add_argument("--data-dir", help="folder with the four IDX .gz files")
    sizes = parser.add_argument_group("sizes (default: the mode's, else each stage's own)")
    sizes.add_argument("--subset", type=int, help="a stratified subset of this many images")
    sizes.add_argument("--epochs", type=int, help="epochs of every sweep seed and transfer run")
    sizes.add_argument("--seeds", type=int, help="seeds of every sweep point and transfer case")
    return parser.parse_args(argv)


def units(module: str, argv: list[str], networks=()) -> int:
    """The units of work a stage's command will do, from its own parsed arguments (and for the
    grid, the names its encoders' networks will have: `networks`)."""
    from kfashion import tune
    from kfashion.finetuning import grid

    if module == "tune":
        args = tune.parse_args(argv)
        factors = [f for f in args.factors.split(",") if f]
        return len(config.make_design(factors, args.pretext)) * args.seeds
    if module == "transfer":
        return sum(grid.least_runs(cell) for cell in costs.cells(argv, networks))
    return 1


def full_size(args) -> bool:
    """Whether the run has the sizes its costs were measured at (no `--quick`, `--subset` or
    `--epochs`): only then is its training time predicted."""
    return not args.quick and args.subset is None and args.epochs is None


def min_steps(epochs: int | None) -> int | None:
    """The few-label runs' minimum steps for runs of `epochs` (None: the default's): as many
    per epoch as the default run takes."""
    if epochs is None:
        return None
    return max(1, round(config.MIN_STEPS * epochs / config.TRANSFER_EPOCHS))


def stage(module, argv, what, finished=None, networks=(), held=None) -> Stage:
    units_of_work = units(module, argv, networks)
    return Stage(module, argv, what, units_of_work, finished, list(networks), held)


def stages(args, results: Path, directory: Path) -> list[Stage]:
    """The study's commands in order, with the arguments that keep them in one folder."""
    from kfashion.finetuning import grid

    settings = mode(args)

    def given(value, name):  # a size given, even 0 (its stage refuses it), or the mode's
        return value if value is not None else settings.get(name)

    subset = given(args.subset, "subset")
    epochs = given(args.epochs, "epochs")
    seeds = given(args.seeds, "seeds")
    data = flags(data_dir=args.data_dir, subset=subset)
    here = flags(results=results)
    sweep = [*data, *flags(epochs=epochs, seeds=seeds, workers=args.workers)]
    plan = [
        stage(
            "tune",
            [*sweep, *here, *flags(directory=directory)],
            "the autoencoder sweep",
            lambda: layout.finished_sweep_seeds(directory),
        )
    ]
    models = [layout.model(results, "encoder").parent]
    networks = [config.network(config.REFERENCE_CHOICE)]  # as the grid will name them
    if args.reference:  # the architecture comparison: swept, not fine-tuned
        variant = results / layout.ARCHITECTURE
        variant_tuning = directory / layout.ARCHITECTURE
        plan.append(
            stage(
                "tune",
                [*sweep, "--factors", "architecture", "--select", "best"]
                + flags(results=variant, directory=variant_tuning),
                "the architecture comparison",
                lambda: layout.finished_sweep_seeds(variant_tuning),
            )
        )
    for name in pretexts(args):
        mine, mine_tuning = results / layout.PRETEXTS / name, directory / layout.PRETEXTS / name
        knobs = ",".join(k for k in config.PRETEXTS[name] if k in config.KNOBS)
        plan.append(
            stage(
                "tune",
                [*sweep, "--pretext", name, "--factors", knobs, "--select", "rank"]
                + flags(results=mine, directory=mine_tuning),
                f"{name} pretraining, its knobs swept",
                lambda folder=mine_tuning: layout.finished_sweep_seeds(folder),
            )
        )
        models.append(layout.model(mine, "encoder").parent)
        networks.append(config.network(config.REFERENCE_CHOICE, name))
    pretraining = range(seeds or config.SWEEP_SEEDS)  # every seed the sweeps trained
    most = grid.most_labels(train_split_size(subset))  # the counts its split holds
    labels = settings.get("labels", config.LABELS)
    counts = [c for c in labels.split(",") if c == "all" or int(c) <= most]
    transfer = [*data, *here, *flags(directory=directory, epochs=epochs, workers=args.workers)]
    draws = given(args.seeds, "transfer_seeds")
    transfer += flags(seeds=draws, min_steps=min_steps(epochs), recipes=settings.get("recipes"))
    others = [c for c in settings.get("pretext_labels", "").split(",") if c in counts]
    if others:  # the mode's label counts of the other pretexts (and the augmentation control)
        transfer += ["--pretext-labels", ",".join(others)]
    if set(pretexts(args)) & set(config.AUGMENTED_PRETEXTS):  # and its augmentation control
        transfer += ["--cases", f"{config.CLASSIC_CASES},{config.AUGMENTED_CASE}"]
    encoders = [arg for folder in models for arg in ("--encoder", str(folder))]
    encoders += ["--encoder-seeds", ",".join(map(str, pretraining)), "--labels", ",".join(counts)]
    transfer += encoders
    what = "the grid of transfer runs"
    cells = costs.cells(transfer, networks)
    groups = {(cell.network, cell.labels) for cell in cells}
    finished = functools.partial(layout.finished_transfer_runs, results, groups)
    held = functools.partial(costs.least_runs_held, cells, results)
    plan.append(stage("transfer", transfer, what, finished, networks, held))
    baseline = [*data, *here, *flags(max_iter=settings.get("max_iter"))]
    plan.append(stage("baseline", baseline, "logistic regression on pixels"))
    probe = [*baseline, *flags(seeds=draws), *encoders]
    plan.append(stage("probe", probe, "linear probes on frozen codes, pixels and PCA"))
    if args.reference:
        plan.append(
            stage(
                "latent",
                [*data, *here, "--encoder", str(layout.model(results, "encoder"))]
                + ["--encoder", str(layout.model(variant, "encoder"))],
                "maps of the latent space",
            )
        )
    plan.append(stage("report", here, "the findings and the report"))
    return plan


def keep_prediction(path: Path, predicted: dict, argv) -> None:
    """Write a full-size run's prediction once; where the run resumes with another plan (a
    stage's units changed), add the new plan's prediction as an amendment, the first kept."""
    from kfashion.core.files import read_record
    from kfashion.core.provenance import provenance

    made = {"provenance": provenance("kfashion.study", argv), **predicted}
    kept = read_record(path)
    if kept is None:
        write_json(path, made)
        return
    latest = (kept.get("amended") or [kept])[-1]
    if [s["units"] for s in latest["stages"]] != [s["units"] for s in made["stages"]]:
        write_json(path, {**kept, "amended": [*kept.get("amended", []), made]})


def finish_prediction(path: Path) -> None:
    """Mark the last plan of a prediction finished, when its every stage first was."""
    from kfashion.core.files import read_json
    from kfashion.core.provenance import utc_now

    kept = read_json(path)
    latest = (kept.get("amended") or [kept])[-1]
    if "finished" not in latest:
        latest["finished"] = utc_now()
        write_json(path, kept)


def mode(args) -> dict:
    """The settings of the study's mode (the default study's too) that differ from each
    stage's defaults."""
    return config.QUICK if args.quick else config.REFERENCE if args.reference else config.STUDY


def pretexts(args) -> list[str]:
    """The pretexts the study pretrains beside reconstruction: --pretexts, or its mode's."""
    text = args.pretexts
    if text is None:
        text = mode(args).get("pretexts", config.STUDY_PRETEXTS)
    names = [name for name in text.split(",") if name]
    unknown = [n for n in names if n not in config.PRETEXTS or n == config.PRETEXT]
    if unknown:
        others = ", ".join(p for p in config.PRETEXTS if p != config.PRETEXT)
        raise UserError(f"--pretexts: unknown pretext {unknown[0]!r}; choose from {others}")
    return list(dict.fromkeys(names))


def folders(args) -> tuple[Path, Path]:
    if args.quick:
        default = config.QUICK_RESULTS, config.QUICK_DIRECTORY
    elif args.reference:
        default = config.NEXT_RESULTS, config.NEXT_DIRECTORY
    else:
        default = config.RESULTS, config.DIRECTORY
    return Path(args.results or default[0]), Path(args.directory or default[1])


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    # the sizes, folders and workers are checked by the stages that take them, at once: the
    # sweep, which checks them all before it loads a framework, comes first
    results, directory = folders(args)
    plan = stages(args, results, directory)
    # a full-size run's prediction: printed first, written once its first stage has checked
    # the arguments and made the folder (a refused command leaves no trace); its numbers come
    # from committed costs alone, the same whenever written; they weigh its grid's runs left too
    prices, sweep = costs.committed_costs() if full_size(args) else (None, None)
    predicted = costs.prediction(plan, prices, sweep)
    if predicted is not None:
        print(
            f"[study] predicted: about {predicted['predicted_seconds'] / 3600:.1f} h of training "
            "in the runs' own seconds (workers side by side take less on the clock)"
        )
    start = time.perf_counter()
    for index, stage in enumerate(plan):
        command = " ".join(["python -m", f"kfashion.{stage.module}", *stage.argv])
        done = f"{stage.done()} of {stage.units_text(stage.units)} done; "
        progress = done if stage.finished else ""
        print(
            f"[study {index + 1}/{len(plan)}] {stage.what}: {command}\n"
            f"[study {index + 1}/{len(plan)}] {progress}{costs.time_left(plan, index, prices)}",
            flush=True,
        )
        if stage.made_already():
            print(f"[study {index + 1}/{len(plan)}] done already: its results record this command")
        else:
            module = __import__(f"kfashion.{stage.module}", fromlist=["main"])
            module.main(stage.argv)
        if predicted is not None:
            keep_prediction(results / layout.PREDICTION, predicted, argv)
    if predicted is not None:  # every stage of its plan done: the time it took is whole
        finish_prediction(results / layout.PREDICTION)
    minutes = (time.perf_counter() - start) / 60
    print(f"[study] done in {minutes:.1f} min; the report is {results / layout.REPORT}")


if __name__ == "__main__":
    main()
