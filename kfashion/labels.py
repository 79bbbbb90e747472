"""Label efficiency: the four cases trained on a few labelled images (`transfer --labels`).

With all 50,000 labels, pretraining hardly matters; with a few hundred it may. For each count,
every seed draws its own stratified sample of that many labelled training images (the encoder
was still pretrained on all of them, without labels), and the four cases train on it.

A few-label run sees no labelled validation set (10,000 validation labels would dwarf the
labels it may use), so it keeps its last epoch's weights. It takes at least `--min-steps` steps
(100 labels are one batch per epoch): its images are repeated within each epoch, so it runs
the usual epochs and cosine schedule without paying Keras's per-epoch cost hundreds of times.
The count "all" is the ordinary run of `python -m kfashion.transfer`, best validation epoch kept.
"""

import dataclasses

import numpy as np

from kfashion import data, layout
from kfashion.design import CASES, NUM_CLASSES
from kfashion.errors import UserError
from kfashion.files import read_json, read_record, write_json
from kfashion.provenance import made_on, provenance


def parse_counts(text: str, train_size: int) -> list:
    """ "100,300,all" -> [100, 300, "all"], sorted, each count between 10 and the train size."""
    counts = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "all":
            counts.append("all")
            continue
        try:
            count = int(part)
        except ValueError:
            count = -1
        if not NUM_CLASSES <= count < train_size:
            raise UserError(
                f"--labels {text!r}: give counts from {NUM_CLASSES} to {train_size - 1} "
                "and/or 'all', e.g. --labels 100,1000,all"
            )
        counts.append(count)
    if not counts:
        raise UserError(f"--labels {text!r}: give at least one count, e.g. --labels 100,1000,all")
    return sorted(set(counts), key=lambda c: (c == "all", c if c != "all" else 0))


def repeats_for(count: int, batch_size: int, epochs: int, min_steps: int) -> int:
    """How many times the labelled images appear per epoch, for at least `min_steps` steps."""
    steps_per_epoch = -(-count // batch_size)
    return max(1, -(-min_steps // (epochs * steps_per_epoch)))


def labelled_subset(dataset, count: int, seed: int, repeats: int = 1):
    """The dataset with its training split cut to `count` stratified images drawn by `seed`,
    each repeated `repeats` times."""
    picked = np.tile(data.stratified_sample(dataset.y_train, count, seed), repeats)
    return dataclasses.replace(
        dataset, x_train=dataset.x_train[picked], y_train=dataset.y_train[picked]
    )


def summarise(records: dict, counts: list, cases: list[int], seeds: list[int]) -> dict:
    """case -> count -> mean, std, n and each seed's test accuracy."""
    from kfashion.stats import mean_std

    summary = {}
    for case in cases:
        summary[str(case)] = {}
        for count in counts:
            values = [records[count, case, seed]["test_accuracy"] for seed in seeds]
            summary[str(case)][str(count)] = {**mean_std(values), "per_seed": values}
    return summary


def run(
    template,
    cases,
    seeds,
    counts,
    ordinary: list[dict],
    dataset,
    schedule,
    argv,
    settings,
    results_dir,
    overwrite: bool,
) -> None:
    """Every case on each count of labelled images, over seeds: label_efficiency.json, figure.

    The count "all" is the ordinary transfer runs, whose records `ordinary` holds (made by
    `kfashion.transfer`, with their saved classifiers); each other count is a group of runs
    with its own settings beside it.
    """
    from kfashion import plots
    from kfashion.cases import describe_run, train_and_score
    from kfashion.guards import check_runs

    few = [count for count in counts if count != "all"]
    min_steps = settings["min_steps"]
    repeats = {c: repeats_for(c, schedule.batch_size, schedule.epochs, min_steps) for c in few}
    records = {("all", record["case"], record["seed"]): record for record in ordinary}
    for count in few:
        check_runs(layout.transfer_runs(results_dir, count), settings, overwrite)
        for seed in seeds:
            subset = labelled_subset(dataset, count, seed, repeats[count])
            for case in cases:
                path = layout.transfer_run(results_dir, case, seed, count)
                if read_record(path) is None:  # none, or cut short: not done
                    _, record = train_and_score(
                        template, case, seed, subset, schedule, validate=False
                    )
                    write_json(path, {**record, "repeats": repeats[count]})
                    print(describe_run(record, f", {count} labels"), flush=True)
                records[count, case, seed] = read_json(path)
                if records[count, case, seed]["repeats"] != repeats[count]:  # made before its
                    # folder had settings.json: its record says how it was made
                    raise UserError(
                        f"{path.parent} holds runs made with another --min-steps; pass the "
                        "same, --overwrite to discard them, or choose another --results"
                    )
    summary = summarise(records, counts, cases, seeds)
    names = {case: f"case {case}: {CASES[case].label}" for case in cases}
    figure = layout.figure(results_dir, "label_efficiency")
    plots.plot_label_efficiency(summary, counts, names, figure, len(dataset.y_train))
    write_json(
        results_dir / layout.LABEL_EFFICIENCY,
        {
            "provenance": provenance("kfashion.transfer", argv, dataset),
            "settings": {
                **settings,
                "labels": counts,
                "seeds": seeds,
                "cases": cases,
                "few_label_runs": "no validation, last epoch kept; images repeated "
                f"within each epoch for at least {min_steps} steps",
            },
            "test_accuracy": summary,
            "repeats_per_epoch": {str(count): n for count, n in repeats.items()},
            # a table of runs made apart (the "all" row is transfer's) says where they ran
            "made_on": sorted(
                {made_on(r["environment"]) for r in records.values() if "environment" in r}
            ),
            "figure": str(figure.relative_to(results_dir)),
        },
    )
    for case in cases:
        line = ", ".join(f"{c}: {summary[str(case)][str(c)]['mean']:.4f}" for c in counts)
        print(f"case {case} test accuracy by labels: {line}")
    print(f"wrote {results_dir / layout.LABEL_EFFICIENCY} and {figure}")
