"""The study's answer from the grid's runs: does reconstruction pretraining help the classifier?

For each encoder network and label count, pretrained minus random test accuracy. Each side is
its best (case, recipe) as validation chose it: among the pretrained cases' (1 and 2) and
among the random cases' (3 and 4), the one whose chosen learning rate scored best in the
recipe search. The runs are nested: a pretrained side's values are one per pretraining seed
(the mean over that encoder's fine-tuning seeds), a random side's one per seed, so the interval
is Welch's t interval of the difference of the two sides' means, over independent starts. The
rows form one family, Holm-adjusted; each recipe alone (case 1 against case 3 with the same
recipe, case 2 against case 4) is a second family. No framework is imported here.
"""

import numpy as np

from kfashion import config
from kfashion.analysis import stats
from kfashion.config import CASES
from kfashion.finetuning.grid import group_key, group_of, labels_text

HELPS, HURTS, UNDETECTED = "helps", "hurts", "no detectable difference"
NO_INTERVAL = "not resolved (no interval)"  # fewer than 2 independent starts on a side
VERDICTS = {stats.REPRODUCED: HELPS, stats.CONTRADICTED: HURTS, stats.NOT_RESOLVED: UNDETECTED}
METHOD = (
    "Each side's values are one per start: for a pretrained case, each pretraining seed's mean "
    "test accuracy over the fine-tuning seeds every pretraining seed has; for a random case, "
    "each seed's. The difference of the two sides' means has Welch's 95% t interval and "
    "p-value, which treat the starts as independent: the pretraining seeds are, while a "
    "fine-tuning seed draws the same labelled images and batch order on both sides and for "
    "every pretraining seed. Each family's p-values are Holm-adjusted; a verdict is 'helps' or "
    "'hurts' where the adjusted p is below 0.05, 'no detectable difference' otherwise, and "
    "'not resolved (no interval)' where a side has a single start."
)


def side_values(runs, network: str, labels: str, case: int, recipe: str) -> list[float]:
    """One test accuracy per start of a (network, labels, case, recipe) cell: each pretraining
    seed's mean over the fine-tuning seeds every pretraining seed has (the first has more, which
    count nowhere here, so each start weighs alike), or each random seed's."""
    mine = [run for run in runs if group_of(run) == (network, labels, case, recipe)]
    pretrained = [run for run in mine if run["encoder_seed"] >= 0]
    if pretrained:
        by_start = {}
        for run in pretrained:
            by_start.setdefault(run["encoder_seed"], set()).add(run["seed"])
        common = set.intersection(*by_start.values())
        mine = [run for run in pretrained if run["seed"] in common]
    starts = {}
    for run in mine:
        start = run["encoder_seed"] if run["encoder_seed"] >= 0 else f"seed{run['seed']}"
        starts.setdefault(start, []).append(run["test_accuracy"])
    return [float(np.mean(values)) for _, values in sorted(starts.items(), key=str)]


def difference(pretrained: list[float], random: list[float]) -> dict:
    """Mean difference, Welch's 95% t interval and two-sided p-value (None for < 2 each)."""
    from scipy import stats as scipy_stats

    out = {"mean_difference": None, "ci95": None, "p_value": None}
    if not pretrained or not random:
        return out
    out["mean_difference"] = float(np.mean(pretrained) - np.mean(random))
    if min(len(pretrained), len(random)) < 2:
        return out
    if np.ptp(pretrained) == np.ptp(random) == 0:  # no spread: the interval is the point
        point = out["mean_difference"]
        return out | {"ci95": [point, point], "p_value": 0.0 if point else 1.0}
    test = scipy_stats.ttest_ind(pretrained, random, equal_var=False)
    found = test.confidence_interval(config.CONFIDENCE)
    out |= {"ci95": [float(found.low), float(found.high)], "p_value": float(test.pvalue)}
    return out


def best_option(options, choices: dict, network: str, labels: str):
    """The (case, recipe) of `options` whose chosen learning rate scored best on validation."""
    scored = []
    for case, recipe in options:
        choice = choices.get(group_key((network, labels, case, recipe)))
        if choice is not None:
            scored.append((choice["chosen_val_accuracy"], case, recipe))
    if not scored:
        return None
    _, case, recipe = max(scored, key=lambda s: -np.inf if s[0] is None else s[0])
    return case, recipe


