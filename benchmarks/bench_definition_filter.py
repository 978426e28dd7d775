"""What issue 13's safety costs at 1,000,000 assignments and 1,000,000 events, on PostgreSQL
(``DUNNING_BENCH_PG_URL``, default the local server; skipped if unreachable) and SQLite.

* the bandit's read (:func:`engine.store.queries.outcome_cells`, per arm and holdout) against
  the floor of any such read, a bare ``GROUP BY arm`` count of the experiment's rows;
* the same read restricted to the current definition epoch (``min_experiment_version``, half
  the rows are of an earlier definition) against the unrestricted read;
* the checks that a write does not go back in time (:mod:`engine.service.clock`): per
  experiment (four ``max()`` over indexed columns) against the bandit's read, and per
  ingestion (the newest event's time, one primary-key lookup) against a bare count of the
  events.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from benchmarks.harness import Comparison, best_of
from engine.service.clock import ensure_forward, ensure_forward_ingestion
from engine.store import queries
from engine.store.db import create_schema, make_db

N = 1_000_000
KEY = "bench-definition"
ARMS = ("friendly_sms", "direct_collection", "no_action", "discount_nudge")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ASSIGNMENT_COLUMNS = (
    "experiment_key, debtor_id, arm, propensity, experiment_version, allocation_version, "
    "segment, holdout, treatment_cost, assigned_at, pay_due_at, churn_due_at, paid_at, "
    "collected, reminders, collection_cases, inquiries"
)


def _rows(rng: np.random.Generator) -> Iterator[tuple[object, ...]]:
    """1M assignments over 100 days; the second half under experiment version 2."""
    arm = rng.integers(0, len(ARMS), N)
    day = np.sort(rng.integers(0, 100, N))
    paid = rng.random(N) < 0.55
    delay = rng.exponential(4.0, N)
    for i in range(N):
        assigned = T0 + timedelta(days=int(day[i]), hours=6)
        yield (
            KEY,
            f"D{i:09d}",
            ARMS[arm[i]],
            0.25,
            1 if day[i] < 50 else 2,
            1 + int(day[i]),
            "WAOE",
            False,
            0.06,
            assigned,
            assigned + timedelta(days=14),
            assigned + timedelta(days=60),
            assigned + timedelta(days=float(delay[i])) if paid[i] else None,
            50.0 if paid[i] else 0.0,
            1,
            0,
            0,
        )


def _copy_postgres(engine: Engine, rng: np.random.Generator) -> None:
    """COPY both tables (the physical floor of loading them)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY assignment ({ASSIGNMENT_COLUMNS}) FROM STDIN") as copy:
            for row in _rows(rng):
                copy.write_row(row)
        with cursor.copy(
            "COPY outcome_event (event_id, debtor_id, kind, amount, occurred_at, ingested_at) "
            "FROM STDIN"
        ) as copy:
            for i in range(N):
                when = T0 + timedelta(minutes=i % 144_000)
                copy.write_row((f"e{i}", f"D{i:09d}", "payment", 50.0, when, when))
        raw.commit()
    finally:
        raw.close()


def _chunks(
    rows: Iterator[tuple[object, ...]], size: int = 50_000
) -> Iterator[list[tuple[object, ...]]]:
    chunk: list[tuple[object, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sqlite_time(when: datetime) -> str:
    """How the engine's UTC datetime type stores a time in SQLite (naive UTC text)."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_sqlite(engine: Engine, rng: np.random.Generator) -> None:
    columns = [c.strip() for c in ASSIGNMENT_COLUMNS.split(",")]
    marks = ", ".join("?" for _ in columns)

    def plain(row: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(_sqlite_time(v) if isinstance(v, datetime) else v for v in row)

    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        insert = f"INSERT INTO assignment ({ASSIGNMENT_COLUMNS}) VALUES ({marks})"
        for chunk in _chunks(plain(row) for row in _rows(rng)):
            cursor.executemany(insert, chunk)
        events = (
            (f"e{i}", f"D{i:09d}", *[_sqlite_time(T0 + timedelta(minutes=i % 144_000))] * 2)
            for i in range(N)
        )
        for chunk in _chunks(events):
            cursor.executemany(
                "INSERT INTO outcome_event (event_id, debtor_id, kind, amount, occurred_at, "
                "ingested_at) VALUES (?, ?, 'payment', 50.0, ?, ?)",
                chunk,
            )
        raw.commit()
    finally:
        raw.close()


@contextmanager
def _postgres() -> Iterator[Engine | None]:
    admin_url = os.environ.get(
        "DUNNING_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"dunning_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        yield None
        return
    engine = make_db(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _measure(engine: Engine, backend: str, load: Callable[[Engine], None]) -> list[Comparison]:
    create_schema(engine)
    load(engine)
    with engine.connect() as connection:
        if backend == "PostgreSQL":
            connection.execute(text("ANALYZE"))
            connection.commit()
    now = T0 + timedelta(days=120)

    def cells(since: int | None) -> Callable[[], object]:
        def read() -> object:
            with Session(engine) as session:
                return queries.outcome_cells(
                    session,
                    experiment_key=KEY,
                    now=now,
                    by_holdout=True,
                    min_experiment_version=since,
                )

        return read

    def floor() -> object:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT arm, count(*) FROM assignment WHERE experiment_key = :k GROUP BY arm"),
                {"k": KEY},
            ).all()

    def count_events() -> object:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM outcome_event")).scalar()

    def clock() -> None:
        with Session(engine) as session:
            ensure_forward(session, experiment_key=KEY, now=now)

    def ingestion_clock() -> None:
        with Session(engine) as session:
            ensure_forward_ingestion(session, now=now)

    pooled = best_of(cells(None))
    epoch = best_of(cells(2))
    bare = best_of(floor)
    scan = best_of(count_events)
    name = f"{backend}, {N:,} assignments"
    return [
        Comparison(f"{name}: bandit read", pooled, "bare GROUP BY arm (the floor)", bare),
        Comparison(f"{name}: read of the current definition", epoch, "the pooled read", pooled),
        Comparison(f"{name}: clock check of a write", best_of(clock), "the bandit read", pooled),
        Comparison(
            f"{backend}, {N:,} events: clock check of an ingestion",
            best_of(ingestion_clock),
            "bare count(*) of the events",
            scan,
        ),
    ]


def run() -> list[Comparison]:
    rows: list[Comparison] = []
    with _postgres() as pg:
        if pg is not None:
            rows += _measure(
                pg, "PostgreSQL", lambda e: _copy_postgres(e, np.random.default_rng(1))
            )
    with TemporaryDirectory() as folder:
        engine = make_db(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        try:
            rows += _measure(
                engine, "SQLite", lambda e: _insert_sqlite(e, np.random.default_rng(1))
            )
        finally:
            engine.dispose()
    return rows
