"""What a finished grid of transfer runs writes: grid.json, with the answer and, within it, the
classic comparisons (the four cases on all labels: "classic"; those cases at every label count:
"label_efficiency"), and their figures.

Everything is read back from the run records on disk, so the files are the same however the
runs were spread over processes and machines.
"""

import dataclasses
from pathlib import Path

import numpy as np

from kfashion import config
from kfashion.analysis import answer
from kfashion.analysis.stats import mean_std
from kfashion.config import CASES
from kfashion.core import layout
from kfashion.core.files import read_json, read_record, write_json
from kfashion.core.provenance import made_on, portable, provenance
from kfashion.finetuning import grid

# What grid.json keeps of each final run (its curves stay in its record; the classic cases'
# runs keep theirs in "classic")
KEPT = tuple(
    "network labels case recipe chosen encoder_seed seed init learning_rate train_images repeats "
    "best_epoch val_accuracy split_val_accuracy test_accuracy test_loss recall "
    "dead_code_units_before dead_code_units_after encoder_weight_change seconds ended "
    "environment".split()
)


def records(results: Path, cells) -> tuple[list, list, list]:
    """(choices, their runs on the folds, final runs) of every cell, in the grid's order."""
    made, folds, final = [], [], []
    for cell in cells:
        choice = read_json(layout.choice(results, cell))
        if cell.search:
            made.append(choice)
            for candidate in choice["candidates"]:
                recipe, rate = candidate["recipe"], candidate["learning_rate"]
                for fold in range(len(candidate["held_out_accuracy"])):
                    folds.append(read_json(layout.fold_run(results, cell, recipe, rate, fold)))
            continue
        chosen = dataclasses.replace(cell, recipe=choice["recipe"], rate=choice["learning_rate"])
        final += [read_json(layout.grid_run(results, chosen, *run)) for run in chosen.runs]
    return made, folds, final


def choice_summary(made: list[dict]) -> dict:
    """How often each case chose each recipe and rate, at each network and label count, and
    how many choices were ties or went beyond their starting rates."""
    out = {}
    for choice in made:
        key = f"{choice['network']}|{choice['labels']}|{choice['case']}"
        entry = out.setdefault(key, {"network": choice["network"], "labels": choice["labels"],
                                     "case": choice["case"], "chosen": {}, "choices": 0,
                                     "ties": 0, "extended": 0})  # fmt: skip
        name = f"{choice['recipe']} {choice['learning_rate']:g}"
        entry["chosen"][name] = entry["chosen"].get(name, 0) + 1
        entry["choices"] += 1
        entry["ties"] += bool(choice["ties"])
        entry["extended"] += bool(choice["extended"])
    return out


def summaries(final_runs) -> list[dict]:
    """Test accuracy and the diagnostics per (network, labels, case, pretraining seed) of the
    grid, over its runs (each with its draw's recipe and rate)."""
    cells = {}
    for run in final_runs:
        key = (run["network"], run["labels"], run["case"], run["encoder_seed"])
        cells.setdefault(key, []).append(run)
    measures = "test_accuracy dead_code_units_before dead_code_units_after encoder_weight_change"
    return [
        {
            "network": network,
            "labels": labels,
            "case": case,
            "encoder_seed": encoder_seed,
            "recipes": sorted({r["recipe"] for r in runs}),
            "seeds": sorted({r["seed"] for r in runs}),
            "runs": len(runs),
            **{name: mean_std([r[name] for r in runs]) for name in measures.split()},
        }
        for (network, labels, case, encoder_seed), runs in cells.items()
    ]


def classic_summary(runs: list[dict], case_numbers: list[int]) -> dict:
    summary = {}
    for case in case_numbers:
        mine = sorted((r for r in runs if r["case"] == case), key=grid.run_order)
        summary[str(case)] = {
            "label": CASES[case].label,
            "recipe": mine[0]["recipe"],
            "learning_rate": mine[0]["learning_rate"],
            "seeds": sorted({r["seed"] for r in mine}),
            "runs": len(mine),
            "test_accuracy": mean_std([r["test_accuracy"] for r in mine]),
            "test_loss": mean_std([r["test_loss"] for r in mine]),
            "confusion_matrix_all_seeds": np.sum([r["confusion_matrix"] for r in mine], axis=0),
        }
    return summary


