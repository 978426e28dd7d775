"""Outcome sums per (arm, stratum) with each stratum's weights: the input of every stratified
comparison (the analysis, and promotion under per-segment allocation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from engine.analysis import Stratum
from engine.metrics import ArmTotals
from engine.store import queries
from engine.store.tables import AllocationVersion


@dataclass(frozen=True)
class StratifiedTotals:
    """``totals[(arm, stratum)]``, ``weights[stratum]`` (the propensities in force), and the
    sums over all arms of the bandit's debtors (False) and of the holdout's (True)."""

    totals: dict[tuple[str, Stratum], ArmTotals]
    weights: dict[Stratum, dict[str, float]]
    holdout_groups: dict[bool, ArmTotals]


def stratum_cells(
    session: Session,
    *,
    experiment_key: str,
    history: Sequence[AllocationVersion],
    now: datetime,
    segments: Sequence[str] | None = None,
    min_experiment_version: int | None = None,
) -> list[queries.OutcomeCell]:
    """Outcome cells per (arm, period, holdout), and per segment too when the split depends on
    it; otherwise 16 debtor types would multiply the cells (and the time to read them).
    ``min_experiment_version``: the current definition epoch's first version (see
    :func:`engine.service.definitions.pooled_since`)."""
    return queries.outcome_cells(
        session,
        experiment_key=experiment_key,
        now=now,
        by_period=True,
        by_segment=any(row.segment_weights for row in history),
        by_holdout=True,
        segments=segments,
        min_experiment_version=min_experiment_version,
    )


def stratified_totals(
    session: Session,
    *,
    experiment_key: str,
    history: Sequence[AllocationVersion],
    now: datetime,
    segments: Sequence[str] | None = None,
    cells: Sequence[queries.OutcomeCell] | None = None,
    min_experiment_version: int | None = None,
) -> StratifiedTotals:
    """Strata are allocation periods; under per-segment allocation, where the split differs by
    segment within a period, they are (segment, period) pairs, each with its own weights.

    ``cells`` are :func:`stratum_cells` already read in the same transaction (the scheduled
    cycle reads them once for the update and the promotion rule).
    """
    by_segment = any(row.segment_weights for row in history)
    if cells is None:
        cells = stratum_cells(
            session,
            experiment_key=experiment_key,
            history=history,
            now=now,
            segments=segments,
            min_experiment_version=min_experiment_version,
        )
    rows = {row.version: row for row in history}
    totals: dict[tuple[str, Stratum], ArmTotals] = {}
    weights: dict[Stratum, dict[str, float]] = {}
    groups = {False: ArmTotals(), True: ArmTotals()}
    for c in cells:
        period = int(c.allocation_version or 0)
        row = rows[period]
        stratum: Stratum = period
        if by_segment:
            # Segment-major order: consecutive periods of a segment with the same split merge
            # into one stratum (engine.stats.strata.group_periods), which keeps strata few.
            stratum = (c.segment or "", period)
            weights[stratum] = dict(row.segment_weights.get(c.segment or "", row.weights))
        else:
            weights[stratum] = dict(row.weights)
        totals[(c.arm, stratum)] = totals.get((c.arm, stratum), ArmTotals()) + c.totals
        groups[bool(c.holdout)] = groups[bool(c.holdout)] + c.totals
    if not weights:  # nothing assigned yet: the current split stands for the empty analysis
        weights[history[-1].version] = dict(history[-1].weights)
    return StratifiedTotals(totals, weights, groups)
