"""`python -m kfashion.transfer`: does what the encoder learned by reconstruction help a classifier?

Classifier = encoder + one Dense(10) giving logits. Four cases, which differ only in the
encoder's starting weights and its `trainable` flag, and on request a fifth, the augmentation
control (`kfashion.finetuning.cases`):

    case 1  pretrained encoder (one a sweep saved), trained with the head (joint or two-phase)
    case 2  pretrained encoder, frozen (its head trains on codes computed once)
    case 3  fresh encoder of the same configuration (cloned from the file, re-initialised)
    case 4  fresh encoder, frozen
    case 5  fresh encoder, trained jointly on augmented images (the contrastive pretext's
            augmentations): the augmentation control, on request (`--cases 1,2,3,4,5`)

The runs form one grid (`kfashion.finetuning.grid`): every encoder network given, every case
and label count, each pretraining seed crossed with every draw of labels (the fine-tuning
seeds), a random encoder from several initialisations of each draw. Each draw's recipe and
learning rate are chosen first, by cross-validation inside its own labels; the grid runs on
KerasTuner's distributed mode like the sweep (`--workers N`, or workers on other machines).
Each finished run is written as it ends, so a rerun skips it. It writes `grid.json` (every
run, every choice, and the answer: pretrained minus random per network, label count and
recipe, with intervals and verdicts against the margins), and for the first network's four
classic cases on all labels their own summary, curves and confusion matrices in the same file,
and their classifiers (docs/stages.md lists every file).
"""

import shutil
import sys
from pathlib import Path

from kfashion import config
from kfashion.config import CASES, train_split_size
from kfashion.core import cli, layout, saved_models
from kfashion.core.errors import UserError, exit_on_user_error
from kfashion.core.files import read_json, read_record, reading
from kfashion.core.guards import check_runs, hold_lock, start_runs
from kfashion.engine import parallel
from kfashion.finetuning import grid


def parse_args(argv):
    parser = cli.parser(
        "kfashion.transfer",
        "Train the grid of transfer runs over seeds.",
        "--labels 100,all --seeds 3 --tensorboard logs",
    )
    parser.add_argument("--epochs", type=int, default=config.TRANSFER_EPOCHS, help="epochs per run")
    parser.add_argument(
        "--batch-size", type=int, default=config.TRANSFER_BATCH_SIZE, help="training batch size"
    )
    parser.add_argument(
        "--seeds",
        help="draws of labels (fine-tuning seeds 0, 1, ...), each run by every pretraining seed "
        "and random case: a number for every label count, or one per count (default: "
        + config.draws_text(config.DRAWS)
        + ")",
    )
    parser.add_argument(
        "--random-inits",
        type=int,
        default=config.RANDOM_INITS,
        help="initialisations of each draw of a random case",
    )
    parser.add_argument(
        "--cases",
        default=config.CLASSIC_CASES,
        help=f"comma-separated cases to run ({config.AUGMENTED_CASE}: the augmentation control)",
    )
    parser.add_argument(
        "--recipes",
        default=config.GRID_RECIPES,
        help="recipes the jointly trained cases choose among, by cross-validation in each "
        "run's own labels (the frozen cases have one)",
    )
    parser.add_argument(
        "--labels",
        default=grid.ALL,
        help="labelled training images of each run: counts and/or all, e.g. 100,1000,all",
    )
    parser.add_argument(
        "--pretext-labels",
        help="label counts of the networks another pretext than reconstruction pretrained, "
        "and of the augmentation control (default: --labels)",
    )
    parser.add_argument(
        "--min-steps",
        type=int,
        default=config.MIN_STEPS,
        help="training steps of a few-label run, at least (its images repeat)",
    )
    parser.add_argument(
        "--encoder",
        action="append",
        help="a saved encoder, or a models folder holding encoder_seed{S}.keras; once per "
        "network (default: RESULTS/models)",
    )
    parser.add_argument(
        "--encoder-seeds",
        help="pretraining seeds of each network, e.g. 0,1,2 (default: every encoder_seed{S}.keras "
        "each --encoder folder holds; 0 for a file)",
    )
    cli.add_data_flags(parser)
    parser.add_argument("--results", default=config.RESULTS, help="where results are written")
    parser.add_argument("--directory", default=config.DIRECTORY, help="KerasTuner's working folder")
    parallel.add_workers_flag(parser, "cells")
    parser.add_argument("--tensorboard", help="also write TensorBoard logs (with HParams) here")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="discard the runs already in this grid's groups (network and label count) first",
    )
    return parser.parse_args(argv)


