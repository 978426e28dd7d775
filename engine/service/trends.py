"""Cumulative uplift against the champion over time: the one comparison, as it stood each day.

A unit's outcome is fixed once its window closes, so the comparison "as of day d" is the
comparison over the units whose window closed by d. One grouped query returns the outcome sums
per (arm, allocation period, window-closing day) cell; each day's comparison sums the cells due
by then and runs :func:`engine.stats.comparison.compare` on them, the estimator every other
surface reads. The work after the query depends on days x periods, not on the debtors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from engine.analysis.grid import LATE_AGAIN, METRICS, Stratum
from engine.config import Experiment
from engine.service.common import load_current
from engine.service.definitions import pooled_since
from engine.service.strata import pooled_snapshot, stratified_totals, stratum_cells
from engine.stats.comparison import Cells, Comparison, compare
from engine.store import queries
from engine.store.queries.case_sums import matured_cases
from engine.store.tables import AllocationVersion

#: Most points a trend shows; longer runs keep every n-th day (and the last).
MAX_POINTS = 120
#: The metrics whose outcome is known when the churn horizon closes; the others at the pay
#: window's end.
_CHURN_METRICS = ("churn",)


@dataclass(frozen=True)
class TrendPoint:
    """The cumulative uplift of ``arm`` over the champion as of the end of ``day``, in the
    metric's unit (NaN while the pair has no comparison)."""

    day: date
    arm: str
    uplift: float
    low: float
    high: float
    units: int


