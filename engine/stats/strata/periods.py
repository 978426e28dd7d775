"""Allocation periods: traffic weights, grouping into strata, support and stratum weights."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.stats.strata.cells import BoolArray, FloatArray, IntArray, MetricCells

_WEIGHT_SUM_TOL = 1e-6


def validate_weights(weights: npt.ArrayLike) -> FloatArray:
    """Check traffic weights of shape (k, p): finite, >= 0, each column summing to 1.

    Returns the weights as float64, each column renormalised to sum exactly to 1.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"weights must have shape (arms, periods), got shape {w.shape}")
    if not np.isfinite(w).all() or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    sums = w.sum(axis=0)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _WEIGHT_SUM_TOL)
    if bad.size:
        raise ValueError(
            f"each period's weights must sum to 1; periods {bad.tolist()} sum to "
            f"{sums[bad].round(6).tolist()}"
        )
    result: FloatArray = w / sums
    return result


def group_periods(weights: npt.ArrayLike, *, atol: float = 1e-12) -> IntArray:
    """Label allocation periods so that consecutive periods with identical weights merge.

    A fixed split is then one stratum, and a bandit that did not move keeps its strata few.
    Non-consecutive periods with equal weights stay apart: the baseline may have drifted in
    between, and merging them would average over that drift.

    Parameters
    ----------
    weights
        Shape (k, p): traffic weight of each arm in each period (columns sum to 1).
    atol
        Two weights closer than this count as identical (stored weights round-trip through a
        database).

    Returns
    -------
    numpy.ndarray
        Shape (p,), int64 labels 0, 1, ... increasing by one at each change of weights.
    """
    w = validate_weights(weights)
    changed = np.any(np.abs(np.diff(w, axis=1)) > atol, axis=0)  # shape (p - 1,)
    labels: IntArray = np.concatenate(([0], np.cumsum(changed))).astype(np.int64)
    return labels


def comparison_support(cells: MetricCells) -> BoolArray:
    """Periods usable for comparing the arms of ``cells``, shape (p,).

    A period is in the support when every arm that has any matured unit at all has at least one
    matured unit in it (arms with no data are left out so that a brand-new arm does not erase
    the others' estimates; they get NaN).
    """
    has = cells.n > 0
    active = has.any(axis=1)
    if not active.any():
        return np.zeros(cells.n_periods, dtype=np.bool_)
    support: BoolArray = np.all(has[active], axis=0)
    return support


def period_weights(cells: MetricCells, support: BoolArray | None = None) -> FloatArray:
    """Post-stratification weights ``w_p = N_p / N`` over the support, shape (p,).

    ``N_p`` counts the matured units of period ``p`` over all arms; periods outside the support
    get weight 0 and the others are renormalised. All zeros when nothing is left.
    """
    if support is None:
        support = comparison_support(cells)
    units = np.where(support, cells.n.sum(axis=0), 0.0)
    total = units.sum()
    result: FloatArray = units / total if total > 0 else np.zeros_like(units)
    return result
