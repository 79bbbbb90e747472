"""The study's answer from the grid's runs: does pretraining help the classifier? `plan_text`
states the plan: per encoder network, label count and recipe (CHOSEN: each run with its draw's
choice; a grid made before choices has a row per recipe), the paired differences D[k, d] =
pretrained(k, d) - mean over initialisations of random(d) of the crossed runs, their mean's
variance from a two-way random-effects model (statsmodels' `anova_lm` of the two-way table),
and two tests per row in one Holm family. No framework is imported here.
"""

import numpy as np

from kfashion import config
from kfashion.analysis import stats
from kfashion.finetuning.grid import labels_text, random_arms

# A row of the fine-tuned cases whose runs each took the recipe their draw's choice made
CHOSEN = "chosen"
HELPS, HURTS, EQUIVALENT, INCONCLUSIVE = "helps", "hurts", "no benefit larger than", "inconclusive"
# one pretraining seed and one draw, or differences all alike (no spread to make an interval of)
NO_INTERVAL = "not resolved (no interval)"


def margin(labels: str) -> float:
    """The equivalence margin of a label count, as a fraction (config.MARGINS is in points)."""
    return config.by_count(config.MARGINS, labels) / 100


def plan_text() -> str:
    """The analysis plan, in the words grid.json records and the report prints."""
    margins = ", ".join(
        f"{points:g} at {labels_text(str(labels))}" for labels, points in config.MARGINS.items()
    )
    return (
        "One row per encoder network, label count and recipe: pretrained minus random test "
        "accuracy (case 1 minus case 3 fine-tuned, each run with the recipe and rate its "
        "draw's choice made; case 2 minus case 4 frozen; where the augmentation control ran, "
        "case 1 of contrastive pretraining minus case 5, the random encoder fine-tuned on "
        "augmented images with the joint recipe alone), paired "
        "draw by draw: each pretraining seed's run on a draw of labelled images minus the mean of "
        "the random encoder's initialisations on the same draw. The mean difference's variance "
        "is the two-way random-effects model's (pretraining seed, draw, residual; the ANOVA "
        "estimator, negative components set to 0, Satterthwaite's degrees of freedom), so the "
        "interval covers new pretraining seeds and new draws of labels alike. Each row has two "
        "tests, a difference (two-sided t) and equivalence within the label count's margin "
        f"(two one-sided t tests; margins in points: {margins}); every test of every row is one "
        "family, Holm-adjusted. A row's verdict: 'helps by at least X' or 'hurts by at least X' "
        "where the difference test holds (X the 95% interval's nearer end), 'no benefit larger "
        "than D' where the equivalence test holds (D the margin), else 'inconclusive: between a "
        "and b' (the 95% interval). The plan is fixed in the config before any run."
    )


def paired_table(
    runs, network: str, labels: str, cases: tuple, recipe: str, random_network: str | None = None
) -> dict:
    """The paired differences of one row, on the draws every pretraining seed and the random
    case (of `random_network`, default `network`: `grid.random_arms`) share: {"differences":
    K x n array (pretraining seed by draw), "pretraining_seeds", "draws", "random": draw -> its
    initialisations' accuracies, "pretrained_mean", "random_mean"}; None where a side has no
    run."""
    pretrained, random = {}, {}
    for run in runs:
        # CHOSEN: a row of every fine-tuned run, whichever recipe its draw's choice made
        in_row = run["recipe"] != "frozen" if recipe == CHOSEN else run["recipe"] == recipe
        if run["labels"] != labels or not in_row:
            continue
        if run["case"] == cases[0] and run["network"] == network:
            pretrained.setdefault(run["encoder_seed"], {}).setdefault(run["seed"], []).append(
                run["test_accuracy"]
            )
        elif run["case"] == cases[1] and run["network"] == (random_network or network):
            random.setdefault(run["seed"], []).append(run["test_accuracy"])
    if not pretrained or not random:
        return None
    draws = sorted(set(random).intersection(*(set(mine) for mine in pretrained.values())))
    if not draws:
        return None
    seeds = sorted(pretrained)
    table = np.array([[np.mean(pretrained[k][d]) for d in draws] for k in seeds])
    random_means = np.array([np.mean(random[d]) for d in draws])
    return {
        "differences": table - random_means,
        "pretraining_seeds": seeds,
        "draws": draws,
        "random": {d: random[d] for d in draws},
        "pretrained_mean": float(table.mean()),
        "random_mean": float(random_means.mean()),
    }


