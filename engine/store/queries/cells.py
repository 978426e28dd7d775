"""Outcome sums per (arm, allocation period, segment, holdout) cell, aggregated in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def outcome_cells(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    by_period: bool = False,
    by_segment: bool = False,
    segments: Sequence[str] | None = None,
    by_holdout: bool = False,
    min_experiment_version: int | None = None,
) -> list[OutcomeCell]:
    """Outcome sums of an experiment as known at ``now``, per arm and optionally per allocation
    period and segment (restricted to ``segments`` if given): one scan, no join.

    ``min_experiment_version`` keeps only debtors assigned under that experiment version or a
    later one: the current definition epoch (:mod:`engine.versioning.epochs`), so outcomes
    measured on two definitions (a 14-day and a 7-day pay window) are never summed together.
    """
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    keys = [
        a.arm,
        a.allocation_version if by_period else literal(None),
        a.segment if by_segment else literal(None),
        a.holdout if by_holdout else literal(None),
    ]
    groups = (
        [a.arm]
        + ([a.allocation_version] if by_period else [])
        + ([a.segment] if by_segment else [])
        + ([a.holdout] if by_holdout else [])
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
            totals=ArmTotals(
                assigned=int(row[4]),
                pay_matured=int(row[5]),
                paid=int(row[6]),
                collected=float(row[7]),
                churn_matured=int(row[8]),
                churned=int(row[9]),
                reminders=int(row[10]),
                collection_cases=int(row[11]),
                inquiries=int(row[12]),
                collected_sq=float(row[13]),
                reminders_sq=int(row[14]),
                collection_cases_sq=int(row[15]),
                cost=float(row[16]),
            ),
        )
        for row in session.execute(statement)
    ]
