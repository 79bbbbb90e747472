"""Sizes of the crossed grid from a pilot's variance components: how many draws of labels n
(and pretraining seeds K) each label count needs for the answer's 95% interval to be at most
its margin wide on each side (`config.MARGINS`). No framework is imported here.

A pilot's rows (`kfashion.analysis.answer.row`) give each comparison's components: the
pretraining seed, draw and residual variances of the paired differences, and the variance
between a random encoder's initialisations of one draw. The draw component holds the random
side's mean over its initialisations, so with m of them instead of the pilot's m0 it becomes
draw - init / m0 + init / m. A design (K, n, m) then has the mean's variance
(residual + n.pretraining + K.draw) / (K.n), with Satterthwaite's degrees of freedom from the
expected mean squares: the model `answer.estimate` fits, run forwards.
"""

import itertools

from kfashion import config
from kfashion.analysis import stats


def components_for(found: dict, inits: int) -> dict:
    """A pilot row's components, its draw component moved to `inits` initialisations."""
    parts = dict(found["components"])
    init = found.get("init_variance")
    if init is not None:
        parts["draw"] = max(parts["draw"] - init / found["random_initialisations"], 0.0)
        parts["draw"] += init / inits
    return parts


def half_width(parts: dict, k: int, n: int) -> float:
    """The expected half-width of the 95% interval of the mean paired difference, for K
    pretraining seeds and n draws (in the components' units, square-rooted)."""
    from scipy.stats import t

    residual = parts["residual"]
    expected = {  # each term's expected mean square, its degrees of freedom
        "pretraining": (residual + n * parts["pretraining"], k - 1),
        "draw": (residual + k * parts["draw"], n - 1),
        "residual": (residual, (k - 1) * (n - 1)),
    }
    kept = [name for name in ("pretraining", "draw") if parts[name] > 0]
    combined, df = stats.satterthwaite(expected, kept)
    if combined <= 0:
        return 0.0
    return float(t.ppf(0.5 + config.CONFIDENCE / 2, df) * (combined / (k * n)) ** 0.5)


def sizes(rows: list[dict], seeds: int, inits: int) -> dict:
    """Per label count of the pilot's rows: the fewest draws n for which every row's expected
    half-width is at most its margin with `seeds` pretraining seeds (more seeds, up to
    config.MOST_SEEDS, where config.MOST_DRAWS draws are not enough), and each row's expected
    half-width."""
    out = {}
    for labels in dict.fromkeys(r["labels"] for r in rows):
        mine = [r for r in rows if r["labels"] == labels and r["components"] is not None]
        if not mine:  # no comparison here has an interval: nothing to size from
            continue
        parts = {f"{r['network']}, {r['recipe']}": components_for(r, inits) for r in mine}
        bound = mine[0]["margin"]

        def widths(k, n, parts=parts):
            return {name: half_width(p, k, n) for name, p in parts.items()}

        seed_counts = range(seeds, max(seeds, config.MOST_SEEDS) + 1)
        designs = itertools.product(seed_counts, range(2, config.MOST_DRAWS + 1))
        found = next((d for d in designs if max(widths(*d).values()) <= bound), None)
        k, n = found or (max(seeds, config.MOST_SEEDS), config.MOST_DRAWS)
        out[labels] = {
            "margin": bound,
            "pretraining_seeds": k,
            "draws": n,
            "random_initialisations": inits,
            "reached": found is not None,
            "half_widths": widths(k, n),
            "components": parts,
        }
    return out