def mean_squares(differences: np.ndarray) -> dict:
    """The two-way ANOVA table of a K x n table, K and n at least 2 (statsmodels): each term's
    mean square and degrees of freedom, by name ("pretraining", "draw", "residual")."""
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    k, n = differences.shape
    seeds, draws = np.repeat(np.arange(k), n), np.tile(np.arange(n), k)  # each one's seed, draw
    frame = pd.DataFrame({"d": differences.ravel(), "seed": seeds, "draw": draws})
    table = anova_lm(smf.ols("d ~ C(seed) + C(draw)", frame).fit())
    names = {"C(seed)": "pretraining", "C(draw)": "draw", "Residual": "residual"}
    return {
        names[term]: (float(row["sum_sq"] / row["df"]), float(row["df"]))
        for term, row in table.iterrows()
        if row["df"] > 0
    }


def estimate(differences: np.ndarray, bound: float) -> dict | None:
    """The mean paired difference, its standard error and degrees of freedom, the variance
    components (pretraining seed, draw, residual) of a K x n table, its 95% interval, and the
    p-values of the difference test and of the equivalence test within +-`bound`; None where
    K = n = 1 or every difference is alike (a spread of 0 from a few runs is a measure too
    coarse to vary, such as collapsed classifiers, not certainty).

    With one pretraining seed (or one draw) the table is one-way, and its spread is all that
    is known: it stands for the draw (or pretraining seed) component with the residual in it.
    """
    from scipy.stats import t

    k, n = differences.shape
    if stats.untestable(differences):
        return None
    if k == 1 or n == 1:
        variance = float(np.var(differences, ddof=1))
        only = "draw" if k == 1 else "pretraining"
        components = {"pretraining": 0.0, "draw": 0.0, "residual": 0.0, only: variance}
        combined, df = variance, k * n - 1
    else:
        squares = mean_squares(differences)
        # a component is its mean square less the residual's, over its size; one < 0 is 0
        residual = squares["residual"][0]
        components = {"residual": residual}
        for name, size in (("pretraining", n), ("draw", k)):
            components[name] = max(squares[name][0] - residual, 0.0) / size
        kept = [name for name in ("pretraining", "draw") if squares[name][0] > residual]
        combined, df = stats.satterthwaite(squares, kept)
        if df is None:  # nothing varies, to rounding
            return None
    mean, se, df = float(differences.mean()), float(np.sqrt(combined / (k * n))), float(df)
    half = t.ppf(0.5 + config.CONFIDENCE / 2, df) * se
    below = t.sf((mean + bound) / se, df)  # H0: difference <= -bound
    above = t.cdf((mean - bound) / se, df)  # H0: difference >= +bound
    return {
        "mean_difference": mean,
        "standard_error": se,
        "df": df,
        "components": components,
        "ci95": [mean - half, mean + half],
        "p_difference": float(2 * t.sf(abs(mean) / se, df)),
        "p_equivalence": float(max(below, above)),
    }


def init_variance(random: dict) -> float | None:
    """The variance between a random encoder's initialisations of the same draw, pooled over
    draws (one-way ANOVA's residual); None without two of any draw."""
    groups = [np.asarray(values, dtype=float) for values in random.values() if len(values) > 1]
    if not groups:
        return None
    df = sum(len(g) - 1 for g in groups)
    return float(sum(((g - g.mean()) ** 2).sum() for g in groups) / df)


