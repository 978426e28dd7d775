"""Outcome sums per (arm, cell) with each cell's assignment probabilities: the input of every
comparison (the analysis, the promotion rule, the report and the dashboard read the same)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session

from engine.analysis import Maturity, StrataGrid, Stratum, strata_grid
from engine.config import Experiment
from engine.metrics import ArmTotals
from engine.store import queries
from engine.store.tables import AllocationVersion


@dataclass(frozen=True)
class StratifiedTotals:
    """``totals[(arm, cell)]`` of the randomised debtors, ``weights[cell]`` (the propensities
    in force), the debtors per arm a contact rule assigned (never in an estimate), and the
    sums over all arms of the bandit's debtors (False) and of the holdout's (True)."""

    totals: dict[tuple[str, Stratum], ArmTotals]
    weights: dict[Stratum, dict[str, float]]
    constrained: dict[str, int]
    holdout_groups: dict[bool, ArmTotals]

    def grid(self, experiment: Experiment) -> StrataGrid:
        """The (cell, arm) arrays every comparison of the experiment reads."""
        return strata_grid(experiment.arm_keys, self.totals, self.weights)


def stratum_cells(
    session: Session,
    *,
    experiment_key: str,
    history: Sequence[AllocationVersion],
    now: datetime,
    segments: Sequence[str] | None = None,
    net_value: bool = False,
    min_experiment_version: int | None = None,
    by_due_day: Literal["pay", "churn"] | None = None,
    snapshot: queries.Snapshot | None = None,
) -> list[queries.OutcomeCell]:
    """Outcome cells per (arm, period, holdout, constrained), and per segment too when the
    split depends on it; otherwise 16 debtor types would multiply the cells (and the time to
    read them). ``net_value``: with the sums net value needs (the analysis).
    ``min_experiment_version``: the current definition epoch's first version (see
    :func:`engine.service.definitions.pooled_since`). ``by_due_day``: split by the day the pay
    window or the churn horizon closes (the trends).

    ``snapshot``: the scheduled cycle's cells, fresh for this ``now`` and definition
    (:func:`engine.store.queries.fresh_snapshot`); they are summed into the same cells instead
    of a scan of every assignment (they carry the net-value sums).
    """
    by_segment = any(row.segment_weights for row in history)
    if snapshot is not None:
        return queries.coarsen(
            snapshot.churn_cells if by_due_day == "churn" else snapshot.cells,
            by_period=True,
            by_segment=by_segment,
            by_holdout=True,
            segments=segments,
            by_due_day=by_due_day is not None,
        )
    return queries.outcome_cells(
        session,
        experiment_key=experiment_key,
        now=now,
        by_period=True,
        by_segment=by_segment,
        by_holdout=True,
        segments=segments,
        net_value=net_value,
        min_experiment_version=min_experiment_version,
        by_due_day=by_due_day,
    )


def stratified_totals(
    session: Session,
    *,
    experiment_key: str,
    history: Sequence[AllocationVersion],
    now: datetime,
    segments: Sequence[str] | None = None,
    cells: Sequence[queries.OutcomeCell] | None = None,
    net_value: bool = False,
    min_experiment_version: int | None = None,
    snapshot: queries.Snapshot | None = None,
) -> StratifiedTotals:
    """Cells are allocation periods; under per-segment allocation, where the split differs by
    segment within a period, they are (segment, period) pairs, each with its own weights, and
    the segments are the estimand's strata.

    ``cells`` are :func:`stratum_cells` already read in the same transaction (the scheduled
    cycle reads them once for the update and the promotion rule); ``snapshot`` as there.
    """
    by_segment = any(row.segment_weights for row in history)
    if cells is None:
        cells = stratum_cells(
            session,
            experiment_key=experiment_key,
            history=history,
            now=now,
            segments=segments,
            net_value=net_value,
            min_experiment_version=min_experiment_version,
            snapshot=snapshot,
        )
    rows = {row.version: row for row in history}
    totals: dict[tuple[str, Stratum], ArmTotals] = {}
    weights: dict[Stratum, dict[str, float]] = {}
    constrained: dict[str, int] = {}
    groups = {False: ArmTotals(), True: ArmTotals()}
    for c in cells:
        groups[bool(c.holdout)] = groups[bool(c.holdout)] + c.totals
        if c.constrained:
            # A contact rule chose the arm: not randomised, so never in a comparison.
            constrained[c.arm] = constrained.get(c.arm, 0) + c.totals.assigned
            continue
        period = int(c.allocation_version or 0)
        row = rows[period]
        key: Stratum = period
        if by_segment:
            # Segment-major order: consecutive periods of a segment with the same split merge
            # into one cell (engine.analysis.strata_grid), which keeps the arrays small.
            key = (c.segment or "", period)
            weights[key] = dict(row.segment_weights.get(c.segment or "", row.weights))
        else:
            weights[key] = dict(row.weights)
        totals[(c.arm, key)] = totals.get((c.arm, key), ArmTotals()) + c.totals
    if not weights:  # nothing randomised yet: the current split stands for the empty analysis
        weights[history[-1].version] = dict(history[-1].weights)
    return StratifiedTotals(totals, weights, constrained, groups)


def arm_maturity(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    min_experiment_version: int | None = None,
) -> Maturity:
    """Per arm, when its first assignment (made by ``now``, in the current definition epoch)
    matures for payment and churn."""
    rows = queries.maturity(
        session,
        experiment_key=experiment_key,
        now=now,
        min_experiment_version=min_experiment_version,
    )
    return maturity_of(rows)


def maturity_of(rows: Sequence[queries.Maturity]) -> Maturity:
    """The analysis' maturity from the per-arm rows of :func:`queries.maturity`."""
    return Maturity(
        pay={r.arm: r.first_pay_due for r in rows if r.first_pay_due is not None},
        churn={r.arm: r.first_churn_due for r in rows if r.first_churn_due is not None},
    )
