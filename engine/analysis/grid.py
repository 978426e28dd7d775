"""Outcome sums laid out as (arm, stratum) arrays, strata with identical splits merged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields

import numpy as np
import numpy.typing as npt

from engine.config import Experiment
from engine.metrics import ArmTotals
from engine.stats.strata import MetricCells, group_periods, stratified_estimate

#: A stratum: an allocation version, or (segment, version) under per-segment allocation, where
#: the split differs by segment within a period. Sortable: a segment's periods stay in order.
Stratum = int | tuple[str, int]

_FIELDS = tuple(f.name for f in fields(ArmTotals))


@dataclass(frozen=True)
class StrataGrid:
    """Every ArmTotals field as a (k, p) array, plus the weights (k, p) of the merged strata."""

    fields: dict[str, npt.NDArray[np.float64]]
    weights: npt.NDArray[np.float64]

    def cells(
        self, n: str, total: str, total_sq: str | None = None, *, scale: float = 1.0
    ) -> MetricCells:
        """One metric's cells: a rate (``total_sq`` None) or a mean with its second moment."""
        sums = self.fields[total] * scale
        if total_sq is None:
            return MetricCells(self.fields[n], sums, sums, binary=True)
        return MetricCells(self.fields[n], sums, self.fields[total_sq] * scale**2, binary=False)


def strata_grid(
    arms: Sequence[str],
    totals: Mapping[tuple[str, Stratum], ArmTotals],
    weights: Mapping[Stratum, Mapping[str, float]],
) -> StrataGrid:
    """Lay ``totals`` out by arm and stratum; consecutive strata with the same split merge
    (within them the split is fixed, so pooling them cannot bias a comparison)."""
    strata = sorted({stratum for _, stratum in totals})
    if not strata:
        strata = [max(weights)] if weights else []
    missing = [s for s in strata if s not in weights]
    if missing:
        raise ValueError(f"no weights for allocation stratum/strata {missing}")
    k, p = len(arms), len(strata)
    w = np.array([[weights[s].get(arm, 0.0) for s in strata] for arm in arms], dtype=float)
    empty = astuple(ArmTotals())
    table = np.array(
        [
            [astuple(totals[(arm, s)]) if (arm, s) in totals else empty for s in strata]
            for arm in arms
        ],
        dtype=float,
    ).reshape(k, p, len(_FIELDS))
    if p == 0:
        return StrataGrid({n: table[:, :, i] for i, n in enumerate(_FIELDS)}, w.reshape(k, 0))
    labels = group_periods(w)
    # group_periods labels runs of consecutive strata: sum each run with one reduceat.
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    merged = np.add.reduceat(table, starts, axis=1)
    return StrataGrid({n: merged[:, :, i] for i, n in enumerate(_FIELDS)}, w[:, starts])


def pay_on_time_draws(
    experiment: Experiment,
    *,
    totals: Mapping[tuple[str, Stratum], ArmTotals],
    weights: Mapping[Stratum, Mapping[str, float]],
    rng: np.random.Generator,
    draws: int,
) -> dict[str, npt.NDArray[np.float64]]:
    """Arm -> draws (draws,) of its stratified pay-on-time rate, normal approximation.

    The daily promotion check may face hundreds of (segment, period) strata; the stratified
    estimate is then a weighted sum of many independent cell means, which the central limit
    theorem makes normal, and drawing from N(mean, variance) costs nothing next to a Beta draw
    per cell. :func:`engine.analysis.analyze` keeps the exact per-cell Beta posteriors.
    """
    grid = strata_grid(experiment.arm_keys, totals, weights)
    estimate = stratified_estimate(grid.cells("pay_matured", "paid"))
    sd = np.sqrt(np.nan_to_num(estimate.variance, nan=0.25))
    mean = np.nan_to_num(estimate.mean, nan=0.5)  # an arm with no data: the uniform prior
    samples = mean + sd * rng.standard_normal((draws, len(experiment.arm_keys)))
    return {arm: samples[:, a] for a, arm in enumerate(experiment.arm_keys)}
