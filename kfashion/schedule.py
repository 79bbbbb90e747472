"""`python -m kfashion.schedule`: choose the transfer schedule by validation accuracy.

Every candidate schedule (epochs, Adam's initial learning rate; cosine decay to 0, batch 100)
trains every case on the training split over a few seeds, and each run is scored on the
validation split after every epoch, keeping its best epoch as `transfer` does. The candidate
with the highest mean best validation accuracy over cases and seeds is chosen. The test split
is not loaded into any decision here: `schedule.json` holds validation numbers only, with the
command that made them, and `kfashion.transfer`'s defaults are its choice.

Resumable like the other stages: each finished run is written as it ends.
"""

import sys

from kfashion import cli, layout
from kfashion.design import CASES
from kfashion.errors import UserError, exit_on_user_error
from kfashion.files import read_json, read_record, write_json

# The candidates, all visible here: (epochs, initial learning rate).
CANDIDATES = "15:0.001,30:0.001,15:0.003,30:0.003"
SEEDS = 2  # seeds 0 and 1 of every case for every candidate
BATCH_SIZE = 100
RESULTS = "results"
RULE = "the highest mean, over cases and seeds, of each run's best validation accuracy"


def parse_args(argv):
    parser = cli.parser("kfashion.schedule", "Choose the transfer schedule on validation.")
    parser.add_argument(
        "--candidates", default=CANDIDATES, help="comma-separated EPOCHS:LEARNING_RATE pairs"
    )
    parser.add_argument("--seeds", type=int, default=SEEDS, help="seeds per case and candidate")
    parser.add_argument("--cases", default="1,2,3,4", help="comma-separated cases to run")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="training batch size")
    parser.add_argument(
        "--encoder", help="the pretrained encoder (default: RESULTS/models/encoder.keras)"
    )
    cli.add_data_flags(parser)
    parser.add_argument("--results", default=RESULTS, help="where schedule.json is written")
    parser.add_argument(
        "--overwrite", action="store_true", help="discard runs made with other settings"
    )
    return parser.parse_args(argv)


def parse_candidates(text: str) -> list[tuple[int, float]]:
    """ "15:0.001,30:0.003" -> [(15, 0.001), (30, 0.003)]; each epochs >= 1, rate > 0."""
    candidates = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            epochs, rate = part.split(":")
            candidate = (int(epochs), float(rate))
        except ValueError:
            candidate = (0, 0.0)
        if candidate[0] < 1 or not candidate[1] > 0:
            raise UserError(
                f"--candidates {text!r}: give EPOCHS:LEARNING_RATE pairs, e.g. 15:0.001,30:0.003"
            )
        candidates.append(candidate)
    if not candidates:
        raise UserError(f"--candidates {text!r}: give at least one EPOCHS:LEARNING_RATE pair")
    return sorted(set(candidates))


def summarise(runs: list[dict], candidates, cases) -> list[dict]:
    """Each candidate's mean best validation accuracy, over all its runs and per case."""
    from kfashion.stats import mean_std

    rows = []
    for epochs, rate in candidates:
        mine = [r for r in runs if (r["epochs"], r["learning_rate"]) == (epochs, rate)]
        rows.append(
            {
                "epochs": epochs,
                "learning_rate": rate,
                "best_val_accuracy": mean_std([r["best_val_accuracy"] for r in mine]),
                "per_case": {
                    str(case): mean_std([r["best_val_accuracy"] for r in mine if r["case"] == case])
                    for case in cases
                },
            }
        )
    return rows


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    candidates = parse_candidates(args.candidates)
    from kfashion.saved_models import encoder_path, load_encoder

    case_numbers = cli.parse_cases(args.cases)
    cli.at_least(args.seeds, 1, "--seeds")
    cli.at_least(args.batch_size, 1, "--batch-size")
    cli.check_data_flags(args)
    path = encoder_path(args)
    results_dir = cli.writable_folder(args.results, "--results")

    from kfashion import cases, data
    from kfashion.files import file_digest
    from kfashion.guards import check_runs, hold_lock
    from kfashion.provenance import environment, provenance
    from kfashion.quiet_keras import load_keras

    load_keras()
    template = load_encoder(path)
    dataset = data.load(args.data_dir, subset=args.subset)
    runs_dir = layout.schedule_runs(results_dir)
    lock = hold_lock(layout.lock(results_dir, "schedule"), f"{results_dir}/schedule")
    settings = {
        "encoder_sha256": file_digest(path),
        "batch_size": args.batch_size,
        "subset": args.subset,
    }
    check_runs(runs_dir, settings, args.overwrite)
    print(f"data: {dataset.describe()}; encoder {path}; {len(candidates)} candidates", flush=True)
    seeds = list(range(args.seeds))
    runs = []
    for epochs, rate in candidates:
        schedule = cases.Schedule(epochs, args.batch_size, rate)
        for seed in seeds:
            for case in case_numbers:
                run_path = layout.schedule_run(results_dir, epochs, rate, case, seed)
                if read_record(run_path) is None:  # none, or cut short: not done
                    _, record = cases.train(template, case, seed, dataset, schedule)
                    record |= {
                        "epochs": epochs,
                        "learning_rate": rate,
                        "environment": environment(),
                    }
                    write_json(run_path, record)
                    print(
                        f"{epochs} epochs at {rate:g}, case {case} ({CASES[case].label}), "
                        f"seed {seed}: best validation accuracy "
                        f"{record['best_val_accuracy']:.4f} at epoch {record['best_epoch']} "
                        f"({record['seconds']:.0f} s)",
                        flush=True,
                    )
                runs.append(read_json(run_path))
    rows = summarise(runs, candidates, case_numbers)

    def name(r):  # a run's name: its record's file name without the folder and .json
        return layout.schedule_run(".", r["epochs"], r["learning_rate"], r["case"], r["seed"]).stem

    best = max(rows, key=lambda row: row["best_val_accuracy"]["mean"])
    kept = (
        "epochs",
        "learning_rate",
        "case",
        "seed",
        "best_val_accuracy",
        "best_epoch",
        "seconds",
        "environment",
    )
    write_json(
        results_dir / layout.SCHEDULE,
        {
            "provenance": provenance("kfashion.schedule", argv, dataset),
            "settings": {
                **settings,
                "encoder": str(path),
                "candidates": candidates,
                "seeds": seeds,
                "cases": case_numbers,
                "sizes": {k: v for k, v in dataset.sizes().items() if k != "test"},
                "schedule": "Adam, cosine decay to 0 over all steps; best val_accuracy epoch kept",
                "rule": RULE,
            },
            "candidates": rows,
            "chosen": {
                "epochs": best["epochs"],
                "learning_rate": best["learning_rate"],
                "batch_size": args.batch_size,
            },
            "runs": [{k: r[k] for k in kept} for r in runs],
            "val_accuracy_curves": {name(r): r["history"]["val_accuracy"] for r in runs},
        },
    )
    for row in rows:
        mark = "  <- chosen" if row is best else ""
        print(
            f"{row['epochs']} epochs at {row['learning_rate']:g}: mean best validation "
            f"accuracy {row['best_val_accuracy']['mean']:.4f}{mark}"
        )
    print(f"wrote {results_dir / layout.SCHEDULE}")
    lock.close()


if __name__ == "__main__":
    main()