def worker_args(args) -> list[str]:
    """The arguments a worker needs to run the chief's cells."""
    kept = "epochs batch_size seeds random_inits cases recipes labels pretext_labels min_steps"
    kept += " encoder_seeds data_dir subset results directory tensorboard encoder"
    return cli.flags(**{name: getattr(args, name) for name in kept.split()})


def check_encoders(results, groups, digests: dict) -> None:
    """Refuse records of a group made from another encoder file than their pretraining seed's
    (a random case's: from any of the network's, whose configuration it takes). Records of a
    pretraining seed this command does not load are not its to judge: a plain `transfer` after
    the whole grid (`--encoder-seeds 0,1,2`) leaves seeds 1 and 2's runs as they are."""
    for network_name, labels in groups:
        folder = layout.grid_runs(results, network_name, labels)
        mine = digests[network_name]
        for path in sorted(folder.glob("*case*.json")):  # choices, their runs, final runs
            record = read_record(path)
            if record is None:
                continue
            seed = record["encoder_seed"]
            if seed >= 0 and seed not in mine:
                continue
            known = {mine[seed]} if seed >= 0 else set(mine.values())
            if record.get("encoder_sha256") not in known:
                raise UserError(
                    f"{folder} holds runs made from another encoder ({path.name}); rerun with "
                    "the same encoder to resume, pass --overwrite to discard them, or choose "
                    "another --results"
                )


def check_saved_cases(results: Path, cells, main) -> None:
    """Refuse a command whose four classic cells (`main`) are not those whose classifiers
    `results` holds (grid.json's "classic": its first network and pretraining seed): writing them
    would replace those classifiers, and the first command, run again, would train its first
    seeds again to save them back."""
    path = results / layout.GRID
    mine = [c for c in cells if main(c) and layout.classifier(results, c.case).exists()]
    if not mine or not path.exists():
        return

    def described(network_name, case, encoder_seed):
        start = f"pretraining seed {encoder_seed}" if CASES[case].pretrained else "random encoder"
        return f"{network_name}, {start}"

    with reading(path):
        saved = read_json(path).get("classic")  # none: no record of the classifiers' cells
        if saved is None:
            return
        network, seed = saved["settings"]["network"], saved["settings"]["encoder_seed"]
        before = {int(case): described(network, int(case), seed) for case in saved["cases"]}
    for cell in mine:
        now = described(cell.network, cell.case, cell.encoder_seed)
        if before.get(cell.case, now) != now:
            raise UserError(
                f"{layout.classifier(results, cell.case)} holds case {cell.case} of "
                f"{before[cell.case]}; this command's case {cell.case} is {now} and would "
                "replace it: give another --results to keep both, or delete it to replace it"
            )


def check_every_cell_ran(tuner) -> None:
    """One line naming a cell whose run failed (KerasTuner records the error and goes on)."""
    from keras_tuner.engine.trial import TrialStatus

    failed = [t for t in tuner.oracle.trials.values() if t.status == TrialStatus.FAILED]
    if failed:
        cell = grid.Cell.from_values(failed[0].hyperparameters.values)
        message = (failed[0].message or "").strip().splitlines() or ["no message"]
        raise UserError(
            f"{len(failed)} cells of the grid failed, first {cell.describe()}: {message[-1]}; "
            "the runs that ended are kept: fix the cause and run the same command again"
        )


