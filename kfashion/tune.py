"""`python -m kfashion.tune`: the one-factor-at-a-time autoencoder sweep on KerasTuner.

Runs the 14 points of the design in `kfashion.config`, each with every seed, on the real data
(50,000 train / 10,000 validation; the test set only for the record), and writes `sweep.json`
(every seed's curves and scores, each point's mean best validation loss: its KerasTuner score),
its figures, and the selected point's models: `autoencoder.keras`, `encoder.keras` and
`decoder.keras` of its first seed, and `encoder_seed<S>.keras` of each seed that did not
diverge, which the transfer grid starts from (docs/stages.md lists every file).

Each point pretrains its encoder by the pretext task `--pretext` (`kfashion.pretext`): by
default it reconstructs its images, as in the study; the transfer grid names a network
pretrained another way "<architecture>_<pretext>" (for instance course_denoising). Another
pretext's design is around the network the study transfers (`config.REFERENCE_CHOICE`), and
its knobs (`config.KNOBS`) are factors too.

The selected point is the study's own choice (`--select reference`), the lowest mean
validation loss (`--select best`), or the highest mean effective rank of the codes
(`--select rank`, which compares a pretext's knobs where its loss cannot); nothing is chosen
by a test number.

Stop it at any time and run the same command again: finished points and seeds are kept; a
seed that was training when it stopped runs again from scratch.
"""

import dataclasses
import sys
import time
from pathlib import Path

from kfashion import config, data, pretext
from kfashion.core import cli, layout
from kfashion.core.errors import UserError, exit_on_user_error
from kfashion.core.files import changed_settings, read_json, read_record, write_json
from kfashion.core.guards import hold_lock
from kfashion.engine import parallel


def parse_args(argv):
    parser = cli.parser(
        "kfashion.tune",
        "Run the one-factor-at-a-time autoencoder sweep.",
        "--factors latent_dim,dropout --seeds 2 --results results/mine --directory tuning/mine",
    )
    parser.add_argument("--epochs", type=int, default=config.SWEEP_EPOCHS, help="epochs per seed")
    parser.add_argument(
        "--seeds", type=int, default=config.SWEEP_SEEDS, help="seeds per point: 0, 1, ..."
    )
    parser.add_argument(
        "--factors",
        default=",".join(config.REFERENCE_FACTORS),
        help="comma-separated factors to sweep around the base case; also: architecture "
        "(the course network and the linear_code variant, both at dropout 0.0)",
    )
    parser.add_argument(
        "--pretext",
        choices=tuple(config.PRETEXTS),
        default=config.PRETEXT,
        help="what the encoder is pretrained to do (each task is a module of kfashion.pretext; "
        f"default: {config.PRETEXT}, the reference study's)",
    )
    cli.add_data_flags(parser)
    parser.add_argument("--directory", default=config.DIRECTORY, help="KerasTuner's working folder")
    parser.add_argument("--results", default=config.RESULTS, help="where results are written")
    parser.add_argument(
        "--select",
        choices=("reference", "best", "rank"),
        default=config.SWEEP_SELECT,
        help="point to export: the study's choice (n=64, p=0.1, batch 100, lr 1e-3, Adam), "
        "the lowest mean validation loss over seeds, or the highest mean effective rank of "
        "the codes of validation images (a pretext's knobs: --factors noise, say)",
    )
    parallel.add_workers_flag(parser, "trials")
    parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="compute in bfloat16 with float32 weights (for GPUs; slower on most CPUs); the "
        "saved encoder keeps the policy, so transfer runs in it too",
    )
    parser.add_argument("--tensorboard", help="also write TensorBoard logs to this folder")
    parser.add_argument(
        "--overwrite", action="store_true", help="discard the trials already in --directory"
    )
    return parser.parse_args(argv)


def design_from_args(args) -> list[config.DesignPoint]:
    """The design the arguments ask for, or a UserError saying what is wrong with them."""
    cli.at_least(args.epochs, 1, "--epochs")
    cli.at_least(args.seeds, 1, "--seeds")
    parallel.check_workers_flag(args.workers)
    cli.check_data_flags(args)
    try:
        points = config.make_design([f for f in args.factors.split(",") if f], args.pretext)
    except ValueError as error:
        raise UserError(f"--factors: {error}") from None
    if args.select == "reference" and not any(p.config == config.REFERENCE_CHOICE for p in points):
        raise UserError(
            "--select reference needs the dropout factor (the study chose p=0.1); "
            "add it to --factors or use --select best"
        )
    return points


