"""Statistics over seeds, from scipy: means, spreads, paired differences and their intervals.

No framework is imported here. Intervals are 95% two-sided Student t intervals over seeds
(`scipy.stats.ttest_1samp` and `ttest_rel`); with a single seed there is no interval.
"""

import numpy as np

CONFIDENCE = 0.95


def mean_std(values) -> dict:
    """Mean, sample standard deviation (None for one value) and count."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else None
    return {"mean": float(values.mean()), "std": std, "n": len(values)}


def mean_interval(values) -> dict:
    """Mean of `values` (one per seed) with its 95% t confidence interval."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    result = {"mean": float(values.mean()), "per_seed": values.tolist(), "ci95": None}
    if len(values) > 1 and np.ptp(values) > 0:
        interval = stats.ttest_1samp(values, 0.0).confidence_interval(CONFIDENCE)
        result["ci95"] = [float(interval.low), float(interval.high)]
    elif len(values) > 1:  # every seed gave the same number: the interval is that point
        result["ci95"] = [result["mean"], result["mean"]]
    return result


def paired_difference(a, b) -> dict:
    """Mean of a - b over paired seeds, with its 95% t confidence interval (scipy's ttest_rel;
    None for a single pair)."""
    return mean_interval(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))


REPRODUCED, CONTRADICTED, NOT_RESOLVED = "reproduced", "contradicted", "not resolved"


def verdict(interval, claimed_sign: int) -> str:
    """Three-way verdict on a claim that a quantity is above 0 (`claimed_sign` +1) or below 0
    (-1): reproduced where the whole 95% interval lies on the claimed side, contradicted where
    it lies wholly on the other side, not resolved otherwise (or without an interval)."""
    if interval is None:
        return NOT_RESOLVED
    low, high = (claimed_sign * bound for bound in interval)
    low, high = min(low, high), max(low, high)
    if low > 0:
        return REPRODUCED
    if high < 0:
        return CONTRADICTED
    return NOT_RESOLVED
