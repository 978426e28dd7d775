"""The writes that need dialect care: inserts that keep the first row, outcome refreshes, and
the per-experiment lock of the scheduled jobs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from engine.store.tables import (
    Assignment,
    OutcomeEvent,
)

#: Rows per IN (...) list; stays far below SQLite's 32,766 bound-parameter limit.
CHUNK = 5_000


def in_chunks(values: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
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
    for chunk in in_chunks(sorted(set(debtor_ids))):
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
