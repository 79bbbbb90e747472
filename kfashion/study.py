"""`python -m kfashion.study`: the whole study in one command, resumable like each stage.

Runs the stages in order, each exactly as its own command would (`python -m kfashion.tune`,
`transfer`, `baseline`, `report`), all in one folder: `--results` (default `results/`) with
KerasTuner's state in `--directory` (default `tuning/`). Before each stage it prints one line:
what runs, how much of it is already done, and an estimate of the time left, from the seconds
the finished units of work took. Stop it at any time and run the same command again.

- `--quick`: a look at everything on a laptop CPU in a few minutes (2,000 images, 2 epochs,
  2 seeds), into `results/quick/` and `tuning/quick/`, with its own report.
- `--reference`: the committed reference run, into `results/reference/` and
  `tuning/reference/`; it adds the schedule comparison on validation (whose choice the
  transfer stage then uses), label efficiency, the architecture comparison and the latent maps.
  Only this rewrites committed files, and only when asked for.

A report of any folder other than the reference one sets the reference's numbers beside its own.
"""

import dataclasses
import sys
import time
from pathlib import Path

from kfashion import cli, parallel
from kfashion.errors import exit_on_user_error
from kfashion.files import read_json, read_record

# Where each kind of run goes; the reference folders hold the committed run.
RESULTS, DIRECTORY = "results", "tuning"
QUICK_RESULTS, QUICK_DIRECTORY = "results/quick", "tuning/quick"
REFERENCE_RESULTS, REFERENCE_DIRECTORY = "results/reference", "tuning/reference"
# --quick's sizes: every stage and figure, on 2,000 images, in a few minutes on a laptop CPU.
QUICK = {"subset": 2000, "epochs": 2, "seeds": 2}
LABELS = "100,300,1000,3000,10000,all"  # label counts of the reference run's efficiency stage
LABEL_SEEDS = 3


@dataclasses.dataclass
class Stage:
    """One command of the study, and how to count its units of work on disk."""

    module: str
    argv: list
    what: str
    units: int  # units of work (seeds, runs), for the progress line
    done_files: str = ""  # glob, under the study's folders, of the files of finished units
    root: Path = Path(".")
    later: object = None  # a function giving more arguments, called when the stage starts

    @property
    def unit_name(self) -> str:
        """What one unit of work is called: a sweep seed, or a run of the other stages."""
        return "seeds" if self.module == "tune" else "runs"

    def done(self) -> int:
        return len(list(self.root.glob(self.done_files))) if self.done_files else 0

    def seconds_per_unit(self) -> float | None:
        """Mean seconds of this stage's finished units, from their records."""
        seconds = []
        for path in self.root.glob(self.done_files) if self.done_files else []:
            try:
                seconds.append(float(read_record(path)["seconds"]))  # None: TypeError
            except (ValueError, KeyError, TypeError):
                continue
        return sum(seconds) / len(seconds) if seconds else None


def parse_args(argv):
    parser = cli.parser("kfashion.study", "Run the whole study: tune, transfer, baseline, report.")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="a small look at every stage")
    which.add_argument(
        "--reference", action="store_true", help="(re)make the committed reference run"
    )
    parser.add_argument("--results", help=f"results folder (default: {RESULTS}, or per mode)")
    parser.add_argument("--directory", help=f"KerasTuner's folder (default: {DIRECTORY}, ...)")
    parser.add_argument("--workers", type=int, help="tune's worker processes (default: tune's)")
    parser.add_argument("--data-dir", help="folder with the four IDX .gz files")
    sizes = parser.add_argument_group("sizes (default: each stage's own, or --quick's)")
    sizes.add_argument("--subset", type=int, help="a stratified subset of this many images")
    sizes.add_argument("--epochs", type=int, help="epochs of every sweep seed and transfer run")
    sizes.add_argument("--seeds", type=int, help="seeds of every sweep point and transfer case")
    return parser.parse_args(argv)


def chosen_schedule(results: Path):
    """A function giving transfer's flags for the schedule validation chose (schedule.json)."""

    def flags() -> list[str]:
        pick = read_json(results / "schedule.json")["chosen"]
        return ["--epochs", str(pick["epochs"]), "--learning-rate", repr(pick["learning_rate"])]

    return flags


