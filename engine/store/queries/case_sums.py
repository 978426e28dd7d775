"""Repeat-case sums per (arm, allocation period, segment, holdout) cell, aggregated in SQL.

Experiments with ``unit.case`` store every dunning case of a customer (``dunning_case``); the
customer, not the case, is the randomised unit, so the sums are taken per customer first and
per cell second (a two-level GROUP BY): the clustered estimator needs each customer's case
count ``M`` and outcome total ``Y`` (:meth:`engine.stats.comparison.Cells.clustered`), and no
case row ever travels to Python.

late_again
    A case is *late again* when the same customer's next case in the experiment opens within
    ``(opened_at, opened_at + N days]``, N = ``metrics.late_again_days``; it is *matured* once
    ``opened_at + N days <= now`` (before that, a case that is not late again yet may still
    become one). Per customer: ``M`` = matured cases, ``Y`` = those late again.
cases_per_customer
    The customer's cases opened within the churn horizon of its assignment (up to
    ``churn_due_at``), over the customers whose horizon has closed: one value per customer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, case, func, literal, select
from sqlmodel import Session

from engine.metrics import ArmTotals
from engine.store.queries.cells import OutcomeCell
from engine.store.tables import Assignment, DunningCase

#: SQLite measures the gap between two cases in julianday doubles: an exact N-day gap may come
#: out a few microseconds long. A millisecond of slack keeps it inside the window.
_DAY_SLACK = 1e-3 / 86_400


def _within_days(session: Session, later: Any, earlier: Any, days: int) -> Any:
    """``later <= earlier + days``, in each dialect's own date arithmetic."""
    if session.get_bind().dialect.name == "postgresql":
        return later <= earlier + func.make_interval(0, 0, 0, days)
    return func.julianday(later) - func.julianday(earlier) <= days + _DAY_SLACK


def _filters(
    a: Any,
    *,
    experiment_key: str,
    now: datetime,
    segments: Sequence[str] | None,
    min_experiment_version: int | None,
) -> list[Any]:
    """The customers :func:`engine.store.queries.outcome_cells` reads: the same cells."""
    return [
        a.experiment_key == experiment_key,
        a.assigned_at <= now,
        a.segment.in_(list(segments)) if segments is not None else literal(True),
        a.experiment_version >= min_experiment_version
        if min_experiment_version is not None
        else literal(True),
    ]


_ASSIGNMENT = Assignment.__table__  # type: ignore[attr-defined]
_CASE = DunningCase.__table__  # type: ignore[attr-defined]
#: Each case with its customer's assignment (the cell keys and the randomisation unit).
_CASES_OF_CUSTOMERS = _CASE.join(
    _ASSIGNMENT,
    and_(
        _ASSIGNMENT.c.experiment_key == _CASE.c.experiment_key,
        _ASSIGNMENT.c.debtor_id == _CASE.c.debtor_id,
    ),
)


def _case_filters(
    *,
    experiment_key: str,
    now: datetime,
    segments: Sequence[str] | None,
    min_experiment_version: int | None,
) -> list[Any]:
    """The experiment's cases opened by ``now`` whose assignment passes :func:`_filters`."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    c = DunningCase.__table__.c  # type: ignore[attr-defined]
    return [
        c.experiment_key == experiment_key,
        c.opened_at <= now,
        *_filters(
            a,
            experiment_key=experiment_key,
            now=now,
            segments=segments,
            min_experiment_version=min_experiment_version,
        ),
    ]


def case_cells(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    late_again_days: int,
    by_period: bool = False,
    by_segment: bool = False,
    segments: Sequence[str] | None = None,
    by_holdout: bool = False,
    min_experiment_version: int | None = None,
) -> list[OutcomeCell]:
    """The repeat-case sums (``late_*`` and ``cpc_*`` of :class:`ArmTotals`, every other field
    0) of the cases opened by ``now``, in the cells of :func:`outcome_cells` called with the
    same arguments: summed into them, they complete the cells' totals."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    c = DunningCase.__table__.c  # type: ignore[attr-defined]
    matured = c.opened_at <= now - timedelta(days=late_again_days)
    late = and_(
        matured,
        c.next_opened_at.is_not(None),
        c.next_opened_at > c.opened_at,
        _within_days(session, c.next_opened_at, c.opened_at, late_again_days),
    )
    keys = [
        a.arm,
        a.allocation_version if by_period else literal(None),
        a.segment if by_segment else literal(None),
        a.holdout if by_holdout else literal(None),
        a.constrained,
    ]
    names = ("arm", "version", "segment", "holdout", "constrained")
    # Level 1: one row per customer, with its cell keys.
    customer = (
        select(
            *(k.label(n) for k, n in zip(keys, names, strict=True)),
            func.sum(case((matured, 1), else_=0)).label("m"),
            func.sum(case((late, 1), else_=0)).label("y"),
            func.max(case((a.churn_due_at <= now, 1), else_=0)).label("horizon_closed"),
            func.sum(case((c.opened_at <= a.churn_due_at, 1), else_=0)).label("k"),
        )
        .select_from(_CASES_OF_CUSTOMERS)
        .where(
            *_case_filters(
                experiment_key=experiment_key,
                now=now,
                segments=segments,
                min_experiment_version=min_experiment_version,
            )
        )
        .group_by(a.id, a.arm, a.allocation_version, a.segment, a.holdout, a.constrained)
        .subquery()
    )
    p = customer.c
    groups = (
        [p.arm]
        + ([p.version] if by_period else [])
        + ([p.segment] if by_segment else [])
        + ([p.holdout] if by_holdout else [])
        + [p.constrained]
    )
    closed = p.horizon_closed == 1

    def total(value: Any, condition: Any = None) -> Any:
        summed = value if condition is None else case((condition, value), else_=0)
        return func.coalesce(func.sum(summed), 0)

    # Level 2: the cell sums of the clustered estimator.
    statement = (
        select(
            p.arm,
            p.version if by_period else literal(None),
            p.segment if by_segment else literal(None),
            p.holdout if by_holdout else literal(None),
            p.constrained,
            total(1, p.m > 0),
            total(p.m),
            total(p.m * p.m),
            total(p.y),
            total(p.y * p.y),
            total(p.y * p.m),
            total(1, closed),
            total(p.k, closed),
            total(p.k * p.k, closed),
        )
        .group_by(*groups)
        .order_by(*groups)
    )
    return [
        OutcomeCell(
            arm=row[0],
            allocation_version=None if row[1] is None else int(row[1]),
            segment=row[2],
            holdout=None if row[3] is None else bool(row[3]),
            constrained=bool(row[4]),
            totals=ArmTotals(
                late_customers=int(row[5]),
                late_cases=int(row[6]),
                late_cases_sq=int(row[7]),
                late_again=int(row[8]),
                late_again_sq=int(row[9]),
                late_cross=int(row[10]),
                cpc_customers=int(row[11]),
                cpc_cases=int(row[12]),
                cpc_cases_sq=int(row[13]),
            ),
        )
        for row in session.execute(statement)
    ]


