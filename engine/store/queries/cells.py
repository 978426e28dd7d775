"""Outcome sums per (arm, allocation period, segment, holdout) cell, aggregated in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Float, and_, case, cast, func, literal, select
from sqlmodel import Session

from engine.metrics import ArmTotals
from engine.store.tables import (
    Assignment,
)


@dataclass(frozen=True)
class OutcomeCell:
    """Outcome sums of one (arm, allocation version, segment) cell, as of a time; version and
    segment are None when the query did not split by them.

    In ``totals``, ``pay_matured``/``paid``/``collected`` count only units whose pay window had
    closed by then and ``churn_matured``/``churned`` only units whose churn horizon had;
    treatment counts (reminders, collection cases, inquiries) are as ingested.
    """

    arm: str
    allocation_version: int | None
    segment: str | None
    totals: ArmTotals
    holdout: bool | None = None
    #: The debtors of the cell were sent to the fallback arm's side by a contact rule (quiet
    #: hours, contact cap): not randomised, so no comparison may use them.
    constrained: bool = False
    #: With ``by_due_day``: the UTC day the cell's units' window closes (pay or churn).
    due_day: date | None = None


def as_date(value: Any) -> date:
    """A SQL ``date(...)``: SQLite returns text, PostgreSQL a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def outcome_cells(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    by_period: bool = False,
    by_segment: bool = False,
    segments: Sequence[str] | None = None,
    by_holdout: bool = False,
    net_value: bool = False,
    min_experiment_version: int | None = None,
    by_due_day: Literal["pay", "churn"] | None = None,
) -> list[OutcomeCell]:
    """Outcome sums of an experiment as known at ``now``, per arm and optionally per allocation
    period and segment (restricted to ``segments`` if given): one scan, no join.

    ``net_value`` adds the cross sums over churn-matured units that net value needs (the
    analysis reads them; the scheduled cycle does not, and skips their cost).
    ``min_experiment_version`` keeps only debtors assigned under that experiment version or a
    later one: the current definition epoch (:mod:`engine.versioning.epochs`), so outcomes
    measured on two definitions (a 14-day and a 7-day pay window) are never summed together.
    ``by_due_day`` also splits by the day the pay (or churn) window closes: the trends sum the
    cells due by each day to get the comparison as it stood then.
    """
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    due = (
        func.date(a.pay_due_at if by_due_day == "pay" else a.churn_due_at)
        if by_due_day is not None
        else None
    )
    keys = [
        a.arm,
        a.allocation_version if by_period else literal(None),
        a.segment if by_segment else literal(None),
        a.holdout if by_holdout else literal(None),
        a.constrained,
        due if due is not None else literal(None),
    ]
    groups = (
        [a.arm]
        + ([a.allocation_version] if by_period else [])
        + ([a.segment] if by_segment else [])
        + ([a.holdout] if by_holdout else [])
        + [a.constrained]
        + ([due] if due is not None else [])
    )
    pay_mature = a.pay_due_at <= now
    churn_mature = a.churn_due_at <= now
    paid = and_(pay_mature, a.paid_at.is_not(None), a.paid_at <= a.pay_due_at)
    churned = and_(churn_mature, a.churned_at.is_not(None), a.churned_at <= a.churn_due_at)

    def total(condition: Any, value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    statement = (
        select(
            *keys,
            func.count(),
            total(pay_mature),
            total(paid),
            total(pay_mature, cast(a.collected, Float)),
            total(churn_mature),
            total(churned),
            func.coalesce(func.sum(a.reminders), 0),
            func.coalesce(func.sum(a.collection_cases), 0),
            func.coalesce(func.sum(a.inquiries), 0),
            # Second moments, for intervals on means (amounts, counts per debtor).
            total(pay_mature, cast(a.collected * a.collected, Float)),
            func.coalesce(func.sum(a.reminders * a.reminders), 0),
            func.coalesce(func.sum(a.collection_cases * a.collection_cases), 0),
            func.coalesce(func.sum(a.treatment_cost), 0.0),
            # Net value's sums over the churn-matured units (engine.metrics.ArmTotals).
            *(
                [
                    total(churn_mature, cast(a.collected, Float)),
                    total(churn_mature, cast(a.collected * a.collected, Float)),
                    total(churn_mature, cast(a.treatment_cost, Float)),
                    total(churn_mature, cast(a.treatment_cost * a.treatment_cost, Float)),
                    total(churn_mature, cast(a.collected * a.treatment_cost, Float)),
                    total(churned, cast(a.collected, Float)),
                    total(churned, cast(a.treatment_cost, Float)),
                ]
                if net_value
                else [literal(0.0)] * 7
            ),
        )
        .where(
            a.experiment_key == experiment_key,
            a.assigned_at <= now,
            a.segment.in_(list(segments)) if segments is not None else literal(True),
            a.experiment_version >= min_experiment_version
            if min_experiment_version is not None
            else literal(True),
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
            due_day=None if row[5] is None else as_date(row[5]),
            totals=ArmTotals(
                assigned=int(row[6]),
                pay_matured=int(row[7]),
                paid=int(row[8]),
                collected=float(row[9]),
                churn_matured=int(row[10]),
                churned=int(row[11]),
                reminders=int(row[12]),
                collection_cases=int(row[13]),
                inquiries=int(row[14]),
                collected_sq=float(row[15]),
                reminders_sq=int(row[16]),
                collection_cases_sq=int(row[17]),
                cost=float(row[18]),
                nv_collected=float(row[19]),
                nv_collected_sq=float(row[20]),
                nv_cost=float(row[21]),
                nv_cost_sq=float(row[22]),
                nv_collected_cost=float(row[23]),
                nv_collected_churned=float(row[24]),
                nv_cost_churned=float(row[25]),
            ),
        )
        for row in session.execute(statement)
    ]


@dataclass(frozen=True)
class Maturity:
    """When the first assignment of an arm (made by a time) matures for payment and churn:
    "not matured yet, the first cohort matures on ..."."""

    arm: str
    first_pay_due: datetime | None
    first_churn_due: datetime | None


def maturity(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    min_experiment_version: int | None = None,
) -> list[Maturity]:
    """The earliest pay and churn due times per arm of the assignments made by ``now`` (and
    under ``min_experiment_version`` or later, as :func:`outcome_cells`)."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(a.arm, func.min(a.pay_due_at), func.min(a.churn_due_at))
        .where(
            a.experiment_key == experiment_key,
            a.assigned_at <= now,
            a.experiment_version >= min_experiment_version
            if min_experiment_version is not None
            else literal(True),
        )
        .group_by(a.arm)
    )
    return [Maturity(row[0], row[1], row[2]) for row in session.execute(statement)]
