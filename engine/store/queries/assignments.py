"""Reads of assignments: who has which arm, recent contacts, per-debtor outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.store.queries.writes import in_chunks
from engine.store.tables import (
    Assignment,
    OutcomeEvent,
)


class AssignedRow(NamedTuple):
    """What a debtor's assignment says (an ineligible debtor has arm None and versions 0)."""

    arm: str | None
    propensity: float
    allocation_version: int
    holdout: bool
    reason: str | None
    treatment: str | None  # the arm, or the arm a router chose
    experiment_version: int


def assigned_arms(
    session: Session, *, experiment_key: str, debtor_ids: Sequence[str]
) -> dict[str, AssignedRow]:
    """Debtor id -> its assignment, for the ids already assigned."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    found: dict[str, AssignedRow] = {}
    for chunk in in_chunks(debtor_ids):
        statement = select(
            a.debtor_id,
            a.arm,
            a.propensity,
            a.allocation_version,
            a.holdout,
            a.reason,
            func.coalesce(a.treatment, a.arm),
            a.experiment_version,
        ).where(a.experiment_key == experiment_key, a.debtor_id.in_(chunk))
        for row in session.execute(statement):
            found[str(row[0])] = AssignedRow(
                str(row[1]),
                float(row[2]),
                int(row[3]),
                bool(row[4]),
                None if row[5] is None else str(row[5]),
                str(row[6]),
                int(row[7]),
            )
    return found


def arms_in_use(session: Session, *, experiment_key: str) -> set[str]:
    """The arms that have at least one assigned debtor."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    statement = select(a.arm).where(a.experiment_key == experiment_key).distinct()
    return {str(row[0]) for row in session.execute(statement)}


@dataclass(frozen=True)
class AssignmentOutcome:
    """One assignment with its outcomes as known at a time (see :func:`assignment_outcomes`)."""

    debtor_id: str
    arm: str
    propensity: float
    experiment_version: int
    allocation_version: int
    segment: str | None
    amount_owed: float | None
    assigned_at: datetime
    pay_matured: bool
    paid_in_window: bool | None  # None until the pay window has closed
    paid_at: datetime | None
    collected: float | None  # None until the pay window has closed
    collection_cases: int
    reminders: int
    churn_matured: bool
    churned_in_horizon: bool | None  # None until churned or the horizon has closed
    treatment: str | None = None  # the treatment a router arm gave (None: the arm's own)
    treatment_cost: float = 0.0


def assignment_outcomes(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    debtor_ids: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[AssignmentOutcome]:
    """Per-assignment outcomes as known at ``now``, in assignment order."""
    statement = select(Assignment).where(
        col(Assignment.experiment_key) == experiment_key, col(Assignment.assigned_at) <= now
    )
    if debtor_ids is not None:
        statement = statement.where(col(Assignment.debtor_id).in_(list(debtor_ids)))
    statement = statement.order_by(col(Assignment.id)).limit(limit)
    rows = []
    for a in session.scalars(statement):
        pay_matured = a.pay_due_at <= now
        paid = a.paid_at is not None and a.paid_at <= min(a.pay_due_at, now)
        churned = a.churned_at is not None and a.churned_at <= min(a.churn_due_at, now)
        churn_matured = a.churn_due_at <= now
        rows.append(
            AssignmentOutcome(
                debtor_id=a.debtor_id,
                arm=a.arm,
                propensity=a.propensity,
                experiment_version=a.experiment_version,
                allocation_version=a.allocation_version,
                segment=a.segment,
                amount_owed=a.amount_owed,
                assigned_at=a.assigned_at,
                pay_matured=pay_matured,
                paid_in_window=paid if pay_matured or paid else None,
                paid_at=a.paid_at if a.paid_at is not None and a.paid_at <= now else None,
                collected=a.collected if pay_matured else None,
                collection_cases=a.collection_cases,
                reminders=a.reminders,
                churn_matured=churn_matured,
                churned_in_horizon=churned if churn_matured or churned else None,
                treatment=a.treatment,
                treatment_cost=a.treatment_cost,
            )
        )
    return rows


def first_assignment_time(session: Session, *, experiment_key: str) -> datetime | None:
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    result: datetime | None = session.scalar(
        select(func.min(a.assigned_at)).where(a.experiment_key == experiment_key)
    )
    return result


def segment_values(session: Session, *, experiment_key: str) -> list[str]:
    """The distinct segments of an experiment's assignments, sorted (None excluded)."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(a.segment)
        .where(a.experiment_key == experiment_key, a.segment.is_not(None))
        .distinct()
        .order_by(a.segment)
    )
    return [str(row[0]) for row in session.execute(statement)]


def recent_contacts(
    session: Session, *, debtor_ids: Sequence[str], since: datetime, until: datetime
) -> dict[str, int]:
    """Contacts (reminder events) per debtor in ``[since, until)``; debtors without any omitted."""
    e = OutcomeEvent.__table__.c  # type: ignore[attr-defined]
    found: dict[str, int] = {}
    for chunk in in_chunks(debtor_ids):
        statement = (
            select(e.debtor_id, func.count())
            .where(
                e.debtor_id.in_(chunk),
                e.kind == "reminder",
                e.occurred_at >= since,
                e.occurred_at < until,
            )
            .group_by(e.debtor_id)
        )
        for row in session.execute(statement):
            found[str(row[0])] = int(row[1])
    return found