def row(
    runs, network: str, labels: str, recipe: str, random_network=None, cases=None
) -> dict | None:
    """One row of the answer, before the family's verdicts; None where a side has no run.
    `cases`: (pretrained, random) compared; by default (2, 4) frozen, else (1, 3)."""
    cases = cases or ((2, 4) if recipe == "frozen" else (1, 3))
    table = paired_table(runs, network, labels, cases, recipe, random_network)
    if table is None:
        return None
    out = {
        "network": network,
        "random_network": random_network or network,
        "labels": labels,
        "recipe": recipe,
        "cases": list(cases),
        "pretraining_seeds": table["pretraining_seeds"],
        "draws": table["draws"],
        "random_initialisations": max(len(v) for v in table["random"].values()),
        "pretrained_mean": table["pretrained_mean"],
        "random_mean": table["random_mean"],
        "margin": margin(labels),
        "mean_difference": float(table["differences"].mean()),
        "standard_error": None,
        "df": None,
        "components": None,
        "init_variance": init_variance(table["random"]),
        "ci95": None,
        "p_difference": None,
        "p_equivalence": None,
    }
    return out | (estimate(table["differences"], out["margin"]) or {})


def judge(rows: list[dict]) -> list[dict]:
    """Holm over every test of every row (one family), and each row's verdict."""
    tested = [r for r in rows if r["p_difference"] is not None]
    pvalues = [r[name] for r in tested for name in ("p_difference", "p_equivalence")]
    adjusted = iter(stats.holm(pvalues))
    for r in tested:
        r["p_difference_holm"], r["p_equivalence_holm"] = next(adjusted), next(adjusted)
    for r in rows:
        r["verdict"], r["bound"] = verdict(r)
    return rows


def verdict(r: dict) -> tuple[str, float | None]:
    """(verdict, the bound it states) of a judged row (`plan_text` says which)."""
    if r["p_difference"] is None:
        return NO_INTERVAL, None
    low, high = r["ci95"]
    if r["p_difference_holm"] < stats.ALPHA:
        return (HELPS, low) if r["mean_difference"] > 0 else (HURTS, -high)
    if r["p_equivalence_holm"] < stats.ALPHA:
        return EQUIVALENT, r["margin"]
    return INCONCLUSIVE, None


def verdict_text(r: dict) -> str:
    """ "helps by at least 6.1 points", "no benefit larger than 0.5 points",
    "inconclusive: between -1.2 and +0.8 points" """
    if r["verdict"] in (HELPS, HURTS):
        return f"{r['verdict']} by at least {100 * r['bound']:.1f} points"
    if r["verdict"] == EQUIVALENT:
        return f"{EQUIVALENT} {100 * r['bound']:g} points"
    if r["verdict"] == INCONCLUSIVE:
        low, high = (100 * v for v in r["ci95"])
        return f"{INCONCLUSIVE}: between {low:+.1f} and {high:+.1f} points"
    return r["verdict"]


def headline(runs, networks, counts, recipes) -> dict:
    """The answer: the plan, its rows (one family) and the sentence that answers."""
    arms = random_arms(networks)
    rows = []
    for network in networks:
        comparisons = [(recipe, None) for recipe in [*recipes, "frozen"]]
        if augments(network):  # the augmentation control, where it ran
            comparisons.append((CHOSEN, (1, config.AUGMENTED_CASE)))
        for labels in counts:
            for recipe, cases in comparisons:
                found = row(runs, network, labels, recipe, arms[network], cases)
                rows += [found] if found is not None else []
    rows = judge(rows)
    return {"plan": plan_text(), "rows": rows, "sentence": sentence(rows)}


def compared(row: dict) -> str:
    """A row's recipe ("fine-tuned" where each draw chose its own), and "vs augmented" where its
    random side is the augmentation control."""
    recipe = "fine-tuned" if row["recipe"] == CHOSEN else row["recipe"]
    return recipe + (" vs augmented" if config.CASES[row["cases"][1]].augmented else "")


