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
from engine.service.definitions import pooled_since
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


def pooled_snapshot(
    session: Session, *, experiment_key: str, now: datetime, written_since: bool = False
) -> tuple[int | None, queries.Snapshot | None]:
    """The definition epoch a comparison pools over (:func:`pooled_since`) and the scheduled
    cycle's snapshot of its cells if that answers as of ``now`` (None: aggregate live).
    Without ``written_since`` only while nothing was written after it; with it, the
    dashboard's read of the last cycle (:func:`engine.store.queries.fresh_snapshot`)."""
    since = pooled_since(session, experiment_key=experiment_key)
    snapshot = queries.fresh_snapshot(
        session,
        experiment_key=experiment_key,
        now=now,
        min_experiment_version=since,
        written_since=written_since,
    )
    return since, snapshot


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
    cases: int | None = None,
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

    ``cases``: the experiment's ``late_again_window`` (None: no repeat cases); the cells then
    also carry the repeat-case sums (:func:`engine.store.queries.case_cells`), read live: the
    snapshot holds none, and a later case of a known customer moves no fingerprint.
    """
    by_segment = any(row.segment_weights for row in history)
    extra: list[queries.OutcomeCell] = []
    if cases is not None and by_due_day is None:
        extra = queries.case_cells(
            session,
            experiment_key=experiment_key,
            now=now,
            late_again_days=cases,
            by_period=True,
            by_segment=by_segment,
            segments=segments,
            by_holdout=True,
            min_experiment_version=min_experiment_version,
        )
    return (
        _outcome_cells(
            session,
            experiment_key=experiment_key,
            by_segment=by_segment,
            now=now,
            segments=segments,
            net_value=net_value,
            min_experiment_version=min_experiment_version,
            by_due_day=by_due_day,
            snapshot=snapshot,
        )
        + extra
    )


def _outcome_cells(
    session: Session,
    *,
    experiment_key: str,
    by_segment: bool,
    now: datetime,
    segments: Sequence[str] | None,
    net_value: bool,
    min_experiment_version: int | None,
    by_due_day: Literal["pay", "churn"] | None,
    snapshot: queries.Snapshot | None,
) -> list[queries.OutcomeCell]:
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
    cases: int | None = None,
) -> StratifiedTotals:
    """Cells are allocation periods; under per-segment allocation, where the split differs by
    segment within a period, they are (segment, period) pairs, each with its own weights, and
    the segments are the estimand's strata.

    ``cells`` are :func:`stratum_cells` already read in the same transaction (the scheduled
    cycle reads them once for the update and the promotion rule); ``snapshot`` and ``cases``
    as there.
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
            cases=cases,
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
    snapshot: queries.Snapshot | None = None,
    cases: int | None = None,
) -> Maturity:
    """Per arm, when its first assignment (made by ``now``, in the current definition epoch)
    matures for payment and churn (from ``snapshot`` when given), and with ``cases`` (as in
    :func:`stratum_cells`) when its first case's late-again window closes."""
    rows = (
        queries.maturity(
            session,
            experiment_key=experiment_key,
            now=now,
            min_experiment_version=min_experiment_version,
        )
        if snapshot is None
        else snapshot.maturity
    )
    late = (
        queries.case_maturity(
            session,
            experiment_key=experiment_key,
            now=now,
            late_again_days=cases,
            min_experiment_version=min_experiment_version,
        )
        if cases is not None
        else []
    )
    return maturity_of(rows, late)


def maturity_of(
    rows: Sequence[queries.Maturity], cases: Sequence[queries.CaseMaturity] = ()
) -> Maturity:
    """The analysis' maturity from the per-arm rows of :func:`queries.maturity` and
    :func:`queries.case_maturity`."""
    return Maturity(
        pay={r.arm: r.first_pay_due for r in rows if r.first_pay_due is not None},
        churn={r.arm: r.first_churn_due for r in rows if r.first_churn_due is not None},
        late_again={r.arm: r.first_late_again_due for r in cases},
    )
