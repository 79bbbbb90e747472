"""The words every claim of the study is judged in: a comparison over seeds (or a band), a claim
of comparisons, the rule that turns a family's p-values into verdicts (`settle`, `combine`)."""

from kfashion.analysis import stats

RULE = (
    "per comparison, the two-sided one-sample t test of the per-seed values against 0, its "
    "p-value Holm-adjusted over the comparison's family: reproduced where the adjusted p < 0.05 "
    "and the mean lies on the claimed side, contradicted where the adjusted p < 0.05 and it "
    "lies on the other, not resolved otherwise; a claim of several comparisons is reproduced "
    "when all are, contradicted when any is"
)
BAND_RULE = (
    "inside the band: the equivalence test (two one-sided t tests against the band's ends, the "
    "larger p); above or below it: the one-sided t test against the end it passed; each "
    "one-sided p doubled, then Holm-adjusted over the family: reproduced, or contradicted: "
    "higher / lower, where the adjusted p < 0.05, not resolved otherwise"
)
INTERVALS = (
    "each comparison's own 95% t interval over seeds, not widened for its family; beside it, "
    "the simultaneous interval: the t interval at 1 - 0.05/m for a family of m comparisons "
    "(Bonferroni), which covers all m at once with 95% probability. Holm is never less "
    "powerful than Bonferroni, so a verdict can stand where that wider interval touches 0"
)
NOT_RECORDED = "not recorded by the version of kfashion that made this run; run it again"
NO_SEED = "no seed of the points or runs it compares finished"


def missing(name: str, reason: str) -> dict:
    """A comparison the results cannot make, a comparison of no seed: not resolved, and outside
    every family."""
    return {"name": name, **stats.mean_interval([]), "reason": reason}


def combine(verdicts: list[str]) -> str:
    """All comparisons reproduced: reproduced; any contradicted: contradicted (on which side,
    where every contradicted one says the same); else not resolved."""
    if verdicts and all(v == stats.REPRODUCED for v in verdicts):
        return stats.REPRODUCED
    against = {v for v in verdicts if v.startswith(stats.CONTRADICTED)}
    if against:
        return against.pop() if len(against) == 1 else stats.CONTRADICTED
    return stats.NOT_RESOLVED


def comparison(
    name: str, per_seed, claimed_sign: int, unit: str = "", threshold: bool = False
) -> dict:
    """One measure over seeds, claimed above 0 (`claimed_sign` +1) or below (-1); judged later,
    with its family. `unit` is "accuracy" for fractions the report shows in points; a
    `threshold` comparison (a number against a stated bound) says which side it missed on."""
    if not len(per_seed):
        return missing(name, NO_SEED)
    return {
        "name": name,
        **stats.mean_interval(per_seed),
        "unit": unit,
        "claimed": "above 0" if claimed_sign > 0 else "below 0",
        "claimed_sign": claimed_sign,
        "threshold": threshold,
    }


def band_comparison(name: str, per_seed, low: float, high: float, unit: str = "") -> dict:
    """One measure over seeds claimed to lie inside [low, high]."""
    if not len(per_seed):
        return missing(name, NO_SEED)
    p, outcome = stats.band_p(per_seed, low, high)
    return {
        "name": name,
        **stats.mean_interval(per_seed),
        "p_value": p,
        "unit": unit,
        "claimed": f"inside [{low:g}, {high:g}]",
        "band": [low, high],
        "outcome": outcome,
    }


def claim(text: str, measure: str, comparisons: list[dict], rule: str = RULE) -> dict:
    return {"claim": text, "measure": measure, "comparisons": comparisons, "rule": rule}


def settle(comparisons: list[dict]) -> dict:
    """Holm-adjust one family's p-values and give each comparison its verdict, in place.
    Comparisons without a p-value (one seed, or not recorded) are not resolved and not counted.
    Each tested comparison also gets its simultaneous (Bonferroni) interval. Returns the
    family's size."""
    tested = [c for c in comparisons if c["p_value"] is not None]
    m = len(tested)
    for c, adjusted in zip(tested, stats.holm([c["p_value"] for c in tested]), strict=True):
        c["p_holm"] = adjusted
        c["ci_simultaneous"] = stats.interval(c["per_seed"], 1 - stats.ALPHA / m)
        if "band" in c:
            c["verdict"] = c["outcome"] if adjusted < stats.ALPHA else stats.NOT_RESOLVED
        else:
            c["verdict"] = stats.verdict(c["mean"], adjusted, c["claimed_sign"], c["threshold"])
    for c in comparisons:
        c.setdefault("p_holm", None)
        c.setdefault("verdict", stats.NOT_RESOLVED)
    return {"size": m}
