"""`python -m kfashion.transfer`: does what the encoder learned by reconstruction help a classifier?

Classifier = encoder + one Dense(10) giving logits. Four cases, which differ only in the
encoder's starting weights and its `trainable` flag (`kfashion.cases`):

    case 1  pretrained encoder (tune's encoder.keras), trained jointly with the head
    case 2  pretrained encoder, frozen (trainable=False; its head trains on codes computed once)
    case 3  fresh encoder of the same configuration (cloned from the file, re-initialised), joint
    case 4  fresh encoder, frozen

Every case runs once per seed (default 5 seeds, 0-4) with the same schedule, which validation
accuracy chose (`python -m kfashion.schedule`). Each finished (case, seed) run is written as it
ends, so a rerun skips it. Writes `transfer.json`, `transfer/runs/*.json`,
`figures/transfer_*.png` and `models/classifier_case{1..4}.keras` (first seed) under
`--results`; the encoder is read from the same folder unless `--encoder` names another. With
`--labels`, the cases train on a few labelled images instead (`kfashion.labels`).
"""

import sys
from pathlib import Path

from kfashion import cli, layout
from kfashion.design import CASES
from kfashion.errors import UserError, exit_on_user_error
from kfashion.files import read_json, read_record, write_json
from kfashion.guards import check_runs, hold_lock
from kfashion.saved_models import encoder_path, load_encoder

# Defaults of the reference run, all visible here. The schedule is the candidate with the best
# mean validation accuracy in `python -m kfashion.schedule` (results/reference/schedule.json;
# a test checks that these agree with its choice). Test accuracy chose nothing.
EPOCHS = 30
BATCH_SIZE = 100
LEARNING_RATE = 3e-3  # Adam, decayed to 0 along a cosine over all steps
SEEDS = 5  # seeds 0-4: a mean, a spread and paired intervals between cases
RESULTS = "results"  # read the encoder from, and write into, this folder


def parse_args(argv):
    parser = cli.parser("kfashion.transfer", "Train the four transfer-learning cases over seeds.")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs per run")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="training batch size")
    parser.add_argument(
        "--learning-rate", type=float, default=LEARNING_RATE, help="Adam's initial learning rate"
    )
    parser.add_argument("--seeds", type=int, default=SEEDS, help="seeds per case: 0, 1, ...")
    parser.add_argument("--cases", default="1,2,3,4", help="comma-separated cases to run")
    parser.add_argument(
        "--labels",
        help="label efficiency instead: train on this many labelled images, e.g. 100,1000,all",
    )
    parser.add_argument(
        "--min-steps",
        type=int,
        default=1000,
        help="with --labels: training steps of a few-label run, at least (its images repeat)",
    )
    parser.add_argument(
        "--encoder", help="the pretrained encoder (default: RESULTS/models/encoder.keras)"
    )
    cli.add_data_flags(parser)
    parser.add_argument("--results", default=RESULTS, help="where results are written")
    parser.add_argument(
        "--overwrite", action="store_true", help="discard runs made with other settings"
    )
    return parser.parse_args(argv)


def summarise(runs: list[dict], case_numbers: list[int]) -> dict:
    import numpy as np

    from kfashion.stats import mean_std

    summary = {}
    for case in case_numbers:
        mine = sorted((r for r in runs if r["case"] == case), key=lambda r: r["seed"])
        summary[str(case)] = {
            "label": CASES[case].label,
            "seeds": [r["seed"] for r in mine],
            "test_accuracy": mean_std([r["test_accuracy"] for r in mine]),
            "test_loss": mean_std([r["test_loss"] for r in mine]),
            "confusion_matrix_all_seeds": np.sum([r["confusion_matrix"] for r in mine], axis=0),
        }
    return summary


# What each run records of its encoder (`cases.diagnostics`); runs made before had none
DIAGNOSTICS = ("dead_code_units_before", "dead_code_units_after", "encoder_weight_change")


def write_figures(runs, summary: dict, results_dir: Path) -> dict:
    from kfashion import plots
    from kfashion.design import CLASS_NAMES

    case_numbers = [int(case) for case in summary]
    paths = {
        "curves": layout.figure(results_dir, "transfer_curves"),
        "confusion": layout.figure(results_dir, "transfer_confusion"),
    }
    labels = {case: f"case {case}: {CASES[case].label}" for case in case_numbers}
    histories = {case: [r["history"] for r in runs if r["case"] == case] for case in case_numbers}
    plots.plot_transfer_curves(histories, labels, paths["curves"])
    matrices = {case: summary[str(case)]["confusion_matrix_all_seeds"] for case in case_numbers}
    plots.plot_confusion_grid(matrices, labels, CLASS_NAMES, paths["confusion"])
    return {name: str(path.relative_to(results_dir)) for name, path in paths.items()}


