"""Small statistics helpers: Student-t intervals of replication means and Welch's t-test,
on top of SciPy's t distribution (exact quantiles and tail probabilities)."""

from __future__ import annotations

import math
import warnings
from types import ModuleType

import numpy as np
from numpy.typing import ArrayLike


def _scipy_stats() -> ModuleType:
    """scipy.stats, imported when first needed: the import takes about a second, which a
    single run (no intervals, no tests) should not pay."""
    from scipy import stats

    return stats


def t_quantile_975(df: float) -> float:
    """t(0.975, df): the two-sided 95 % Student-t quantile for `df` degrees of freedom."""
    if not df >= 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return float(_scipy_stats().t.ppf(0.975, df))


def t_quantiles_975(df: ArrayLike) -> np.ndarray:
    """t(0.975, df) for an array of degrees of freedom in one call (NaN where df < 1).

    One vectorised call, not one per value: SciPy's per-call overhead adds up to seconds
    over the thousands of keys and figures of an interval table.
    """
    degrees = np.asarray(df, dtype=float)
    out = np.full(degrees.shape, math.nan)
    usable = degrees >= 1
    if usable.any():
        out[usable] = _scipy_stats().t.ppf(0.975, degrees[usable])
    return out


def _finite(values: ArrayLike) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    return data[~np.isnan(data)]


def mean_ci(values: ArrayLike) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval of replication values (NaNs ignored).

    With one value, or values without spread, the interval is the mean itself; with none
    everything is NaN.
    """
    data = _finite(values)
    if len(data) == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if len(data) == 1:
        return mean, mean, mean
    half = t_quantile_975(len(data) - 1) * float(data.std(ddof=1)) / math.sqrt(len(data))
    return mean, mean - half, mean + half


def welch_test(first: ArrayLike, second: ArrayLike) -> tuple[float, float]:
    """Welch's unequal-variance t-test of `second` against `first` (NaNs ignored).

    Returns (t statistic of mean(second) - mean(first), two-sided p-value).  NaN when
    either side has fewer than two values; when neither side has any spread, p = 1 for
    equal means and 0 (t = +-inf) for different ones.
    """
    a, b = _finite(first), _finite(second)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    if a.var(ddof=1) + b.var(ddof=1) == 0:
        # no spread: SciPy would divide 0 by 0 (and warn); the answer is plain
        difference = float(b.mean() - a.mean())
        return (0.0, 1.0) if difference == 0 else (math.copysign(math.inf, difference), 0.0)
    with warnings.catch_warnings():
        # SciPy warns of "precision loss" whenever one side is constant (e.g. a target met
        # in every replication) or its values agree to many digits; the variances are
        # still right (0, or as exact as the data), so the test stands
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        result = _scipy_stats().ttest_ind(b, a, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def false_discovery_adjusted(p_values: ArrayLike) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values of a family of tests (SciPy's
    `false_discovery_control`): a test is a discovery at false-discovery rate q when its
    adjusted p-value is below q.  Controls the expected share of false discoveries among
    the rows called significant, for independent or positively dependent tests (the
    figures of one comparison are mostly positively correlated)."""
    values = np.asarray(p_values, dtype=float)
    if values.size == 0:
        return values
    return np.asarray(_scipy_stats().false_discovery_control(values, method="bh"), dtype=float)
