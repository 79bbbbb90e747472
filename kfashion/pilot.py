"""`python -m kfashion.pilot`: the grid's sizes, and its time, from a pilot grid's runs.

Reads every final transfer run recorded under `--results` (a pilot: a crossed grid of a few
pretraining seeds, draws and random initialisations, made by `python -m kfashion.transfer`),
measures each comparison's variance components (`kfashion.analysis.answer`), chooses per
label count the fewest draws that bring the expected 95% interval of pretrained minus random
within the count's margin for every fine-tuned comparison (`kfashion.analysis.sizing`; the
frozen ones' expected half-widths at those sizes are reported beside them), and predicts the
training time of a grid of those sizes per network from the pilot's own seconds per run.
Writes `pilot.json` under `--results`.
"""

import sys
from pathlib import Path

import numpy as np

from kfashion import config
from kfashion.analysis import answer, sizing
from kfashion.core import cli, layout
from kfashion.core.errors import UserError, exit_on_user_error
from kfashion.core.files import read_json, read_record, write_json
from kfashion.core.provenance import made_on, provenance
from kfashion.finetuning import grid


def parse_args(argv):
    parser = cli.parser(
        "kfashion.pilot",
        "Measure a pilot grid's variance components; choose the grid's sizes from them.",
        "--results results/pilot",
    )
    parser.add_argument(
        "--results", default=config.PILOT_RESULTS, help="the pilot's results folder"
    )
    parser.add_argument(
        "--pretraining-seeds",
        type=int,
        default=config.SWEEP_SEEDS,
        help="pretraining seeds the sized grid starts from, at least",
    )
    parser.add_argument(
        "--random-inits",
        type=int,
        default=config.RANDOM_INITS,
        help="initialisations of each draw of a random case in the sized grid",
    )
    return parser.parse_args(argv)


def final_runs(results: Path) -> list[dict]:
    """Every final run's record of a grid (not the runs that chose, nor a record cut short)."""
    paths = layout.final_transfer_runs(results)
    return [record for path in paths if (record := read_record(path)) is not None]


def seconds_per_run(runs: list[dict]) -> dict:
    """label count -> case -> mean seconds of the pilot's runs (joint ones for cases 1 and 3,
    where the pilot ran each recipe: the slower one, which a choice may pick)."""
    out = {}
    for run in runs:
        if run["recipe"] in ("joint", "frozen") or run.get("chosen"):
            out.setdefault(run["labels"], {}).setdefault(run["case"], []).append(run["seconds"])
    return {labels: {c: float(np.mean(s)) for c, s in by.items()} for labels, by in out.items()}


def steps(images: int, settings: dict) -> int:
    """Training steps of a few-label run on `images` labelled images: at least the minimum."""
    per_epoch = -(-images // settings["batch_size"]) * settings["epochs"]
    return max(per_epoch, settings["min_steps"])


def predicted_seconds(labels: str, size: dict, seconds: dict, settings: dict) -> float:
    """One network's training seconds at one label count of a grid of `size` (its draws,
    pretraining seeds and initialisations): every choice's runs on their folds (the starting
    rates: a choice at an edge adds runs) and every final run, at the pilot's seconds per run."""
    k, n, m = size["pretraining_seeds"], size["draws"], size["random_initialisations"]
    finals = sum(seconds[c] * (k if c in (1, 2) else m) for c in seconds) * n
    recipes = grid.parse_recipes(config.GRID_RECIPES)
    candidates = {c: len(grid.candidates(grid.recipes_of(c, recipes))) for c in seconds}
    if labels == grid.ALL:
        return finals + sum(seconds[c] * candidates[c] for c in seconds)
    count = int(labels)
    ratio = steps(count - count // config.FOLDS, settings) / steps(count, settings)
    per_draw = sum(seconds[c] * candidates[c] * config.FOLDS * ratio for c in seconds)
    return finals + n * per_draw


@exit_on_user_error
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    cli.at_least(args.pretraining_seeds, 2, "--pretraining-seeds")
    cli.at_least(args.random_inits, 1, "--random-inits")
    results = Path(args.results)
    runs = final_runs(results)
    if not runs:
        raise UserError(
            f"--results {results}: no transfer runs there; make the pilot grid first with "
            "python -m kfashion.transfer --results " + str(results)
        )
    networks = list(dict.fromkeys(r["network"] for r in runs))
    counts = grid.parse_counts(",".join({r["labels"] for r in runs}), 10**9)
    # a crossed grid's fine-tuned runs each took their draw's choice: one row of them all
    chosen = any(r.get("chosen") for r in runs)
    recipes = [answer.CHOSEN] if chosen else sorted({r["recipe"] for r in runs} - {"frozen"})
    found = answer.headline(runs, networks, counts, recipes)
    tuned = [r for r in found["rows"] if r["cases"] == [1, 3]]  # not the augmentation control's
    sizes = sizing.sizes(tuned, args.pretraining_seeds, args.random_inits)
    for labels, size in sizes.items():
        frozen = [r for r in found["rows"] if (r["labels"], r["recipe"]) == (labels, "frozen")]
        size["frozen_half_widths"] = {
            r["network"]: sizing.half_width(
                sizing.components_for(r, args.random_inits),
                size["pretraining_seeds"],
                size["draws"],
            )
            for r in frozen
            if r["components"] is not None
        }
    seconds = seconds_per_run(runs)
    predicted = {}
    for labels, size in sizes.items():
        if labels in seconds:  # with the training settings its first network's runs had
            settings = read_json(layout.grid_runs(results, networks[0], labels) / layout.SETTINGS)
            predicted[labels] = predicted_seconds(labels, size, seconds[labels], settings)
    path = results / layout.PILOT
    write_json(
        path,
        {
            "provenance": provenance("kfashion.pilot", argv),
            "rule": "per label count, the fewest draws (from 2) for which every fine-tuned "
            "comparison's expected 95% half-width is at most the count's margin, with the "
            "pretraining seeds given (more, up to "
            f"{config.MOST_SEEDS}, where {config.MOST_DRAWS} draws are not enough) and "
            f"{args.random_inits} initialisations of each random draw",
            "margins": {str(k): v for k, v in config.MARGINS.items()},
            "rows": found["rows"],
            "sizes": sizes,
            "seconds_per_run": seconds,
            "predicted_seconds_per_network": predicted,
            "runs": len(runs),
            "made_on": sorted({made_on(r["environment"]) for r in runs}),
        },
    )
    for labels, size in sizes.items():
        hours = predicted.get(labels, float("nan")) / 3600
        print(
            f"{grid.labels_text(labels)}: {size['draws']} draws x {size['pretraining_seeds']} "
            f"pretraining seeds (margin {100 * size['margin']:g} points"
            + ("" if size["reached"] else ", not reached")
            + f"), about {hours:.1f} h per network"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