def run_cases(template, case_numbers, seeds, dataset, schedule, results_dir: Path) -> list[dict]:
    """Every (case, seed) run on all labels not yet on disk; then every run's record.

    Runs go one after another, each written as it ends; where whole epochs compile (JAX on an
    accelerator), a jointly trained case's pending seeds train together in one program. The
    first seed's classifier of each case is saved too: that run is done once both are saved.
    """
    from kfashion import training
    from kfashion.cases import describe_run, scored, train_and_score, train_together
    from kfashion.files import save_model

    def done(case, seed):  # its record whole (not cut short), and its classifier if it has one
        saved = seed != seeds[0] or layout.classifier(results_dir, case).exists()
        return saved and read_record(layout.transfer_run(results_dir, case, seed)) is not None

    def keep(case, seed, classifier, record):
        if seed == seeds[0]:
            save_model(classifier, layout.classifier(results_dir, case))
        # last: a run counts as done once all is saved
        write_json(layout.transfer_run(results_dir, case, seed), record)
        print(describe_run(record), flush=True)

    together = training.compiles_whole_epochs()
    for case in case_numbers if together else []:
        pending = [seed for seed in seeds if not done(case, seed)]
        if CASES[case].train_encoder and len(pending) > 1:
            for seed, (classifier, record) in zip(
                pending, train_together(template, case, pending, dataset, schedule), strict=True
            ):
                keep(case, seed, classifier, scored(classifier, record, dataset))
    for seed in seeds:
        for case in case_numbers:
            if not done(case, seed):
                keep(case, seed, *train_and_score(template, case, seed, dataset, schedule))
    return [read_json(layout.transfer_run(results_dir, c, s)) for s in seeds for c in case_numbers]


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    case_numbers = cli.parse_cases(args.cases)
    for flag in ("epochs", "seeds", "batch_size", "min_steps"):
        cli.at_least(getattr(args, flag), 1, "--" + flag.replace("_", "-"))
    if not args.learning_rate > 0:
        raise UserError(f"--learning-rate {args.learning_rate}: must be positive")
    cli.check_data_flags(args)
    if args.labels:
        from kfashion import labels

        images = args.subset or 60_000
        counts = labels.parse_counts(args.labels, images - images // 6)
    path = encoder_path(args)
    results_dir = cli.writable_folder(args.results, "--results")

    from kfashion import data
    from kfashion.cases import Schedule
    from kfashion.files import file_digest
    from kfashion.provenance import provenance
    from kfashion.quiet_keras import load_keras

    load_keras()
    template = load_encoder(path)
    dataset = data.load(args.data_dir, subset=args.subset)
    lock = hold_lock(layout.lock(results_dir, "transfer"), f"{results_dir}/transfer")
    schedule = Schedule(args.epochs, args.batch_size, args.learning_rate)
    settings = {
        "encoder_sha256": file_digest(path),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "subset": args.subset,
        "schedule": "Adam, cosine decay to 0 over all steps; best val_accuracy epoch kept",
    }
    print(f"data: {dataset.describe()}; encoder {path}", flush=True)
    seeds = list(range(args.seeds))
    if args.labels:  # the few-label runs, and the ordinary runs if "all" is asked for
        ordinary = []
        if "all" in counts:
            check_runs(layout.transfer_runs(results_dir), settings, args.overwrite)
            ordinary = run_cases(template, case_numbers, seeds, dataset, schedule, results_dir)
        labels.run(
            template,
            case_numbers,
            seeds,
            counts,
            ordinary,
            dataset,
            schedule,
            argv,
            {**settings, "min_steps": args.min_steps},
            results_dir,
            args.overwrite,
        )
        lock.close()
        return
    check_runs(layout.transfer_runs(results_dir), settings, args.overwrite)
    runs = run_cases(template, case_numbers, seeds, dataset, schedule, results_dir)
    summary = summarise(runs, case_numbers)
    figures = write_figures(runs, summary, results_dir)
    kept = (
        "case",
        "seed",
        "test_accuracy",
        "test_loss",
        "recall",
        "best_epoch",
        "best_val_accuracy",
        "seconds",
        *DIAGNOSTICS,
        "environment",
    )
    write_json(
        results_dir / layout.TRANSFER,
        {
            "provenance": provenance("kfashion.transfer", argv, dataset),
            "settings": {
                **settings,
                "encoder": str(path),
                "seeds": seeds,
                "cases": case_numbers,
                "sizes": dataset.sizes(),
            },
            "cases": summary,
            "runs": [{k: r[k] for k in kept if k in r} for r in runs],
            "curves": {f"case{r['case']}_seed{r['seed']}": r["history"] for r in runs},
            "figures": figures,
            "models": {c: f"{layout.classifier('.', c)} (seed {seeds[0]})" for c in case_numbers},
        },
    )
    for case in case_numbers:
        accuracy = summary[str(case)]["test_accuracy"]
        spread = f" +- {accuracy['std']:.4f}" if accuracy["std"] is not None else ""
        print(
            f"case {case} ({CASES[case].label}): {accuracy['mean']:.4f}{spread} over "
            f"{accuracy['n']} seeds"
        )
    print(f"wrote {results_dir / layout.TRANSFER}, figures and models")
    lock.close()


if __name__ == "__main__":
    main()