def extends(old: dict, new: dict, changed: list[str]) -> bool:
    """Whether settings `new` only add to a sweep made with `old`: more seeds, or more points
    after its own (factors added at the end of --factors), or both."""
    if not changed or not set(changed) <= {"seeds", "design"}:
        return False
    more_seeds = set(old["seeds"]) <= set(new["seeds"])
    more_points = new["design"][: len(old["design"])] == old["design"]
    return more_seeds and more_points


def check_settings(project_dir: Path, settings: dict, overwrite: bool) -> bool:
    """Refuse to mix trials made with other settings into an existing project; more seeds or
    more points extend it (`extend`).

    Returns:
        Whether the project already held trials made with these settings.
    """
    import shutil

    path = project_dir / layout.SWEEP_SETTINGS
    if overwrite:
        shutil.rmtree(project_dir, ignore_errors=True)
    elif path.exists():
        changed = changed_settings(path, settings)
        if extends(read_json(path), settings, changed):
            extend(project_dir, settings)
        elif changed:
            raise UserError(
                f"{project_dir} holds a sweep made with other {', '.join(changed)}; rerun with "
                "the same settings to resume it (more --seeds, or factors added at the end of "
                "--factors, add to it), pass --overwrite to discard it, or choose another "
                "--directory"
            )
        return True
    elif project_dir.exists() and any(project_dir.iterdir()):
        raise UserError(
            f"{project_dir} holds files kfashion did not write; pass --overwrite to discard "
            "them or choose another --directory"
        )
    project_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, settings)
    return False


def extend(project_dir: Path, settings: dict) -> None:
    """Let a sweep's trials run again for the seeds and points they lack, keeping every seed
    they finished.

    KerasTuner runs a trial once: its state (`oracle.json`, each `trial_*/trial.json`, the
    tuner's `tuner*.json`) is forgotten here, so the points are handed out again, each to the
    trial folder of its place in the design (the old points keep theirs: the new ones come
    after), where each finished seed's record and weights stay and count as done.
    """
    for state in [
        project_dir / "oracle.json",
        *project_dir.glob("trial_*/trial.json"),
        *project_dir.glob("tuner*.json"),
    ]:
        state.unlink(missing_ok=True)
    write_json(project_dir / layout.SWEEP_SETTINGS, settings)
    print(f"{project_dir}: adding seeds or points; the finished seeds are kept", flush=True)


def transfer_runs_from(results_dir: Path) -> dict[Path, list[Path]]:
    """The finished transfer runs that started from an encoder this sweep's folder holds now,
    by the encoder's SHA-256 in each run's record, by the folder of runs holding them: the
    folder's own grid (`study`) and, for the architecture comparison's folder, the grid of the
    folder above it, which keeps each network's runs apart (`study --reference`)."""
    from kfashion.core.files import file_digest

    models = layout.model(results_dir, "encoder").parent
    digests = {file_digest(path) for path in models.glob("encoder*.keras")}
    folders = [results_dir]
    if results_dir.name == layout.ARCHITECTURE:
        folders.append(results_dir.parent)
    found = {
        layout.transfer_runs(folder): [
            path
            for path in layout.finished_transfer_runs(folder)
            if (read_record(path) or {}).get("encoder_sha256") in digests
        ]
        for folder in folders
    }
    return {folder: runs for folder, runs in found.items() if runs}


def warn_about_transfer_runs(results_dir: Path) -> None:
    """Say up front what a new sweep's encoder does to the transfer runs made from the old one."""
    if found := transfer_runs_from(results_dir):
        where = " and ".join(sorted(map(str, found)))
        count = sum(map(len, found.values()))
        print(
            f"note: this sweep will write its encoders to "
            f"{layout.model(results_dir, 'encoder').parent} when it ends; the transfer runs "
            f"in {where} include {count:,} made from the encoders there now, "
            "so if the new ones differ, `python -m kfashion.transfer` will keep them apart and "
            "ask for --overwrite (or another --results)",
            flush=True,
        )