def augments(network: str) -> bool:
    """Whether a network's fine-tuned runs are also compared with the augmentation control."""
    return config.pretext_of(network) in config.AUGMENTED_PRETEXTS


def side_values(runs, network: str, labels: str, case: int) -> list[float]:
    """One test accuracy per start of a (network, labels, case), for the grid's figure: each
    pretraining seed's mean over its draws, or each draw's mean over a random encoder's
    initialisations."""
    starts = {}
    for run in runs:
        if (run["network"], run["labels"], run["case"]) == (network, labels, case):
            start = run["encoder_seed"] if run["encoder_seed"] >= 0 else f"draw{run['seed']}"
            starts.setdefault(start, []).append(run["test_accuracy"])
    return [float(np.mean(values)) for _, values in sorted(starts.items(), key=str)]


def _summary(rows: list[dict]) -> str:
    """What a group of rows' verdicts say, most telling first: "gives no benefit larger than
    0.5 points at all labels (2 of 8 rows) and is inconclusive at 100 labels (6 of 8 rows; 95%
    intervals between -1.8 and +0.7 points)" """
    parts = []
    for name in (HELPS, HURTS, EQUIVALENT, INCONCLUSIVE, NO_INTERVAL):
        mine = [r for r in rows if r["verdict"] == name]
        if not mine:
            continue
        counted = f"{len(mine)} of {len(rows)} rows"
        if name in (HELPS, HURTS):
            text = f"{name} by at least {100 * min(r['bound'] for r in mine):.1f} points"
        elif name == EQUIVALENT:
            text = f"gives {name} {100 * max(r['bound'] for r in mine):g} points"
        elif name == INCONCLUSIVE:
            text = "is inconclusive"
            low, high = min(r["ci95"][0] for r in mine), max(r["ci95"][1] for r in mine)
            span = "interval" if len(mine) == 1 else "intervals"
            counted += f"; 95% {span} between {100 * low:+.1f} and {100 * high:+.1f} points"
        else:
            text = f"is {name}"
        counts = list(dict.fromkeys(labels_text(r["labels"]) for r in mine))
        parts.append(f"{text} at {_listed(counts)} ({counted})")
    return _listed(parts)


def _listed(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c" """
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def sentence(rows: list[dict]) -> str:
    """The answer in plain words from the verdicts, fine-tuned and frozen, with their bounds."""
    return " ".join(sentences(rows))


def sentences(rows: list[dict]) -> list[str]:
    """The answer's sentences: one per pretext task (the controls' last), or one."""
    if not rows:
        return ["No comparison of a pretrained and a random encoder was run."]
    if all(r["verdict"] == NO_INTERVAL for r in rows):
        return [
            "Not resolved here: no comparison has an interval (it needs two pretraining seeds "
            "or two draws of labels, and differences that vary between them)."
        ]
    by_pretext = {}
    for r in rows:
        by_pretext.setdefault(config.pretext_of(r["network"]), []).append(r)
    if list(by_pretext) == [config.PRETEXT]:
        return [_sentence(rows, "pretraining")]
    control = " (a control that must help)"
    return [
        _sentence(mine, f"{name} pretraining{control if name in config.CONTROLS else ''}")
        for name, mine in sorted(by_pretext.items(), key=lambda item: item[0] in config.CONTROLS)
    ]


def _sentence(rows: list[dict], what: str) -> str:
    groups = (
        ("fine-tuned", [r for r in rows if r["cases"] == [1, 3]]),
        (
            "against a random encoder fine-tuned on augmented images",
            [r for r in rows if r["cases"][1] == config.AUGMENTED_CASE],
        ),
        ("frozen", [r for r in rows if r["recipe"] == "frozen"]),
    )
    text = "; ".join(f"{name}, {what} {_summary(mine)}" for name, mine in groups if mine)
    return text[0].upper() + text[1:] + "."