def classic_view(argv, runs, encoder, dataset, settings, results: Path) -> dict:
    """The four cases of the classic comparison (grid.json's "classic"), and their figures."""
    from kfashion.config import CLASS_NAMES
    from kfashion.rendering import grid_plots

    case_numbers = sorted({r["case"] for r in runs})
    summary = classic_summary(runs, case_numbers)
    paths = {
        "curves": layout.figure(results, "transfer_curves"),
        "confusion": layout.figure(results, "transfer_confusion"),
    }
    labels = {case: f"case {case}: {CASES[case].label}" for case in case_numbers}
    histories = {c: [r["history"] for r in runs if r["case"] == c] for c in case_numbers}
    grid_plots.plot_transfer_curves(histories, labels, paths["curves"])
    matrices = {c: summary[str(c)]["confusion_matrix_all_seeds"] for c in case_numbers}
    grid_plots.plot_confusion_grid(matrices, labels, CLASS_NAMES, paths["confusion"])
    kept = (*KEPT, "best_val_accuracy")
    seeds = sorted({r["seed"] for r in runs})
    return {
        "provenance": provenance("kfashion.transfer", argv, dataset),
        "settings": {
            **settings,
            "network": runs[0]["network"],
            "encoder": portable(str(encoder)),
            "encoder_seed": max(r["encoder_seed"] for r in runs)
            if any(CASES[c].pretrained for c in case_numbers)
            else None,
            "learning_rate": {str(c): summary[str(c)]["learning_rate"] for c in case_numbers},
            "schedule": "; ".join(
                f"case {c} {summary[str(c)]['recipe']}: "
                f"{config.RECIPES[summary[str(c)]['recipe']].description}"
                for c in case_numbers
            )
            + "; Adam, cosine decay to 0 over each phase, its learning rate chosen per case "
            "on validation; best val_accuracy epoch kept",
            "seeds": seeds,
            "cases": case_numbers,
            "sizes": dataset.sizes(),
        },
        "cases": summary,
        "runs": [
            {k: r[k] for k in kept if k in r} | {"best_val_accuracy": r["val_accuracy"]}
            for r in runs
        ],
        "curves": {grid.curve_key(r): r["history"] for r in runs},
        "figures": {name: str(path.relative_to(results)) for name, path in paths.items()},
        "models": {c: f"{layout.classifier('.', c)} (seed {seeds[0]})" for c in case_numbers},
    }


def efficiency_view(argv, runs, counts, dataset, settings, results: Path) -> dict:
    """The classic comparison's cells at every label count (grid.json's "label_efficiency"),
    and their figure."""
    from kfashion.rendering import grid_plots

    cases = sorted({r["case"] for r in runs})
    seeds = sorted({r["seed"] for r in runs})
    summary = {}
    for case in cases:
        summary[str(case)] = {}
        for count in counts:
            by_seed = {}  # a random case's initialisations of a seed: their mean
            for r in runs:
                if (r["case"], r["labels"]) == (case, count):
                    by_seed.setdefault(r["seed"], []).append(r["test_accuracy"])
            values = [float(np.mean(by_seed[seed])) for seed in sorted(by_seed)]
            summary[str(case)][count] = {**mean_std(values), "per_seed": values}
    names = {case: f"case {case}: {CASES[case].label}" for case in cases}
    figure = layout.figure(results, "label_efficiency")
    counts = [count if count == grid.ALL else int(count) for count in counts]  # as before
    grid_plots.plot_label_efficiency(summary, counts, names, figure, len(dataset.y_train))
    repeats = {r["labels"]: r["repeats"] for r in runs if r["labels"] != grid.ALL}
    return {
        "provenance": provenance("kfashion.transfer", argv, dataset),
        "settings": {
            **settings,
            "labels": counts,
            "seeds": seeds,
            "cases": cases,
            "few_label_runs": "no validation, last epoch kept; images repeated within "
            f"each epoch for at least {settings['min_steps']} steps; recipe and learning rate "
            f"chosen by {config.FOLDS}-fold cross-validation within the run's own labels",
        },
        "test_accuracy": summary,
        "repeats_per_epoch": repeats,
        "figure": str(figure.relative_to(results)),
    }


def augmentation(cases) -> dict:
    """The augmentation control's augmentations, where it ran: {"augmentation": ...}."""
    if config.AUGMENTED_CASE not in cases:
        return {}
    return {
        "augmentation": {
            "case": config.AUGMENTED_CASE,
            "layers": "RandomZoom (in), RandomTranslation, RandomFlip (horizontal), "
            "RandomErasing: the contrastive pretext's views",
            "strength": config.PRETEXTS["contrastive"]["strength"],
            "erasing_factor": config.ERASING_FACTOR,
        }
    }