def worker_args(args) -> list[str]:
    """The arguments a worker needs to run trials exactly as the chief's design says."""
    kept = "epochs seeds factors directory select pretext subset data_dir tensorboard"
    return cli.flags(**{name: getattr(args, name) for name in [*kept.split(), "mixed_precision"]})


def every_trial_ended(tuner, points: int) -> bool:
    """Whether KerasTuner has ended the trial of every point (the sweep is finished).

    Asked of the oracle, not of the seed records on disk: a kill after a trial's last seed
    record is written but before KerasTuner ends the trial leaves it running, with no score;
    the search then hands it out again, and its run only reads the records back.
    """
    from kfashion.engine.fixed_oracle import UNFINISHED

    trials = tuner.oracle.trials.values()
    return len(trials) == points and all(trial.status not in UNFINISHED for trial in trials)


def make_tuner(args, points, dataset, project_dir: Path):
    from kfashion.pretraining import sweep

    return sweep.SweepTuner(
        design=points,
        seeds=range(args.seeds),
        test_data=(dataset.x_test, pretext.targets(args.pretext, dataset.x_test, dataset.y_test)),
        tensorboard=args.tensorboard,
        rank_images=dataset.x_val,
        probe_data=sweep.probe_data(dataset),
        oracle=sweep.DesignOracle(points, args.pretext),
        hypermodel=sweep.AutoencoderHyperModel(1 if sys.stdout.isatty() else 2, args.pretext),
        directory=str(project_dir.parent),
        project_name=project_dir.name,
    )


def search(args, points, dataset, project_dir: Path, tuner=None):
    """Run (or resume) the sweep's search (`parallel.search`) and return the tuner."""

    def targets(images, labels):
        return pretext.targets(args.pretext, images, labels)

    return parallel.search(
        lambda: make_tuner(args, points, dataset, project_dir),
        args.workers,
        worker_args(args),
        "kfashion.tune",
        dataset.x_train,
        targets(dataset.x_train, dataset.y_train),
        tuner=tuner,
        validation_data=(dataset.x_val, targets(dataset.x_val, dataset.y_val)),
        epochs=args.epochs,
    )


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    points = design_from_args(args)
    project_dir = layout.sweep_project(cli.writable_folder(args.directory, "--directory"))
    role = parallel.role()
    if role == "worker":
        parallel.end_with_chief()
    else:
        cli.writable_folder(args.results, "--results")
    if args.tensorboard:
        cli.tensorboard_folder(args.tensorboard)
    from kfashion.core.quiet_keras import load_keras

    load_keras()
    from kfashion.engine import training

    with training.mixed_precision(args.mixed_precision):  # then as the process had it
        sweep_and_export(args, argv, points, project_dir, role)


def sweep_and_export(args, argv, points, project_dir: Path, role: str) -> None:
    """Run the sweep (a worker: its trials only), then export what it selects."""
    if role == "worker":  # trials only: the chief checks, locks and exports
        search(args, points, data.load(args.data_dir, subset=args.subset), project_dir)
        return
    with hold_lock(Path(args.directory) / ".kfashion.lock", f"{args.directory}"):
        settings = {
            "design": [dataclasses.asdict(point) for point in points],
            "pretext": args.pretext,
            "epochs": args.epochs,
            "seeds": list(range(args.seeds)),
            "subset": args.subset,
            "mixed_precision": args.mixed_precision,
        }
        dataset = data.load(args.data_dir, subset=args.subset)
        resumed = check_settings(project_dir, settings, args.overwrite)
        print(
            f"data: {dataset.describe()}; {len(points)} points x {args.seeds} seeds x "
            f"{args.epochs} epochs{' (resumed)' if resumed else ''}",
            flush=True,
        )
        if not resumed:  # a sweep from scratch makes a new encoder
            warn_about_transfer_runs(Path(args.results))
        start = time.perf_counter()
        tuner = make_tuner(args, points, dataset, project_dir)
        if not every_trial_ended(tuner, len(points)):  # else nothing to train: export only
            tuner = search(args, points, dataset, project_dir, tuner)
        from kfashion.pretraining import sweep_export

        seconds = time.perf_counter() - start
        sweep_export.export(args, argv, tuner, points, dataset, settings, seconds)


if __name__ == "__main__":
    main()