def judge(rows: list[dict]) -> list[dict]:
    """Holm over the family of `rows`, and each row's verdict."""
    judged = [row for row in rows if row["p_value"] is not None]
    for row, adjusted in zip(judged, stats.holm([r["p_value"] for r in judged]), strict=True):
        row["p_holm"] = adjusted
    for row in rows:
        row.setdefault("p_holm", None)
        sign = stats.verdict(row["mean_difference"] or 0.0, row["p_holm"], +1)
        row["verdict"] = VERDICTS[sign] if row["p_value"] is not None else NO_INTERVAL
    return rows


def headline(runs, choices: dict, networks, counts, cases, recipes) -> dict:
    """The headline family, the each-recipe family, and the sentence that answers."""
    options = {
        pretrained: [
            (case, recipe)
            for case in cases
            if CASES[case].pretrained == pretrained
            for recipe in (recipes if CASES[case].train_encoder else ["frozen"])
        ]
        for pretrained in (True, False)
    }
    best_rows, recipe_rows = [], []
    for network in networks:
        for labels in counts:
            picks = {side: best_option(options[side], choices, network, labels) for side in options}
            if picks[True] and picks[False]:
                values = {s: side_values(runs, network, labels, *picks[s]) for s in picks}
                best_rows.append(
                    {
                        "network": network,
                        "labels": labels,
                        "pretrained": {"case": picks[True][0], "recipe": picks[True][1]},
                        "random": {"case": picks[False][0], "recipe": picks[False][1]},
                        "pretrained_mean": float(np.mean(values[True])),
                        "random_mean": float(np.mean(values[False])),
                        "starts": [len(values[True]), len(values[False])],
                        **difference(values[True], values[False]),
                    }
                )
            for recipe in [*recipes, "frozen"]:
                pair = (2, 4) if recipe == "frozen" else (1, 3)
                if not set(pair) <= set(cases):
                    continue
                values = [side_values(runs, network, labels, case, recipe) for case in pair]
                recipe_rows.append(
                    {
                        "network": network,
                        "labels": labels,
                        "recipe": recipe,
                        "cases": list(pair),
                        **difference(*values),
                    }
                )
    best_rows, recipe_rows = judge(best_rows), judge(recipe_rows)
    return {
        "method": METHOD,
        "best_recipes": best_rows,
        "each_recipe": recipe_rows,
        "sentence": sentence(best_rows, counts),
    }


def _where(rows) -> str:
    """ "with the course encoder at 100 labels (+3.2 points) and 1,000 labels (+1.1 points)" """
    parts = []
    for network in dict.fromkeys(row["network"] for row in rows):
        mine = [
            f"{labels_text(r['labels'])} ({100 * r['mean_difference']:+.1f} points)"
            for r in rows
            if r["network"] == network
        ]
        listed = mine[0] if len(mine) == 1 else ", ".join(mine[:-1]) + " and " + mine[-1]
        parts.append(f"with the {network} encoder at {listed}")
    return "; ".join(parts)


def sentence(rows: list[dict], counts) -> str:
    """One plain sentence from the headline verdicts."""
    helps = [row for row in rows if row["verdict"] == HELPS]
    hurts = [row for row in rows if row["verdict"] == HURTS]
    unresolved = [row for row in rows if row["verdict"] == NO_INTERVAL]
    if not rows:
        return "No comparison of a pretrained and a random encoder was run."
    if len(unresolved) == len(rows):
        return (
            "Not resolved here: no comparison has an interval (each side needs at least two "
            "independent starts: pretraining seeds, or seeds of a random encoder)."
        )
    if not helps:
        text = (
            "Reconstruction pretraining gives the classifier no detectable benefit here, with "
            "any of these encoders and label counts (each side with the recipe validation chose)"
        )
    else:
        text = f"Reconstruction pretraining helps the classifier {_where(helps)}"
        if "all" in counts and not any(row["labels"] == "all" for row in helps):
            text += ", not detectably with all labels"
    if hurts:
        text += f"; it hurts {_where(hurts)}"
    if unresolved:
        text += f"; not resolved (no interval) {_where(unresolved)}"
    return text + "."