def run_grid(args, cells, main, encoders, dataset, results):
    """Every cell's runs (`parallel.search`); returns the tuner, whose oracle has every trial.
    Only the classic four cells (`main`: `grid.is_main` of a cell) keep their first seed's
    classifier."""
    from kfashion.finetuning.grid_tuner import GridOracle, GridTuner

    def make_tuner():
        return GridTuner(
            encoders,
            dataset,
            results,
            args.epochs,
            args.batch_size,
            args.min_steps,
            lambda cell: layout.classifier(results, cell.case) if main(cell) else None,
            args.tensorboard,
            oracle=GridOracle(cells, results),
            directory=args.directory,
            project_name=layout.GRID_PROJECT,
        )

    return parallel.search(make_tuner, args.workers, worker_args(args), "kfashion.transfer")


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    case_numbers = cli.parse_cases(args.cases)
    recipes = grid.parse_recipes(args.recipes)
    for flag in ("epochs", "random_inits", "batch_size", "min_steps"):
        cli.at_least(getattr(args, flag), 1, "--" + flag.replace("_", "-"))
    parallel.check_workers_flag(args.workers)
    cli.check_data_flags(args)
    if args.tensorboard:
        cli.tensorboard_folder(args.tensorboard)
    counts, pretext_counts, every = grid.label_counts(args, train_split_size(args.subset))
    draws = grid.draws(every, args.seeds)
    encoder_seeds = saved_models.encoder_seeds(args)
    files = saved_models.encoder_files(args, encoder_seeds)
    results = cli.writable_folder(args.results, "--results")
    cli.writable_folder(args.directory, "--directory")

    cells = grid.plan(
        list(files),
        counts,
        case_numbers,
        recipes,
        encoder_seeds,
        draws,
        args.random_inits,
        pretext_counts,
    )

    def main_cell(cell):  # the classic cases': the first network and pretraining seed
        return grid.is_main(cell, cells[0].network, encoder_seeds[0])

    if parallel.role() == "worker":
        parallel.end_with_chief()
    elif not args.overwrite:  # before any framework loads
        check_saved_cases(results, cells, main_cell)
    from kfashion import data
    from kfashion.core.files import file_digest
    from kfashion.core.quiet_keras import load_keras
    from kfashion.core.saved_models import load_encoder

    load_keras()
    encoders = {
        name: {seed: (load_encoder(path), file_digest(path)) for seed, path in mine.items()}
        for name, mine in files.items()
    }
    dataset = data.load(args.data_dir, subset=args.subset)

    if parallel.role() == "worker":  # runs only: the chief checks, locks and writes
        run_grid(args, cells, main_cell, encoders, dataset, results)
        return
    # two locks: another transfer on these results, or on KerasTuner's project in --directory
    # (each grid starts it afresh), would undo this one's work
    project = Path(args.directory) / layout.GRID_PROJECT
    with (
        hold_lock(layout.lock(results, "transfer"), f"{results}/transfer"),
        hold_lock(project.with_name(f".{layout.GRID_PROJECT}.lock"), str(project)),
    ):
        settings = {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "subset": args.subset,
            "min_steps": args.min_steps,
        }
        groups = list(dict.fromkeys((cell.network, cell.labels) for cell in cells))
        folders = {  # each group's settings: the minimum steps matter to few-label runs only
            layout.grid_runs(results, name, labels): {
                k: v for k, v in settings.items() if labels != grid.ALL or k != "min_steps"
            }
            for name, labels in groups
        }
        digests = {name: {s: d for s, (_, d) in mine.items()} for name, mine in encoders.items()}
        if not args.overwrite:  # every group checked before any is written to
            for folder, mine in folders.items():
                check_runs(folder, mine)
            check_encoders(results, groups, digests)
        for folder, mine in folders.items():
            start_runs(folder, mine, args.overwrite)
        # KerasTuner's project only coordinates this command's processes: the run records are
        # the grid. It is made anew each time, so its trials read back every run already
        # recorded and train the rest, whatever an earlier command left in it (a record cut
        # short, a grid of other cells)
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True, exist_ok=True)
        finals = sum(grid.least_runs(c) for c in cells if not c.search)
        choices = [c for c in cells if c.search]
        folds = sum(grid.least_runs(c) for c in choices)
        print(
            f"data: {dataset.describe()}; networks {', '.join(files)}; {len(choices)} choices "
            f"(at least {folds} runs on their folds) and {finals} runs",
            flush=True,
        )
        check_every_cell_ran(run_grid(args, cells, main_cell, encoders, dataset, results))
        from kfashion.finetuning import grid_results

        grid_results.write(argv, cells, main_cell, files, digests, dataset, settings, results)


if __name__ == "__main__":
    main()
