"""The writes that need dialect care: inserts that keep the first row, outcome refreshes, and
the per-experiment lock of the scheduled jobs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import pyarrow as pa
from sqlalchemy import text
from sqlmodel import Session

from engine.store.queries import bulk, cases

#: Rows per IN (...) list; stays far below SQLite's 32,766 bound-parameter limit.
CHUNK = 5_000


def in_chunks(values: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


#: Recomputes the outcome columns of every assignment of a debtor in ``_touched`` from their
#: events, in one statement (PostgreSQL and SQLite >= 3.33 both have ``UPDATE ... FROM``). An
#: assignment without any event since it was assigned has no row in the aggregate and keeps its
#: stored outcomes: those come from the same (empty) set of events, as events are append-only.
_REFRESH = """
UPDATE assignment SET
    paid_at = s.paid_at, collected = s.collected, churned_at = s.churned_at,
    reminders = s.reminders, collection_cases = s.collection_cases, inquiries = s.inquiries
FROM (
    SELECT a.id AS id,
        MIN(CASE WHEN e.kind = 'payment' THEN e.occurred_at END) AS paid_at,
        COALESCE(SUM(CASE WHEN e.kind = 'payment' AND e.occurred_at <= a.pay_due_at
            THEN e.amount END), 0.0) AS collected,
        MIN(CASE WHEN e.kind = 'churn' THEN e.occurred_at END) AS churned_at,
        SUM(CASE WHEN e.kind = 'reminder' THEN 1 ELSE 0 END) AS reminders,
        SUM(CASE WHEN e.kind = 'collection_case' THEN 1 ELSE 0 END) AS collection_cases,
        SUM(CASE WHEN e.kind = 'inquiry' THEN 1 ELSE 0 END) AS inquiries
    FROM _touched t
    JOIN assignment a ON a.debtor_id = t.debtor_id
    JOIN outcome_event e ON e.debtor_id = a.debtor_id AND e.occurred_at >= a.assigned_at
    GROUP BY a.id
) AS s
WHERE assignment.id = s.id
"""


def refresh_outcomes(session: Session, debtor_ids: Sequence[str] = ()) -> None:
    """Recompute the outcome columns of the debtors marked by this transaction's writes
    (:func:`engine.store.queries.bulk.mark_touched`), plus ``debtor_ids``, in one set-based
    statement, and those of their cases (:func:`engine.store.queries.cases.refresh_cases`),
    then clear the marks.

    Recomputing (not incrementing) keeps the columns exact when an event arrives late or twice.
    Concurrent writers cannot interleave here: ingestion holds the outcome write lock
    exclusively and assignment holds it shared (:func:`lock_writes`), so the events and
    assignments this statement reads are all committed or all this transaction's own.
    """
    if debtor_ids:
        bulk.mark_touched(session, pa.array(list(debtor_ids), type=pa.string()))
    else:
        bulk.mark_touched(session, pa.array([], type=pa.string()))
    session.execute(text(_REFRESH))
    cases.refresh_cases(session)
    session.execute(text("DELETE FROM _touched"))


#: How long a batch writer waits for the one ahead of it on SQLite (ms), and the connection's
#: usual busy timeout (:mod:`engine.store.db`) it returns to once it holds the lock.
BATCH_WAIT_MS = 30 * 60 * 1000
SQLITE_BUSY_MS = 30_000
#: An ingestion's page caches on SQLite (KiB; the default is 2 MB): a million events' index
#: entries land all over ``outcome_event``'s two indexes, and the outcome refresh rewrites
#: rows and index entries all over ``assignment``; with the default cache most of those pages
#: are read back and spilled to the WAL again and again. The temporary database holds the
#: marks (``_touched``) and the refresh's sorts. Pages are taken as they are used, so a large
#: file fills the cache whole: its size is part of the ingestion's peak memory. Measured on a
#: quiet machine (1M / 5M events): 2 MB + 2 MB 25.0 s, 309 MB / 165 s, 418 MB; 64 + 16 MB
#: 21.0 s, 405 MB / 146 s, 510 MB; 128 + 64 MB 18.1 s, 476 MB / 182 s, 644 MB (over the
#: 600 MB budget, and no faster at 5M). Assignment gains nothing measurable from a larger
#: cache and keeps the default.
INGEST_CACHE_KIB = 64 * 1024
INGEST_TEMP_CACHE_KIB = 16 * 1024
#: Advisory lock keys (PostgreSQL, two-int form) of the batch writers: one for the outcome
#: tables, and a namespace for per-experiment assignment.
_OUTCOMES_LOCK = (0x64756E, 1)
_ASSIGN_NAMESPACE = 0x64756F


def lock_writes(session: Session, *, experiment_key: str | None) -> None:
    """Take the batch writers' locks until the transaction ends.

    ``experiment_key`` given (assignment): the outcome lock shared and the experiment's
    assignment lock exclusively, so two assigners of one experiment take turns (each inserts
    its chunks in file order; interleaved, two such writers could each wait on a debtor the
    other inserted: a deadlock) while other experiments assign in parallel. None (ingestion):
    the outcome lock exclusively, so no assignment or other ingestion interleaves with the
    outcome refresh. The locks are released at commit or rollback, also when the process dies.
    SQLite allows one writer at a time: an empty write takes its write lock at once, before
    anything is read, so a second writer waits (busy_timeout), then reads what the first wrote.
    """
    if session.get_bind().dialect.name != "postgresql":
        # A batch holds the lock for its whole file: wait for the writer ahead as long as a
        # large file takes, not the connection's usual busy timeout.
        session.execute(text(f"PRAGMA busy_timeout = {BATCH_WAIT_MS}"))
        session.execute(text("UPDATE allocation SET version = version WHERE 1 = 0"))
        session.execute(text(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}"))
        if experiment_key is None:
            session.execute(text(f"PRAGMA cache_size = -{INGEST_CACHE_KIB}"))
            session.execute(text(f"PRAGMA temp.cache_size = -{INGEST_TEMP_CACHE_KIB}"))
        return
    if experiment_key is None:
        session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), _lock_params(_OUTCOMES_LOCK))
        return
    session.execute(
        text("SELECT pg_advisory_xact_lock_shared(:a, :b)"), _lock_params(_OUTCOMES_LOCK)
    )
    digest = hashlib.sha256(experiment_key.encode("utf-8")).digest()
    key = int.from_bytes(digest[:4], "big", signed=True)
    session.execute(
        text("SELECT pg_advisory_xact_lock(:a, :b)"), _lock_params((_ASSIGN_NAMESPACE, key))
    )


def _lock_params(key: tuple[int, int]) -> dict[str, int]:
    return {"a": key[0], "b": key[1]}


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