@dataclass(frozen=True)
class MaturedCases:
    """The matured cases, one entry each (the late-again trend), in the order of their
    customer and maturity: ``customer`` is the assignment's row id, ``matured_on`` the day by
    whose end the case's window had closed (``opened_at + N days``, a closing at midnight
    counts for the day before), ``segment`` "" for none."""

    customer: npt.NDArray[np.int64]
    arm: npt.NDArray[np.object_]
    allocation_version: npt.NDArray[np.int64]
    segment: npt.NDArray[np.object_]
    constrained: npt.NDArray[np.bool_]
    matured_on: npt.NDArray[np.datetime64]
    late: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.customer)

    def randomised(self) -> MaturedCases:
        """The cases whose customer the randomisation placed (a contact rule chose none)."""
        keep = ~self.constrained
        return MaturedCases(*(getattr(self, f.name)[keep] for f in dataclasses.fields(self)))


def matured_cases(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    late_again_days: int,
    min_experiment_version: int | None = None,
) -> MaturedCases:
    """The cases :func:`case_cells` counts as matured by ``now``, in the order of their
    customer and maturity: a trend rebuilds :func:`case_cells`' per-customer sums as of
    every earlier day from them in one read (a case matured by a day stays matured)."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    c = DunningCase.__table__.c  # type: ignore[attr-defined]
    late = and_(
        c.next_opened_at.is_not(None),
        c.next_opened_at > c.opened_at,
        _within_days(session, c.next_opened_at, c.opened_at, late_again_days),
    )
    statement = (
        select(
            a.id,
            a.arm,
            a.allocation_version,
            a.segment,
            a.constrained,
            c.opened_at,
            case((late, 1), else_=0),
        )
        .select_from(_CASES_OF_CUSTOMERS)
        .where(
            *_case_filters(
                experiment_key=experiment_key,
                now=now,
                segments=None,
                min_experiment_version=min_experiment_version,
            ),
            c.opened_at <= now - timedelta(days=late_again_days),
        )
        .order_by(a.id, c.opened_at)
    )
    columns = list(zip(*session.execute(statement), strict=False)) or [()] * 7
    customer, arm, version, segment, constrained, opened, is_late = columns
    # Naive UTC microseconds: numpy keeps no time zone. The end of day d (midnight after it)
    # counts the cases matured by then.
    opened_us = np.array(
        [t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t for t in opened],
        dtype="datetime64[us]",
    )
    closes = opened_us + np.timedelta64(late_again_days, "D") - np.timedelta64(1, "us")
    return MaturedCases(
        customer=np.array(customer, dtype=np.int64),
        arm=np.array(arm, dtype=object),
        allocation_version=np.array([v or 0 for v in version], dtype=np.int64),
        segment=np.array([g or "" for g in segment], dtype=object),
        constrained=np.array(constrained, dtype=bool),
        matured_on=closes.astype("datetime64[D]"),
        late=np.array(is_late, dtype=bool),
    )


@dataclass(frozen=True)
class CaseMaturity:
    """When the first case of an arm (opened by a time) matures for late again."""

    arm: str
    first_late_again_due: datetime


def case_maturity(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    late_again_days: int,
    min_experiment_version: int | None = None,
) -> list[CaseMaturity]:
    """Per arm, its first case's ``opened_at + late_again_days``: "not matured yet, the first
    case matures on ..."."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    c = DunningCase.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(a.arm, func.min(c.opened_at))
        .select_from(_CASES_OF_CUSTOMERS)
        .where(
            *_case_filters(
                experiment_key=experiment_key,
                now=now,
                segments=None,
                min_experiment_version=min_experiment_version,
            )
        )
        .group_by(a.arm)
    )
    return [
        CaseMaturity(str(row[0]), row[1] + timedelta(days=late_again_days))
        for row in session.execute(statement)
        if row[1] is not None
    ]
