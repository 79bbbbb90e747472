"""Label efficiency: the four cases trained on a few labelled images (`transfer --labels`).

With all 50,000 labels, pretraining hardly matters; with a few hundred it may. For each count,
every seed draws its own stratified sample of that many labelled training images (the encoder
was still pretrained on all of them, without labels), and the four cases train on it.

A few-label run sees no labelled validation set (10,000 validation labels would dwarf the
labels it may use), so it keeps its last epoch's weights. It takes at least MIN_STEPS steps
(100 labels are one batch per epoch): its images are repeated within each epoch, so it runs
the usual epochs and cosine schedule without paying Keras's per-epoch cost hundreds of times.
The count "all" is the ordinary run of `python -m kfashion.transfer`, best validation epoch kept.
"""

import dataclasses
from pathlib import Path

import numpy as np

from kfashion import data
from kfashion.errors import UserError

MIN_STEPS = 1000  # training steps of a few-label run, at least


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
        if not data.NUM_CLASSES <= count < train_size:
            raise UserError(
                f"--labels {text!r}: give counts from {data.NUM_CLASSES} to {train_size - 1} "
                "and/or 'all', e.g. --labels 100,1000,all"
            )
        counts.append(count)
    if not counts:
        raise UserError(f"--labels {text!r}: give at least one count, e.g. --labels 100,1000,all")
    return sorted(set(counts), key=lambda c: (c == "all", c if c != "all" else 0))


def repeats_for(count: int, batch_size: int, epochs: int) -> int:
    """How many times the labelled images appear per epoch, for at least MIN_STEPS steps."""
    steps_per_epoch = -(-count // batch_size)
    return max(1, -(-MIN_STEPS // (epochs * steps_per_epoch)))


def labelled_subset(dataset, count: int, seed: int, repeats: int = 1):
    """The dataset with its training split cut to `count` stratified images drawn by `seed`,
    each repeated `repeats` times."""
    picked = data.stratified_sample(dataset.y_train, count, np.random.default_rng(seed))
    picked = np.tile(picked, repeats)
    return dataclasses.replace(
        dataset, x_train=dataset.x_train[picked], y_train=dataset.y_train[picked]
    )


def run_path(runs_dir: Path, count, case: int, seed: int) -> Path:
    folder = runs_dir if count == "all" else runs_dir / f"labels{count}"
    return folder / f"case{case}_seed{seed}.json"


def summarise(records: dict, counts: list, cases: list[int], seeds: list[int]) -> dict:
    """case -> count -> mean, std and n of the test accuracy over seeds."""
    from kfashion.transfer import mean_std

    return {
        str(case): {
            str(count): mean_std([records[count, case, seed]["test_accuracy"] for seed in seeds])
            for count in counts
        }
        for case in cases
    }


def crossings(summary: dict, counts: list, better: str, worse: str) -> list[str]:
    """Counts at which case `better`'s mean accuracy first exceeds, or falls below, `worse`'s."""
    marks, previous = [], None
    for count in counts:
        ahead = summary[better][str(count)]["mean"] > summary[worse][str(count)]["mean"]
        if previous is not None and ahead != previous:
            where = "with all labels" if count == "all" else f"at {count} labels"
            marks.append(f"{'overtakes' if ahead else 'falls behind'} {where}")
        previous = ahead
    return marks
