"""Per-unit outcome variances of the cells, with the small-cell rules of
:mod:`engine.stats.strata`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.stats.strata.cells import BoolArray, FloatArray, MetricCells

SMALL_CELL = 10
"""Cells with fewer matured units than this borrow the arm's pooled variance (see
:mod:`engine.stats.strata`)."""


@dataclass(frozen=True, eq=False)
class CellVariances:
    """Per-unit outcome variance in each cell after the small-cell rules.

    Attributes
    ----------
    s2
        Shape (k, p): variance of one unit's outcome in the cell (NaN if not estimable).
    pooled
        Shape (k, p): True where ``s2`` is the arm's pooled value (a small or degenerate cell).
    cell_df
        Shape (k, p): degrees of freedom of a cell's own variance (``n - 1``; inf for binary).
    arm_df
        Shape (k,): degrees of freedom of each arm's pooled variance (inf for binary).
    """

    s2: FloatArray
    pooled: BoolArray
    cell_df: FloatArray
    arm_df: FloatArray


def cell_variances(cells: MetricCells, *, small_cell: int = SMALL_CELL) -> CellVariances:
    """Per-unit variances of the cells with the package's small-cell rules.

    Binary: ``p_hat (1 - p_hat)`` (the Wald / maximum-likelihood variance), or the arm's pooled
    ``r (1 - r)`` in cells with fewer than ``small_cell`` units or a rate of 0 or 1.
    Means: the sample variance ``SS / (n - 1)``, or the arm's pooled within-period variance
    ``sum_p SS_ap / sum_p (n_ap - 1)`` in cells with fewer than ``max(small_cell, 2)`` units.
    """
    n = cells.n
    with np.errstate(invalid="ignore", divide="ignore"):
        if cells.binary:
            rate = np.where(n > 0, cells.total / n, np.nan)
            arm_n = n.sum(axis=1)
            arm_rate = np.where(arm_n > 0, cells.total.sum(axis=1) / arm_n, np.nan)
            small = (n < small_cell) | (rate <= 0.0) | (rate >= 1.0)
            s2 = np.where(small, (arm_rate * (1.0 - arm_rate))[:, None], rate * (1.0 - rate))
            inf_k = np.full(cells.n_arms, np.inf)
            return CellVariances(s2, small & (n > 0), np.full(n.shape, np.inf), inf_k)
        # Within-cell sum of squares; clipped because the one-pass formula can dip below 0.
        ss = np.where(
            n > 0, np.maximum(cells.total_sq - cells.total**2 / np.where(n > 0, n, 1), 0.0), 0.0
        )
        own_df = np.maximum(n - 1.0, 0.0)
        arm_df = own_df.sum(axis=1)
        arm_s2 = np.where(arm_df > 0, ss.sum(axis=1) / arm_df, np.nan)
        small = n < max(small_cell, 2)
        s2 = np.where(small, arm_s2[:, None], ss / np.where(own_df > 0, own_df, 1.0))
        return CellVariances(s2, small & (n > 0), own_df, arm_df)
