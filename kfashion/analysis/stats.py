"""Statistics over seeds, from scipy and statsmodels: means, spreads, t tests and Holm.

No framework is imported here. A measure is computed once per seed; its test is the one-sample
Student t test of those values against 0 (`scipy.stats.ttest_1samp`), two-sided, with its 95%
interval. With a single seed there is no test, nor where every seed gave the same number: a
spread of 0 from a few seeds is a measure too coarse to vary (a count, a collapsed model), not
certainty. A family's p-values are adjusted together by Holm's method
(`statsmodels.stats.multitest.multipletests`), which holds the chance of any false verdict in
the family at 5%.
"""

import warnings

import numpy as np

from kfashion import config

ALPHA = 1 - config.CONFIDENCE
REPRODUCED, CONTRADICTED, NOT_RESOLVED = "reproduced", "contradicted", "not resolved"
HIGHER, LOWER = f"{CONTRADICTED}: higher", f"{CONTRADICTED}: lower"


def untestable(values) -> bool:
    """Fewer than 2 values, or every value the same to rounding (sums of fractions differ in the
    last bits): no spread, so no test and no interval."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return True
    return bool(np.ptp(values) <= 1e-12 * max(1.0, np.abs(values).max()))


def mean_std(values) -> dict:
    """Mean, sample standard deviation (None for one value) and count."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else None
    return {"mean": float(values.mean()), "std": std, "n": len(values)}


def t_p(values, alternative: str = "two-sided") -> float | None:
    """The one-sample t test's p-value of `values` against 0; None where `untestable`."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if untestable(values):
        return None
    return float(stats.ttest_1samp(values, 0.0, alternative=alternative).pvalue)


def interval(values, confidence: float = config.CONFIDENCE) -> list[float] | None:
    """The two-sided t interval of the mean of `values`; None where `untestable`."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if untestable(values):
        return None
    found = stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
    return [float(found.low), float(found.high)]


def mean_interval(values) -> dict:
    """Mean of `values` (one per seed), its 95% t interval and its two-sided p-value."""
    values = np.asarray(values, dtype=float)
    return {
        "mean": float(values.mean()) if len(values) else None,  # None: no seed to judge
        "per_seed": values.tolist(),
        "ci95": interval(values),
        "p_value": t_p(values),
    }


def band_p(values, low: float, high: float) -> tuple[float | None, str]:
    """The p-value and outcome of a claim that the mean of `values` lies inside [low, high].

    Where the mean lies inside, the test is the equivalence test (two one-sided t tests, the
    larger p); above, the one-sided t test that it lies above `high`; below, that it lies below
    `low`. Each one-sided p is doubled, so that p < 0.05 where the 95% two-sided t interval lies
    inside the band, or wholly above or below it, as with a two-sided test of a sign.
    """
    values = np.asarray(values, dtype=float)
    if untestable(values):
        return None, NOT_RESOLVED
    mean = values.mean()
    if mean > high:
        p, outcome = t_p(values - high, "greater"), HIGHER
    elif mean < low:
        p, outcome = t_p(values - low, "less"), LOWER
    else:
        p = max(t_p(values - low, "greater"), t_p(values - high, "less"))
        outcome = REPRODUCED
    return min(1.0, 2 * p), outcome


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values of one family, in the order given."""
    from statsmodels.stats.multitest import multipletests

    if not pvalues:
        return []
    return [float(p) for p in multipletests(pvalues, alpha=ALPHA, method="holm")[1]]


def verdict(mean: float, p: float | None, claimed_sign: int, sides: bool = False) -> str:
    """Three-way verdict on a claim that a quantity is above 0 (`claimed_sign` +1) or below 0
    (-1), from its (adjusted) two-sided p-value: reproduced where p < 0.05 and the mean lies on
    the claimed side, contradicted where p < 0.05 and it lies on the other (with `sides`, which
    side: "contradicted: higher" or "contradicted: lower"), not resolved otherwise."""
    if p is None or p >= ALPHA or mean == 0:
        return NOT_RESOLVED
    if np.sign(mean) == claimed_sign:
        return REPRODUCED
    if sides:
        return HIGHER if mean > 0 else LOWER
    return CONTRADICTED


def satterthwaite(squares: dict, kept: list[str]) -> tuple[float, float | None]:
    """The variance of the mean of a K x n table of a two-way random-effects model, times K.n,
    and its degrees of freedom, from its terms' mean squares (name -> (mean square, df) for
    "pretraining", "draw" and "residual"). Var(mean) = (n.var_pretraining + k.var_draw +
    var_residual) / (k.n), so each `kept` term (one whose component is above 0) adds its mean
    square less the residual's; a component of 0 adds no term. Satterthwaite's degrees of
    freedom; None where nothing varies."""
    weights = {"residual": 1.0 - len(kept), **dict.fromkeys(kept, 1.0)}
    combined = sum(weight * squares[name][0] for name, weight in weights.items())
    if combined <= 0:
        return combined, None
    df = combined**2 / sum(
        (weight * squares[name][0]) ** 2 / squares[name][1]
        for name, weight in weights.items()
        if weight
    )
    return combined, df


def rank_correlation(x, y, resamples: int = config.BOOTSTRAP_RESAMPLES) -> dict:
    """Spearman's rank correlation of paired values (one pair a design point), with a 95%
    percentile bootstrap interval over the points (resampled in pairs, seeded; a resample
    whose values are all alike has no correlation and is left out)."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(x), (resamples, len(x)))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        found = np.array([stats.spearmanr(x[i], y[i]).statistic for i in picks])
    low, high = np.percentile(found[np.isfinite(found)], [50 * ALPHA, 100 - 50 * ALPHA])
    rho = stats.spearmanr(x, y).statistic
    return {"spearman": float(rho), "ci95": [float(low), float(high)], "points": len(x)}