def stages(args, results: Path, directory: Path) -> list[Stage]:
    """The study's commands in order, with the arguments that keep them in one folder."""
    from kfashion import design, schedule, transfer, tune

    common = ["--data-dir", args.data_dir] if args.data_dir else []
    quick = QUICK if args.quick else {}
    subset = args.subset or quick.get("subset")
    sizes = ["--subset", str(subset)] if subset else []
    tune_seeds = args.seeds or quick.get("seeds") or tune.SEEDS
    seeds = args.seeds or quick.get("seeds") or transfer.SEEDS
    epochs = args.epochs or quick.get("epochs")
    here = ["--results", str(results)]
    workers = ["--workers", str(args.workers)] if args.workers else []
    tune_args = [
        *sizes,
        "--directory",
        str(directory),
        *here,
        *workers,
        *common,
        "--seeds",
        str(tune_seeds),
    ]
    tune_args += ["--epochs", str(epochs)] if epochs else []
    points = len(design.make_design())
    plan = [
        Stage(
            "tune",
            tune_args,
            "the autoencoder sweep",
            points * tune_seeds,
            "sweep/trial_*/seed*.json",
            directory,
        ),
    ]
    transfer_args = [*sizes, *here, *common, "--seeds", str(seeds)]
    transfer_args += ["--epochs", str(epochs)] if epochs else []
    if args.reference:
        candidates = len(schedule.parse_candidates(schedule.CANDIDATES))
        plan.append(
            Stage(
                "schedule",
                [*here, *common],
                "the transfer schedule, chosen on validation",
                candidates * schedule.SEEDS * 4,
                "schedule/runs/*.json",
                results,
            )
        )
    plan.append(
        Stage(
            "transfer",
            transfer_args,
            "the four transfer cases",
            4 * seeds,
            "transfer/runs/case*_seed*.json",
            results,
        )
    )
    if args.reference:
        label_args = [*sizes, *here, *common, "--labels", LABELS, "--seeds", str(LABEL_SEEDS)]
        label_args += ["--epochs", str(epochs)] if epochs else []
        counts = len(LABELS.split(",")) - 1
        plan.append(
            Stage(
                "transfer",
                label_args,
                "label efficiency",
                counts * 4 * LABEL_SEEDS,
                "transfer/runs/labels*/*.json",
                results,
            )
        )
    plan.append(Stage("baseline", [*sizes, *here, *common], "logistic regression on pixels", 1))
    if args.reference:
        variant = results / "architecture"
        plan += [
            Stage(
                "tune",
                [
                    "--factors",
                    "architecture",
                    "--select",
                    "best",
                    "--results",
                    str(variant),
                    "--directory",
                    str(directory / "architecture"),
                    *workers,
                    *common,
                    "--seeds",
                    str(tune_seeds),
                ],
                "the architecture comparison",
                3 * tune_seeds,
                "sweep/trial_*/seed*.json",
                directory / "architecture",
            ),
            Stage(
                "transfer",
                ["--cases", "2,4", "--results", str(variant), *common, "--seeds", str(seeds)],
                "frozen encoders of the variant",
                2 * seeds,
                "transfer/runs/case*_seed*.json",
                variant,
            ),
            Stage(
                "latent",
                [
                    "--encoder",
                    str(results / "models" / "encoder.keras"),
                    "--encoder",
                    str(variant / "models" / "encoder.keras"),
                    *here,
                    *common,
                ],
                "maps of the latent space",
                1,
            ),
        ]
    plan.append(Stage("report", here, "the findings and the report", 1))
    return plan


def time_left(plan: list[Stage], start: int) -> str:
    """An estimate of the training time the stages from `start` on still need, from the
    seconds their finished units took; stages with none finished yet are named instead."""
    total, untimed = 0.0, []
    for stage in plan[start:]:
        left = max(stage.units - stage.done(), 0)
        if not left or not stage.done_files:
            continue
        per_unit = stage.seconds_per_unit()
        if per_unit is None:
            untimed.append(f"{left} {stage.unit_name} of {stage.module}")
        else:
            total += left * per_unit
    amount = "under a minute" if total < 60 else f"about {total / 60:.0f} min"
    if not untimed:
        return f"time left: {amount} of training"
    known = f"{amount} of training, plus " if total else ""
    return f"time left: {known}{', '.join(untimed)}, timed once the first of each ends"


def folders(args) -> tuple[Path, Path]:
    if args.quick:
        return Path(args.results or QUICK_RESULTS), Path(args.directory or QUICK_DIRECTORY)
    if args.reference:
        return Path(args.results or REFERENCE_RESULTS), Path(args.directory or REFERENCE_DIRECTORY)
    return Path(args.results or RESULTS), Path(args.directory or DIRECTORY)


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    for flag in ("workers", "epochs", "seeds"):
        if getattr(args, flag) is not None:
            cli.at_least(getattr(args, flag), 1, f"--{flag}")
    if args.subset is not None:
        cli.check_data_flags(args)
    parallel.check_workers(args.workers or 1)  # at once, not when tune starts
    cli.check_data_dir(args.data_dir)
    results, directory = folders(args)
    cli.writable_folder(results, "--results")
    cli.writable_folder(directory, "--directory")
    plan = stages(args, results, directory)
    if args.reference:  # every transfer stage uses the schedule validation chose
        for stage in plan:
            if stage.module == "transfer":
                stage.later = chosen_schedule(results)
    start = time.perf_counter()
    for index, stage in enumerate(plan):
        stage.argv += stage.later() if stage.later else []
        command = " ".join(["python -m", f"kfashion.{stage.module}", *stage.argv])
        done = f"{stage.done()} of {stage.units} {stage.unit_name} done; "
        progress = done if stage.done_files else ""
        print(
            f"[study {index + 1}/{len(plan)}] {stage.what}: {command}\n"
            f"[study {index + 1}/{len(plan)}] {progress}{time_left(plan, index)}",
            flush=True,
        )
        module = __import__(f"kfashion.{stage.module}", fromlist=["main"])
        module.main(stage.argv)
    minutes = (time.perf_counter() - start) / 60
    print(f"[study] done in {minutes:.1f} min; the report is {results / 'README.md'}")


if __name__ == "__main__":
    main()
