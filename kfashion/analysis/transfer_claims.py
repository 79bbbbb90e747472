"""The reference study's claims about its four transfer cases, the label-efficiency
comparisons, and the per-class recall, over seeds (`kfashion.analysis.claims`)."""

import numpy as np

from kfashion import config
from kfashion.analysis import stats
from kfashion.analysis.claims import (
    BAND_RULE,
    band_comparison,
    claim,
    comparison,
)
from kfashion.config import CLASS_NAMES
from kfashion.finetuning import grid

# The reference study's numbers for the four cases.
ABOUT = {2: 0.80, 3: 0.88}
BELOW = {4: 0.75}
# Pairs of cases compared at each label count. Pretrained against random (1 - 3, 2 - 4) is the
# answer's question, judged once, there (`kfashion.analysis.answer`).
LABEL_PAIRS = ((2, 3), (1, 2))


def case_values(transfer: dict, case: int, key: str) -> dict:
    """seed -> a run's number (e.g. test_accuracy) for one case."""
    return {r["seed"]: r[key] for r in transfer["runs"] if r["case"] == case}


def case_difference(transfer: dict, a: int, b: int, measure) -> list[float]:
    """Per fine-tuning seed both cases ran, case `a`'s `measure` minus case `b`'s (each the
    mean over the seed's initialisations)."""
    values = {}
    for run in transfer["runs"]:
        values.setdefault((run["case"], run["seed"]), []).append(float(measure(run)))
    seeds = sorted({s for c, s in values if c == a} & {s for c, s in values if c == b})
    return [float(np.mean(values[a, s]) - np.mean(values[b, s])) for s in seeds]


def cases_of(transfer: dict) -> list[int]:
    return sorted(int(c) for c in transfer["cases"])


def accuracy(run: dict) -> float:
    return run["test_accuracy"]


def worst_recall(run: dict) -> float:
    return min(run["recall"])


def case_1_most_accurate(transfer: dict) -> list[dict]:
    cases = cases_of(transfer)
    if 1 not in cases or len(cases) < 2:
        return []
    return [
        claim(
            "Case 1 has the highest accuracy",
            "per seed, case 1's test accuracy minus each other case's (paired by seed); "
            "claimed above 0 for every other case",
            [
                comparison(
                    f"case 1 - case {other}",
                    case_difference(transfer, 1, other, accuracy),
                    +1,
                    "accuracy",
                )
                for other in cases
                if other != 1
            ],
        )
    ]


def cases_about_their_accuracy(transfer: dict) -> list[dict]:
    found = []
    for case, target in ABOUT.items():
        if case in cases_of(transfer):
            values = [v - target for v in case_values(transfer, case, "test_accuracy").values()]
            found.append(
                claim(
                    f"Case {case}: about {target:.0%}",
                    f"per seed, the test accuracy minus {target:.0%}; claimed within "
                    f"{config.NEAR * 100:.0f} points of 0",
                    [
                        band_comparison(
                            f"case {case} - {target:.0%}",
                            values,
                            -config.NEAR,
                            config.NEAR,
                            "accuracy",
                        )
                    ],
                    rule=BAND_RULE,
                )
            )
    return found


def cases_below_their_bound(transfer: dict) -> list[dict]:
    found = []
    for case, bound in BELOW.items():
        if case in cases_of(transfer):
            values = [v - bound for v in case_values(transfer, case, "test_accuracy").values()]
            found.append(
                claim(
                    f"Case {case}: below {bound:.0%}",
                    f"per seed, the test accuracy minus {bound:.0%}; claimed below 0",
                    [comparison(f"case {case} - {bound:.0%}", values, -1, "accuracy", True)],
                )
            )
    return found


def confusion_of_the_cases(transfer: dict) -> list[dict]:
    cases = cases_of(transfer)
    if not ({1, 4} <= set(cases) and "recall" in transfer["runs"][0]):
        return []
    worst = (
        "per seed, the recall of each case's most confused class (the lowest diagonal entry "
        "of its row-normalised confusion matrix), paired by seed"
    )
    part = "part of 'Confusion: case 1 the cleanest, case 4 the most confused'"
    return [
        claim(
            "Confusion: case 1 the cleanest",
            f"{part}: {worst}; case 1's minus every other case's, claimed above 0",
            [
                comparison(
                    f"case 1 - case {o}",
                    case_difference(transfer, 1, o, worst_recall),
                    +1,
                    "accuracy",
                )
                for o in cases
                if o != 1
            ],
        ),
        claim(
            "Confusion: case 4 the most confused",
            f"{part}: {worst}; every other case's minus case 4's, claimed above 0",
            [
                comparison(
                    f"case {o} - case 4",
                    case_difference(transfer, o, 4, worst_recall),
                    +1,
                    "accuracy",
                )
                for o in cases
                if o != 4
            ],
        ),
    ]


def case_4_starts_high(transfer: dict) -> list[dict]:
    cases = cases_of(transfer)
    if 4 not in cases or "curves" not in transfer:
        return []

    def first_loss(run):
        return transfer["curves"][grid.curve_key(run)]["loss"][0]

    return [
        claim(
            "Case 4 starts from a very high loss",
            "per seed, case 4's mean training loss in its first epoch minus each other "
            "case's; claimed above 0 for every other case",
            [
                comparison(f"case 4 - case {o}", case_difference(transfer, 4, o, first_loss), +1)
                for o in cases
                if o != 4
            ],
        )
    ]


# The reference study's claims about its four transfer cases, in the order the report lists
# them: each a function of transfer.json giving the claims its cases support. Each comparison
# joins the findings' family (`kfashion.analysis.findings`), so a new claim here moves the
# others' Holm-adjusted p-values.
CLAIMS = (
    case_1_most_accurate,
    cases_about_their_accuracy,
    cases_below_their_bound,
    confusion_of_the_cases,
    case_4_starts_high,
)


def transfer_claims(transfer: dict) -> list[dict]:
    """Every claim of `CLAIMS` the transfer cases support, in order."""
    return [found for make in CLAIMS for found in make(transfer)]


def label_comparisons(efficiency: dict) -> list[dict]:
    """For each pair of cases and each label count: the paired difference, judged later."""
    summary, counts = efficiency["test_accuracy"], efficiency["settings"]["labels"]
    rows = []
    for a, b in LABEL_PAIRS:
        if str(a) not in summary or str(b) not in summary:
            continue
        for count in counts:
            diff = np.subtract(
                summary[str(a)][str(count)]["per_seed"], summary[str(b)][str(count)]["per_seed"]
            )
            rows.append(
                {
                    "pair": [a, b],
                    "labels": count,
                    **comparison(f"case {a} - case {b}", diff, +1, "accuracy"),
                }
            )
    return rows


def ahead(row: dict) -> str:
    """Who is ahead where the (adjusted) test says so."""
    a, b = row["pair"]
    names = {stats.REPRODUCED: f"case {a} ahead", stats.CONTRADICTED: f"case {b} ahead"}
    return names.get(row["verdict"], stats.NOT_RESOLVED)


def per_class_recall(transfer: dict) -> dict | None:
    """case -> class name -> mean and std over seeds of that class's test recall."""
    if "recall" not in transfer["runs"][0]:
        return None
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
