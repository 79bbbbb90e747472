"""The reference study's claims about its four transfer cases, the label-efficiency
comparisons, and the per-class recall, over seeds (`kfashion.analysis.claims`)."""

import numpy as np

from kfashion import config
from kfashion.analysis import stats
from kfashion.analysis.claims import BAND_RULE, band_comparison, claim, comparison
from kfashion.config import CLASS_NAMES
from kfashion.finetuning import grid

# The reference study's numbers for the four cases.
ABOUT = {2: 0.80, 3: 0.88}
BELOW = {4: 0.75}
# Pairs of cases compared at each label count. Pretrained against random (1 - 3, 2 - 4) is the
# answer's question, judged once, there (`kfashion.analysis.answer`).
LABEL_PAIRS = ((2, 3), (1, 2))


def seed_means(transfer: dict, case: int, measure) -> dict:
    """{fine-tuning seed: a case's `measure`, the mean over the seed's initialisations}, by
    seed."""
    values = {}
    for run in transfer["runs"]:
        if run["case"] == case:
            values.setdefault(run["seed"], []).append(float(measure(run)))
    return {seed: float(np.mean(v)) for seed, v in sorted(values.items())}


def case_difference(transfer: dict, a: int, b: int, measure) -> list[float]:
    """Per fine-tuning seed both cases ran, case `a`'s `measure` minus case `b`'s (each the
    mean over the seed's initialisations)."""
    mine, theirs = seed_means(transfer, a, measure), seed_means(transfer, b, measure)
    return [mine[seed] - theirs[seed] for seed in sorted(mine.keys() & theirs.keys())]


def against_the_others(transfer: dict, case: int, measure, unit="", ahead=True) -> list[dict]:
    """Per other case, `case`'s `measure` minus the other's (`ahead`), or the other's minus
    `case`'s, paired by seed; claimed above 0."""
    pairs = [(case, o) if ahead else (o, case) for o in cases_of(transfer) if o != case]
    return [
        comparison(f"case {a} - case {b}", case_difference(transfer, a, b, measure), +1, unit)
        for a, b in pairs
    ]


def accuracy_minus(transfer: dict, case: int, target: float) -> list[float]:
    """Per seed, a case's test accuracy (the mean over the seed's initialisations) minus
    `target`."""
    accuracy = seed_means(transfer, case, lambda run: run["test_accuracy"])
    return [value - target for value in accuracy.values()]


def cases_of(transfer: dict) -> list[int]:
    return sorted(int(c) for c in transfer["cases"])


def worst_recall(run: dict) -> float:
    """The recall of a run's most confused class."""
    return min(run["recall"])


def transfer_claims(transfer: dict) -> list[dict]:
    """Every claim the transfer cases support, in the order the report lists them. Each
    comparison joins the findings' family (`kfashion.analysis.findings`), so a new claim here
    moves the others' Holm-adjusted p-values."""
    cases, found = cases_of(transfer), []
    if 1 in cases and len(cases) > 1:
        measure = (
            "per seed, case 1's test accuracy minus each other case's (paired by seed); "
            "claimed above 0 for every other case"
        )
        compared = against_the_others(transfer, 1, lambda run: run["test_accuracy"], "accuracy")
        found.append(claim("Case 1 has the highest accuracy", measure, compared))
    for case, target in ABOUT.items():
        if case in cases:
            values = accuracy_minus(transfer, case, target)
            band = band_comparison(
                f"case {case} - {target:.0%}", values, -config.NEAR, config.NEAR, "accuracy"
            )
            measure = (
                "per seed, the test accuracy (a random encoder's mean over its "
                f"initialisations) minus {target:.0%}; claimed within "
                f"{config.NEAR * 100:.0f} points of 0"
            )
            found.append(claim(f"Case {case}: about {target:.0%}", measure, [band], BAND_RULE))
    for case, bound in BELOW.items():
        if case in cases:
            values = accuracy_minus(transfer, case, bound)
            below = comparison(f"case {case} - {bound:.0%}", values, -1, "accuracy", threshold=True)
            measure = (
                "per seed, the test accuracy (a random encoder's mean over its "
                f"initialisations) minus {bound:.0%}; claimed below 0"
            )
            found.append(claim(f"Case {case}: below {bound:.0%}", measure, [below]))
    if {1, 4} <= set(cases):
        worst = (
            "part of 'Confusion: case 1 the cleanest, case 4 the most confused': per seed, the "
            "recall of each case's most confused class (the lowest diagonal entry of its "
            "row-normalised confusion matrix), paired by seed"
        )
        found += [
            claim(
                "Confusion: case 1 the cleanest",
                f"{worst}; case 1's minus every other case's, claimed above 0",
                against_the_others(transfer, 1, worst_recall, "accuracy"),
            ),
            claim(
                "Confusion: case 4 the most confused",
                f"{worst}; every other case's minus case 4's, claimed above 0",
                against_the_others(transfer, 4, worst_recall, "accuracy", ahead=False),
            ),
        ]
    if 4 in cases:
        measure = (
            "per seed, case 4's mean training loss in its first epoch minus each other "
            "case's; claimed above 0 for every other case"
        )
        compared = against_the_others(
            transfer, 4, lambda run: transfer["curves"][grid.curve_key(run)]["loss"][0]
        )
        found.append(claim("Case 4 starts from a very high loss", measure, compared))
    return found


def label_comparisons(efficiency: dict) -> list[dict]:
    """For each pair of cases and each label count: the paired difference, judged later."""
    summary, counts = efficiency["test_accuracy"], efficiency["settings"]["labels"]
    rows = []
    for a, b in LABEL_PAIRS:
        if str(a) not in summary or str(b) not in summary:
            continue
        for count in counts:
            per_seed = [summary[str(case)][str(count)]["per_seed"] for case in (a, b)]
            found = comparison(f"case {a} - case {b}", np.subtract(*per_seed), +1, "accuracy")
            rows.append({"pair": [a, b], "labels": count, **found})
    return rows


def ahead(row: dict) -> str:
    """Who is ahead where the (adjusted) test says so."""
    a, b = row["pair"]
    names = {stats.REPRODUCED: f"case {a} ahead", stats.CONTRADICTED: f"case {b} ahead"}
    return names.get(row["verdict"], stats.NOT_RESOLVED)


def per_class_recall(transfer: dict) -> dict:
    """case -> class name -> mean and std over seeds of that class's test recall."""
    return {
        case: {
            name: stats.mean_std(
                [r["recall"][k] for r in transfer["runs"] if str(r["case"]) == case]
            )
            for k, name in enumerate(CLASS_NAMES)
        }
        for case in sorted(transfer["cases"], key=int)
    }


def most_confused_pair(matrix) -> tuple[str, str, int]:
    """(true class, predicted class, count) of the largest off-diagonal cell of a confusion
    matrix."""
    matrix = np.array(matrix)
    np.fill_diagonal(matrix, 0)
    true, predicted = np.unravel_index(np.argmax(matrix), matrix.shape)
    return CLASS_NAMES[true], CLASS_NAMES[predicted], int(matrix[true, predicted])
