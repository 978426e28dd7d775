"""Frequentist cross-check: stratified z- and Welch tests against the champion, Holm-corrected.

Each challenger is compared with the champion on the pair's own support of allocation periods
(:func:`engine.stats.strata.stratified_difference`):

* binary metric: stratified two-proportion Wald z-test, ``z = d / sqrt(sum_p w_p**2 (v_a + v_c))``
  with ``v = p_hat (1 - p_hat) / n`` per cell (the stratified form of the test in
  statsmodels' ``test_proportions_2indep(compare="diff", method="wald")``);
* mean metric: stratified Welch test, ``t = d / sqrt(V)`` on Welch-Satterthwaite degrees of
  freedom pooled across strata (Welch 1947; Satterthwaite 1946). With one stratum it is
  ``scipy.stats.ttest_ind_from_stats(equal_var=False)``.

The family-wise error across challengers is controlled with Holm's step-down procedure
(Holm 1979, "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6):
with the m p-values sorted, ``p_holm_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``. It is
computed here in closed form rather than by ``statsmodels.stats.multitest.multipletests``
because statsmodels' Holm branch runs a full ``gc.collect()`` on every call (about 40 ms in a
loaded process), which dominates a batch over experiments x segments x metrics; the tests check
equality with ``multipletests(method="holm")``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from engine.stats.strata import SMALL_CELL, MetricCells, stratified_difference

NAN = float("nan")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FrequentistComparison:
    """One arm against the champion. The champion's row is all NaN.

    Attributes
    ----------
    arm
        Index of the arm.
    diff
        Stratified difference ``arm - champion`` in the metric's unit.
    se
        Its standard error.
    ci_low, ci_high
        Confidence interval of ``diff`` at the requested level (not multiplicity-adjusted).
    statistic
        z (binary) or Welch t (means).
    df
        Degrees of freedom (inf for the z-test).
    p_value
        Two-sided p-value.
    p_holm
        Holm-adjusted p-value across the challengers with a finite p-value.
    reason
        Empty when the test ran; otherwise why the figures are NaN.
    """

    arm: int
    diff: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    df: float
    p_value: float
    p_holm: float
    reason: str = ""


def compare_to_champion(
    cells: MetricCells,
    *,
    champion: int,
    level: float = 0.95,
    small_cell: int = SMALL_CELL,
) -> list[FrequentistComparison]:
    """Stratified tests of each challenger against the champion, with Holm correction.

    Parameters
    ----------
    cells
        Shape (k, p) sufficient statistics, periods grouped into strata.
    champion
        Index of the champion arm.
    level
        Confidence level of the intervals.
    small_cell
        Small-cell variance rule of :mod:`engine.stats.strata`.

    Returns
    -------
    list of FrequentistComparison
        One per arm, in index order. A pair without a common period, or a zero standard error,
        gives NaN statistics with a ``reason`` instead of an error.
    """
    k = cells.n_arms
    if not 0 <= champion < k:
        raise ValueError(f"champion must be an arm index in 0..{k - 1}, got {champion}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    alpha = 1.0 - level
    rows: list[FrequentistComparison] = []
    for arm in range(k):  # a handful of arms
        if arm == champion:
            rows.append(_untested(arm, "champion"))
            continue
        d = stratified_difference(cells, arm=arm, reference=champion, small_cell=small_cell)
        if not np.isfinite(d.diff):
            rows.append(_untested(arm, "no period with units in both arms"))
            continue
        if not np.isfinite(d.variance) or np.isnan(d.df):
            rows.append(
                replace(_untested(arm, "variance not estimable (too few units)"), diff=d.diff)
            )
            continue
        se = float(np.sqrt(d.variance))
        if se == 0.0:
            zero = _untested(arm, "zero standard error (no variation in either arm)")
            rows.append(replace(zero, diff=d.diff, se=0.0, ci_low=d.diff, ci_high=d.diff, df=d.df))
            continue
        statistic = d.diff / se
        if np.isinf(d.df):
            crit = float(sps.norm.isf(alpha / 2.0))
            p_value = float(2.0 * sps.norm.sf(abs(statistic)))
        else:
            crit = float(sps.t.isf(alpha / 2.0, d.df))
            p_value = float(2.0 * sps.t.sf(abs(statistic), d.df))
        rows.append(
            FrequentistComparison(
                arm=arm,
                diff=d.diff,
                se=se,
                ci_low=d.diff - crit * se,
                ci_high=d.diff + crit * se,
                statistic=statistic,
                df=d.df,
                p_value=p_value,
                p_holm=NAN,
            )
        )
    return _with_holm(rows)


def holm(p_values: npt.ArrayLike) -> FloatArray:
    """Holm-adjusted p-values, shape (m,), in the input order (Holm 1979).

    Equal to ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must be a 1-D array of numbers in [0, 1]")
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    result = np.empty(m, dtype=np.float64)
    result[order] = np.minimum(stepped, 1.0)
    return result


def _with_holm(rows: list[FrequentistComparison]) -> list[FrequentistComparison]:
    """Fill ``p_holm`` over the rows with a finite p-value (NaN rows are not tests)."""
    tested = [i for i, row in enumerate(rows) if np.isfinite(row.p_value)]
    if not tested:
        return rows
    adjusted = holm([rows[i].p_value for i in tested])
    result = list(rows)
    for i, p in zip(tested, adjusted, strict=True):
        result[i] = replace(rows[i], p_holm=float(p))
    return result


def _untested(arm: int, reason: str) -> FrequentistComparison:
    """A row of NaN figures that says why no test was run."""
    return FrequentistComparison(arm, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, reason=reason)
