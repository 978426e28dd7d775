"""Post-stratified estimates (Miratrix, Sekhon & Yu 2013): arm means and arm differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.stats.strata.cells import FloatArray, MetricCells
from engine.stats.strata.periods import comparison_support, period_weights
from engine.stats.strata.variances import SMALL_CELL, cell_variances


@dataclass(frozen=True, eq=False)
class StratifiedEstimate:
    """Post-stratified mean of each arm.

    Attributes
    ----------
    mean
        Shape (k,): ``sum_p w_p ybar_ap``; NaN for an arm with no matured unit.
    variance
        Shape (k,): ``sum_p w_p**2 s2_ap / n_ap`` (variance of ``mean``).
    weights
        Shape (p,): ``w_p = N_p / N`` over the support, 0 for dropped periods.
    """

    mean: FloatArray
    variance: FloatArray
    weights: FloatArray


def stratified_estimate(cells: MetricCells, *, small_cell: int = SMALL_CELL) -> StratifiedEstimate:
    """Post-stratified mean and its variance per arm (Miratrix, Sekhon & Yu 2013).

    Parameters
    ----------
    cells
        Shape (k, p) sufficient statistics; periods should already be grouped into strata
        (``cells.take_periods(group_periods(weights))``), though finer strata are also valid.
    small_cell
        Cells with fewer units borrow the arm's pooled variance (see :mod:`engine.stats.strata`).

    Returns
    -------
    StratifiedEstimate
        Means and variances of shape (k,) on the common support of all arms with data.
    """
    support = comparison_support(cells)
    w = period_weights(cells, support)
    var = cell_variances(cells, small_cell=small_cell)
    used = support[None, :] & (cells.n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = np.where(used, cells.total / np.where(used, cells.n, 1.0), 0.0)
        term_var = np.where(used, var.s2 / np.where(used, cells.n, 1.0), 0.0)
    has_data = cells.n.sum(axis=1) > 0
    mean = np.where(has_data, ybar @ w, np.nan)
    variance = np.where(has_data, term_var @ (w**2), np.nan)
    return StratifiedEstimate(mean=mean, variance=variance, weights=w)


@dataclass(frozen=True, eq=False)
class StratifiedDifference:
    """Stratified difference ``arm - reference`` on the pair's own support.

    Attributes
    ----------
    diff
        ``sum_p w_p (ybar_arm,p - ybar_ref,p)``; NaN when the pair shares no period.
    variance
        ``sum_p w_p**2 (s2_arm,p / n_arm,p + s2_ref,p / n_ref,p)``.
    df
        Welch-Satterthwaite degrees of freedom of ``variance`` (inf for a binary metric).
    weights
        Shape (p,): the pair's stratum weights (0 outside its support).
    """

    diff: float
    variance: float
    df: float
    weights: FloatArray


def stratified_difference(
    cells: MetricCells, *, arm: int, reference: int, small_cell: int = SMALL_CELL
) -> StratifiedDifference:
    """Difference of two arms' post-stratified means, with variance and Welch df.

    The support is that of the pair alone: a period where a third arm had no unit still counts.
    Degrees of freedom follow Welch (1947) / Satterthwaite (1946)::

        df = V**2 / (sum_own (c s2)**2 / (n - 1) + sum_arms (C_a s2_pooled_a)**2 / df_a)

    where own-variance cells enter one by one and the cells that share an arm's pooled
    variance enter as one term (they share one estimate, so their errors are not independent).
    With one stratum this is exactly Welch's unequal-variance t-test.
    """
    pair = cells.take_arms([arm, reference])
    est = stratified_estimate(pair, small_cell=small_cell)
    w = est.weights
    if not (np.isfinite(est.mean).all() and w.sum() > 0):
        return StratifiedDifference(np.nan, np.nan, np.nan, w)
    diff = float(est.mean[0] - est.mean[1])
    variance = float(est.variance.sum())
    if pair.binary:
        return StratifiedDifference(diff, variance, np.inf, w)
    var = cell_variances(pair, small_cell=small_cell)
    used = (w > 0)[None, :] & (pair.n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coef = np.where(used, w[None, :] ** 2 / np.where(used, pair.n, 1.0), 0.0)  # (2, p)
        own = used & ~var.pooled
        own_terms = np.where(own, coef * var.s2, 0.0)
        own_part = np.sum(np.where(own, own_terms**2 / np.where(own, var.cell_df, 1.0), 0.0))
        pooled_terms = np.sum(np.where(used & var.pooled, coef * var.s2, 0.0), axis=1)  # (2,)
        pooled_part = np.sum(np.where(pooled_terms > 0, pooled_terms**2 / var.arm_df, 0.0))
    denominator = float(own_part + pooled_part)
    df = variance**2 / denominator if denominator > 0 and np.isfinite(variance) else np.nan
    return StratifiedDifference(diff, variance, float(df), w)
