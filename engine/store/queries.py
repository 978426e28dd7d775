"""Queries that aggregate in the database and the few writes that need dialect care.

Outcomes are derived per assignment from events in SQL (:func:`refresh_outcomes`, run by every
ingestion for the debtors it touches), then summed per (arm, allocation version, segment) cell
(:func:`outcome_cells`): only the cells travel to Python, never the rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Float, and_, case, cast, func, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from engine.metrics import ArmTotals
from engine.store.tables import (
    AllocationVersion,
    Assignment,
    ExperimentVersion,
    OutcomeEvent,
    PromotionAudit,
)

#: Rows per IN (...) list; stays far below SQLite's 32,766 bound-parameter limit.
CHUNK = 5_000


def _chunks(values: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert_ignoring_duplicates(
    session: Session, table: Any, rows: list[dict[str, Any]], *, returning: str
) -> list[Any]:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING <column>`` on SQLite and PostgreSQL.

    A row whose unique key exists (inserted earlier, by a concurrent writer, or twice in
    ``rows``) is skipped instead of failing the batch, which is what sticky assignment and
    idempotent ingestion need. Returns ``returning`` of the rows actually inserted.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_fn(table).on_conflict_do_nothing().returning(table.c[returning])
    return list(session.scalars(statement, rows))


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
    for chunk in _chunks(debtor_ids):
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


def latest_versions(session: Session) -> list[ExperimentVersion]:
    """The newest stored version of every experiment, by key."""
    v = ExperimentVersion.__table__.c  # type: ignore[attr-defined]
    newest = (
        select(v.experiment_key, func.max(v.version).label("version"))
        .group_by(v.experiment_key)
        .subquery()
    )
    statement = (
        select(ExperimentVersion)
        .join(
            newest,
            (v.experiment_key == newest.c.experiment_key) & (v.version == newest.c.version),
        )
        .order_by(v.experiment_key)
    )
    return list(session.scalars(statement))


def experiment_versions(session: Session, *, experiment_key: str) -> list[ExperimentVersion]:
    v = ExperimentVersion.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(ExperimentVersion).where(v.experiment_key == experiment_key).order_by(v.version)
    )
    return list(session.scalars(statement))


def refresh_outcomes(session: Session, debtor_ids: Sequence[str]) -> None:
    """Recompute the outcome columns of every assignment of ``debtor_ids`` from their events.

    Recomputing (not incrementing) keeps the columns exact when an event arrives late or twice.
    On PostgreSQL the rows are locked first, in their own statement: a concurrent ingestion of
    the same debtors then waits, and its recomputation (a new statement, hence a new snapshot
    under READ COMMITTED) sees this transaction's events once it commits.
    """
    a = Assignment.__table__  # type: ignore[attr-defined]
    e = OutcomeEvent.__table__.c  # type: ignore[attr-defined]
    since = and_(e.debtor_id == a.c.debtor_id, e.occurred_at >= a.c.assigned_at)

    def first(kind: str) -> Any:
        return select(func.min(e.occurred_at)).where(since, e.kind == kind).scalar_subquery()

    def count(kind: str) -> Any:
        return select(func.count()).where(since, e.kind == kind).scalar_subquery()

    collected = (
        select(func.coalesce(func.sum(e.amount), 0.0))
        .where(since, e.kind == "payment", e.occurred_at <= a.c.pay_due_at)
        .scalar_subquery()
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    for chunk in _chunks(sorted(set(debtor_ids))):
        if postgres:
            session.execute(
                select(a.c.id).where(a.c.debtor_id.in_(chunk)).order_by(a.c.id).with_for_update()
            )
        session.execute(
            update(a)
            .where(a.c.debtor_id.in_(chunk))
            .values(
                paid_at=first("payment"),
                collected=collected,
                churned_at=first("churn"),
                reminders=count("reminder"),
                collection_cases=count("collection_case"),
                inquiries=count("inquiry"),
            )
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
) -> list[OutcomeCell]:
    """Outcome sums of an experiment as known at ``now``, per arm and optionally per allocation
    period and segment (restricted to ``segments`` if given): one scan, no join."""
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
        )
        .where(
            a.experiment_key == experiment_key,
            a.assigned_at <= now,
            a.segment.in_(list(segments)) if segments is not None else literal(True),
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
            ),
        )
        for row in session.execute(statement)
    ]


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
            )
        )
    return rows


def latest_allocation(session: Session, *, experiment_key: str) -> AllocationVersion | None:
    statement = (
        select(AllocationVersion)
        .where(col(AllocationVersion.experiment_key) == experiment_key)
        .order_by(col(AllocationVersion.version).desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def allocations(session: Session, *, experiment_key: str) -> list[AllocationVersion]:
    statement = (
        select(AllocationVersion)
        .where(col(AllocationVersion.experiment_key) == experiment_key)
        .order_by(col(AllocationVersion.version))
    )
    return list(session.scalars(statement))


def promotions(
    session: Session, *, experiment_key: str, actions: Iterable[str] | None = None
) -> list[PromotionAudit]:
    statement = select(PromotionAudit).where(col(PromotionAudit.experiment_key) == experiment_key)
    if actions is not None:
        statement = statement.where(col(PromotionAudit.action).in_(list(actions)))
    return list(session.scalars(statement.order_by(col(PromotionAudit.id))))


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
    for chunk in _chunks(debtor_ids):
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


def lock_experiment(session: Session, *, experiment_key: str) -> None:
    """Serialise writers of one experiment's allocations until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on a hash of the key (released at commit or
    rollback, also when the process dies). SQLite: an empty write takes the database's write
    lock at once, before anything is read, so a second writer waits (busy_timeout) and then
    reads what the first committed. Callers re-check their preconditions after the lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(experiment_key.encode("utf-8")).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        session.execute(text("UPDATE allocation SET version = version WHERE 1 = 0"))


def decisions_on(
    session: Session, *, experiment_key: str, start: datetime, end: datetime
) -> list[PromotionAudit]:
    """Audit records (dry runs never stored) decided in [start, end), oldest first."""
    statement = (
        select(PromotionAudit)
        .where(
            col(PromotionAudit.experiment_key) == experiment_key,
            col(PromotionAudit.decided_at) >= start,
            col(PromotionAudit.decided_at) < end,
            col(PromotionAudit.action) != "rollback",
        )
        .order_by(col(PromotionAudit.id))
    )
    return list(session.scalars(statement))