def write(argv, cells, main, files, digests, dataset, settings, results: Path) -> None:
    """Every file a finished grid writes (`main`: `grid.is_main` of a cell; `digests`: network
    -> pretraining seed -> its encoder file's SHA-256)."""
    from kfashion.rendering import grid_plots

    made, fold_runs, final_runs = records(results, cells)
    networks = list(dict.fromkeys(cell.network for cell in cells))
    counts = list(dict.fromkeys(cell.labels for cell in cells))
    cases = sorted({cell.case for cell in cells})
    recipes = sorted({r for cell in cells if cell.search for r in cell.recipes} - {"frozen"})
    found = answer.headline(final_runs, networks, counts, [answer.CHOSEN])
    figure = layout.figure(results, "transfer_grid")
    arms = grid.random_arms(networks)  # a random case's runs: its architecture's first network
    lines = {
        (network, case, answer.CHOSEN if CASES[case].train_encoder else "frozen"): {
            count: answer.side_values(
                final_runs, network if CASES[case].pretrained else arms[network], count, case
            )
            for count in counts
        }
        for network in networks
        for case in cases
        if not CASES[case].augmented or answer.augments(network)  # where the answer reads it
    }
    grid_plots.plot_grid(lines, counts, figure, len(dataset.y_train))
    forest = layout.figure(results, "answer") if found["rows"] else None  # none: no comparison
    if forest:
        grid_plots.plot_answer(found["rows"], forest)
    # the classic cases and their label efficiency, each with the command that made it: where
    # this grid holds none, those an earlier command made here stay (its saved classifiers too)
    before = read_record(results / layout.GRID) or {}
    classic = before.get("classic")
    classic_runs = [r for cell in cells if main(cell) for r in final_runs if _of(r, cell)]
    if classic_runs:
        first = files[classic_runs[0]["network"]]
        encoder = first[min(first)]
        classic = classic_view(argv, classic_runs, encoder, dataset, settings, results)
    efficiency = before.get("label_efficiency")
    if len(counts) > 1:
        # the classic comparison's cells at every label count
        classic_cells = [cell for cell in cells if main(dataclasses.replace(cell, labels=grid.ALL))]
        efficiency_runs = [r for r in final_runs for cell in classic_cells if _of(r, cell)]
        efficiency = efficiency_view(argv, efficiency_runs, counts, dataset, settings, results)
    write_json(
        results / layout.GRID,
        {
            "provenance": provenance("kfashion.transfer", argv, dataset),
            "settings": {
                **settings,
                "networks": networks,
                "labels": counts,
                "cases": cases,
                "recipes": {
                    name: config.RECIPES[name].description for name in [*recipes, "frozen"]
                },
                "encoders": {
                    name: {
                        str(s): {"file": portable(str(p)), "sha256": digests[name][s]}
                        for s, p in mine.items()
                    }
                    for name, mine in files.items()
                },
                "sizes": dataset.sizes(),
                **augmentation(cases),
                "choice": grid.CHOICE_RULE,
                "kerastuner": "one trial per cell: a choice (network, labels, case, draw; with "
                "all labels one for every draw) or the final runs of one pretraining seed that "
                "take it (its executions: each draw's initialisations)",
            },
            "choices": made,
            "choice_summary": list(choice_summary(made).values()),
            "answer": found,
            "cells": summaries(final_runs),
            "runs": [{k: r[k] for k in KEPT if k in r} for r in final_runs],
            "choice_seconds": sum(r["seconds"] for r in fold_runs),
            "run_seconds": sum(r["seconds"] for r in final_runs),
            "made_on": sorted({made_on(r["environment"]) for r in fold_runs + final_runs}),
            "figure": str(figure.relative_to(results)),
            "answer_figure": str(forest.relative_to(results)) if forest else None,
            "classic": classic,
            "label_efficiency": efficiency,
        },
    )
    print(found["sentence"])
    print(f"wrote {results / layout.GRID} and its figures")


def _of(run: dict, cell) -> bool:
    """Whether a final run is one of a final cell's."""
    where = (run["network"], run["labels"], run["case"], run["encoder_seed"])
    mine = (cell.network, cell.labels, cell.case, cell.encoder_seed)
    return not cell.search and where == mine and run["seed"] in cell.seeds