def _thin(days: list[int]) -> list[int]:
    if len(days) <= MAX_POINTS:
        return days
    step = -(-len(days) // MAX_POINTS)
    kept = days[::step]
    return kept if kept[-1] == days[-1] else [*kept, days[-1]]


def uplift_trend(
    engine: Engine, *, experiment_key: str, now: datetime, metric: str, written_since: bool = False
) -> list[TrendPoint]:
    """Per day and challenger, the uplift against the current champion on ``metric`` (a
    metric of :data:`engine.analysis.grid.METRICS`, or ``late_again`` for an experiment with
    repeat cases) over the units matured by then. ``written_since`` as in
    :func:`engine.service.analysis.analyze_experiment`."""
    if metric not in METRICS and metric != "late_again":
        known = ", ".join([*METRICS, "late_again"])
        raise ValueError(f"no trend for metric {metric!r}; metrics: {known}")
    with Session(engine) as session:
        experiment, _ = load_current(session, experiment_key)
        if metric == "late_again":
            return _late_again_trend(session, experiment, now=now)
        history = queries.allocations(session, experiment_key=experiment_key)
        due: Literal["pay", "churn"] = "churn" if metric in _CHURN_METRICS else "pay"
        # The scheduled cycle's snapshot, while nothing was written since: the same cells
        # without a scan of every assignment (engine.store.queries.snapshots).
        since, snapshot = pooled_snapshot(
            session, experiment_key=experiment_key, now=now, written_since=written_since
        )
        cells = stratum_cells(
            session,
            experiment_key=experiment_key,
            history=history,
            now=now,
            min_experiment_version=since,
            by_due_day=due,
            snapshot=snapshot,
        )
    champion = history[-1].champion
    arms = experiment.arm_keys
    champ = arms.index(champion)
    by_segment = any(row.segment_weights for row in history)
    weights = stratified_totals(
        session, experiment_key=experiment_key, history=history, now=now, cells=cells
    ).weights
    keys = sorted(weights)
    days = sorted({c.due_day for c in cells if c.due_day is not None and c.due_day < now.date()})
    if not days or not keys:
        return []
    spec = METRICS[metric]
    # Sums per (closing day, cell, arm); cells are not merged: merging equal splits changes no
    # estimate (engine.analysis.grid), and the cumulative sums then share one layout.
    shape = (len(days), len(keys), len(arms))
    n, total, total_sq = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    day_at = {d: i for i, d in enumerate(days)}
    key_at = {k: i for i, k in enumerate(keys)}
    arm_at = {a: i for i, a in enumerate(arms)}
    for c in cells:
        if c.constrained or c.due_day not in day_at:
            continue  # a contact rule chose the arm (never compared); or not yet due
        period = int(c.allocation_version or 0)
        key = (c.segment or "", period) if by_segment else period
        at = (day_at[c.due_day], key_at[key], arm_at[c.arm])
        t = c.totals
        n[at] += getattr(t, spec.units)
        total[at] += getattr(t, spec.total) * spec.scale
        total_sq[at] += (
            getattr(t, spec.total) if spec.total_sq is None else getattr(t, spec.total_sq)
        ) * spec.scale ** (1 if spec.total_sq is None else 2)
    names = [k[0] if isinstance(k, tuple) else "" for k in keys]
    strata = list(dict.fromkeys(names))
    prob = np.array([[weights[k].get(a, 0.0) for a in arms] for k in keys])
    cumulative = Cells(
        np.cumsum(n, axis=0),
        np.cumsum(total, axis=0),
        np.cumsum(total_sq, axis=0),
        np.broadcast_to(prob, shape),
        np.array([strata.index(name) for name in names], dtype=np.int64),
        binary=spec.total_sq is None,
    )
    return _points(compare(cumulative, champion=champ), days, arms, champ)


def _points(
    comparison: Comparison, days: list[date], arms: Sequence[str], champ: int
) -> list[TrendPoint]:
    """The trend's points of a (day, cell, arm) comparison, thinned to :data:`MAX_POINTS`."""
    low, high = comparison.interval()
    shown = comparison.informative
    points = []
    for i in _thin(list(range(len(days)))):
        for k, arm in enumerate(arms):
            if k == champ:
                continue
            ok = bool(shown[i, k])
            points.append(
                TrendPoint(
                    day=days[i],
                    arm=arm,
                    uplift=float(comparison.estimate[i, k]) if ok else np.nan,
                    low=float(low[i, k]) if ok else np.nan,
                    high=float(high[i, k]) if ok else np.nan,
                    units=int(comparison.pair_units[i, k]),
                )
            )
    return points


def _weights(history: Sequence[AllocationVersion], key: Stratum) -> dict[str, float]:
    """The propensities in force in a cell, as :func:`engine.service.strata.stratified_totals`
    reads them (a (segment, period) cell under per-segment allocation)."""
    row = {r.version: r for r in history}[key[1] if isinstance(key, tuple) else key]
    if isinstance(key, tuple):
        return dict(row.segment_weights.get(key[0], row.weights))
    return dict(row.weights)


def _late_again_trend(
    session: Session, experiment: Experiment, *, now: datetime
) -> list[TrendPoint]:
    """The late-again uplift as of the end of each day (the last point: as of ``now``), over
    the cases whose window had closed by then, clustered by customer: the analysis'
    comparison (the customer sums of :func:`engine.store.queries.case_cells`), rebuilt for
    every day from one read of the matured cases."""
    window = experiment.late_again_window
    if window is None:
        raise ValueError(
            f"no late_again trend for {experiment.key!r}: it has no repeat cases (unit.case)"
        )
    history = queries.allocations(session, experiment_key=experiment.key)
    since = pooled_since(session, experiment_key=experiment.key)
    cases = matured_cases(
        session,
        experiment_key=experiment.key,
        now=now,
        late_again_days=window,
        min_experiment_version=since,
    ).randomised()  # a contact rule chose the arm of the others: never compared
    if not len(cases):
        return []
    by_segment = any(row.segment_weights for row in history)
    arms = experiment.arm_keys
    champ = arms.index(history[-1].champion)
    # Cell of each case: (segment, period) under per-segment allocation, else the period;
    # sorted as the analysis sorts its cells.
    segment_names, segment_at = np.unique(cases.segment.astype(str), return_inverse=True)
    periods = cases.allocation_version
    span = int(periods.max()) + 1
    codes, key_idx = np.unique(segment_at * span + periods if by_segment else periods,
                               return_inverse=True)  # fmt: skip
    keys: list[Stratum] = [
        (str(segment_names[c // span]), int(c % span)) if by_segment else int(c) for c in codes
    ]
    day_values, day_idx = np.unique(cases.matured_on, return_inverse=True)
    days: list[date] = day_values.astype(object).tolist()
    arm_at = {a: i for i, a in enumerate(arms)}
    arm_names, arm_of = np.unique(cases.arm, return_inverse=True)
    arm_idx = np.array([arm_at[a] for a in arm_names], dtype=np.int64)[arm_of]
    shape = (len(days), len(keys), len(arms))
    # Each case moves its customer's sums when it matures: its k-th matured case (Y before it,
    # y its 0/1) adds 1 to M, 2k - 1 to M^2, y to Y, 2 Y y + y to Y^2 and Y + y k to Y M;
    # the first one adds the customer to n. Cases come ordered by customer, then maturity.
    y = cases.late.astype(np.float64)
    first = np.r_[True, cases.customer[1:] != cases.customer[:-1]]
    start = np.flatnonzero(first)[np.cumsum(first) - 1]  # each case's customer's first case
    k = np.arange(len(cases)) - start + 1.0
    seen = np.cumsum(y)
    before = seen - y - (seen[start] - y[start])  # the customer's late cases before this one
    flat = np.ravel_multi_index((day_idx, key_idx, arm_idx), shape)
    size = int(np.prod(shape))
    sums = [
        np.bincount(flat, weights=value, minlength=size).reshape(shape)
        for value in (first.astype(np.float64), np.ones(len(cases)), 2 * k - 1, y,
                      2 * before * y + y, before + y * k)
    ]  # fmt: skip
    # Cumulated over the days: every day's cell sums.
    n, m, m2, yy, y2, cross = (np.cumsum(v, axis=0) for v in sums)
    names = [key[0] if isinstance(key, tuple) else "" for key in keys]
    strata = list(dict.fromkeys(names))
    prob = np.array([[_weights(history, key).get(a, 0.0) for a in arms] for key in keys])
    cells = Cells.clustered(
        n, m, m2, yy, y2, cross, np.broadcast_to(prob, shape),
        np.array([strata.index(name) for name in names], dtype=np.int64),
        binary=LATE_AGAIN.binary,
    )  # fmt: skip
    return _points(compare(cells, champion=champ), days, arms, champ)
