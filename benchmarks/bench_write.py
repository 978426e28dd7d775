"""The write path at scale: ``dunning assign`` / ``dunning ingest`` of 1M-row files against the
database's own bulk load of the same rows, engine and floor interleaved in one run.

* PostgreSQL (``DUNNING_BENCH_PG_URL``, default the local server; skipped when unreachable):
  assign 1M new debtors vs ``COPY`` of the same rows into a copy of ``assignment`` with its
  indexes (limit 3x); the sticky re-run of the same file vs the same ``COPY`` (2x); ingest 1M
  events vs ``COPY`` into a copy of ``outcome_event`` plus one set-based refresh (3x).
  With case ids (``unit: {customer, case}``): assign 1M cases of 500k customers vs ``COPY`` of
  the rows it wrote into copies of ``assignment`` and ``dunning_case`` with their indexes (3x),
  and its sticky re-run vs the same ``COPY`` (2x).
* SQLite: assign and ingest 1M vs stdlib ``executemany`` into the same tables (3x); assign 1M
  cases of 500k customers vs ``executemany`` of the rows it wrote into the same tables (3x).
* Peak resident memory of assign and of ingest on a 1M-row and a 5M-row file, on each
  database (<= 600 MB).

The engine runs as a user runs it: the CLI in a child process, on a CSV file on disk. Ratios
are printed as floor / ours with a lower limit of 1/limit (the harness's convention: ``>=``).
``DUNNING_BENCH_ROWS`` scales the row count down for a quick look; ``DUNNING_BENCH_ONLY`` set to
``sqlite`` or ``postgresql`` runs that database's rows alone (and skips the memory rows).
"""

from __future__ import annotations

import io
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.harness import Comparison
from benchmarks.write_path import (
    AS_OF,
    CASES_KEY,
    EVENTS_AS_OF,
    EXPERIMENT,
    KEY,
    case_experiment,
    dunning,
    write_cases,
    write_debtors,
    write_events,
)

ROWS = int(os.environ.get("DUNNING_BENCH_ROWS", 1_000_000))
PG_URL = os.environ.get("DUNNING_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
ONLY = os.environ.get("DUNNING_BENCH_ONLY", "")
RSS_LIMIT_MB = 600.0
_COLUMNS = (
    "experiment_key, debtor_id, arm, propensity, experiment_version, allocation_version, "
    "segment, amount_owed, holdout, reason, constrained, treatment, treatment_cost, "
    "treatment_propensity, assigned_at, pay_due_at, churn_due_at, paid_at, collected, "
    "churned_at, reminders, collection_cases, inquiries"
)
_EVENT_COLUMNS = "event_id, debtor_id, kind, amount, occurred_at, ingested_at"
_CASE_COLUMNS = (
    "experiment_key, case_id, debtor_id, arm, opened_at, pay_due_at, amount_owed, paid_at, "
    "collected, reminders, collection_cases, next_opened_at"
)


def _ok(run: object) -> None:
    code = getattr(run, "code", 0)
    if code not in (0, 3):
        raise RuntimeError(f"benchmark run failed: {getattr(run, 'stderr', '')[-2000:]}")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _assign(url: str, debtors: Path, out: Path, key: str = KEY) -> float:
    run = dunning(
        "assign", key, "-i", str(debtors), "-o", str(out), "--db", url, "--as-of", AS_OF,
        "--overwrite",
    )  # fmt: skip
    _ok(run)
    return run.seconds


@contextmanager
def _pg_database(suffix: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database's URL for the bench (dropped after), or None when the
    server is unreachable."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")
    name = f"dunning_bench_{suffix}_{os.getpid()}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        yield None
        return
    try:
        yield f"{PG_URL}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _postgres(work: Path, debtors: Path, events: Path) -> list[Comparison]:
    import psycopg

    with _pg_database("write") as url:
        if url is None:
            return []
        raw = url.replace("postgresql+psycopg://", "postgresql://")
        _ok(dunning("sync", str(EXPERIMENT), "--db", url, "--as-of", "2026-03-01T00:00:00Z"))
        out = work / "treatments.csv"
        new = _assign(url, debtors, out)
        sticky = _assign(url, debtors, out)
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute("CREATE TABLE floor_assignment (LIKE assignment INCLUDING ALL)")
            conn.execute("CREATE TABLE floor_event (LIKE outcome_event INCLUDING ALL)")
            rows = _copy_out(conn, f"SELECT {_COLUMNS} FROM assignment")
            floor = _timed(copy_assignments_on(conn, rows))
            conn.execute("ANALYZE floor_assignment")  # the planner knows the engine's table
        # Ingestion: the engine, then the floor on the copy (COPY + one set-based refresh).
        run = dunning(
            "ingest", str(events), "--db", url, "--as-of", EVENTS_AS_OF, "--overwrite",
            "--rejects", str(work / "events.rejects.csv"),
        )  # fmt: skip
        _ok(run)
        with psycopg.connect(raw, autocommit=True) as conn:
            stored = _copy_out(conn, f"SELECT {_EVENT_COLUMNS} FROM outcome_event")
            refresh = _floor_refresh()

            def copy_events() -> None:
                with conn.transaction():
                    _copy_in(conn, "floor_event", _EVENT_COLUMNS, stored)
                    conn.execute("ANALYZE floor_event")
                    conn.execute(refresh)

            event_floor = _timed(copy_events)
        # Interleave: a second engine run after the floors, best of the two.
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute("TRUNCATE assignment, outcome_event")
        new_2 = _assign(url, debtors, out)
        sticky_2 = _assign(url, debtors, out)
        with psycopg.connect(raw, autocommit=True) as conn:
            floor = min(floor, _timed(copy_assignments_on(conn, rows)))
        cases = _postgres_cases(work, url, raw)
    n = f"{ROWS:,}"
    return [
        Comparison(f"PostgreSQL assign {n} new debtors (CLI)", min(new, new_2), "COPY into a "
                   "copy of assignment with its indexes", floor, limit=1 / 3),
        Comparison(f"PostgreSQL assign {n} again (sticky re-run)", min(sticky, sticky_2),
                   "same COPY", floor, limit=1 / 2),
        Comparison(f"PostgreSQL ingest {n} events (CLI)", run.seconds,
                   "COPY into a copy of outcome_event + set-based refresh", event_floor,
                   limit=1 / 3),
        *cases,
    ]  # fmt: skip


def _postgres_cases(work: Path, url: str, raw: str) -> list[Comparison]:
    """Assign ``ROWS`` cases of ``ROWS / 2`` customers (new, then the sticky re-run), twice
    interleaved with the floor: ``COPY`` of the rows the engine wrote (the customers'
    assignments and the cases) into copies of both tables with their indexes."""
    import psycopg

    debtors = write_cases(work / "cases.csv", ROWS // 2, ROWS)
    _ok(dunning("sync", str(case_experiment(work)), "--db", url, "--as-of", "2026-03-01"))
    out = work / "case_treatments.csv"
    new, sticky = [], []
    floor = float("inf")
    where = f"WHERE experiment_key = '{CASES_KEY}'"
    for _ in range(2):
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f"DELETE FROM dunning_case {where}")
            conn.execute(f"DELETE FROM assignment {where}")
            conn.execute("VACUUM ANALYZE assignment")
            conn.execute("VACUUM ANALYZE dunning_case")
        new.append(_assign(url, debtors, out, CASES_KEY))
        sticky.append(_assign(url, debtors, out, CASES_KEY))
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS floor_case (LIKE dunning_case INCLUDING ALL)")
            assignments = _copy_out(conn, f"SELECT {_COLUMNS} FROM assignment {where}")
            cases = _copy_out(conn, f"SELECT {_CASE_COLUMNS} FROM dunning_case {where}")
            floor = min(floor, _timed(_copy_cases_on(conn, assignments, cases)))
    n, customers = f"{ROWS:,}", f"{ROWS // 2:,}"
    return [
        Comparison(f"PostgreSQL assign {n} cases of {customers} customers (CLI)", min(new),
                   "COPY into copies of assignment and dunning_case with their indexes", floor,
                   limit=1 / 3),
        Comparison(f"PostgreSQL assign {n} cases again (sticky re-run)", min(sticky),
                   "same COPY", floor, limit=1 / 2),
    ]  # fmt: skip


def _copy_cases_on(conn: object, assignments: bytes, cases: bytes) -> Callable[[], None]:
    def run() -> None:
        conn.execute("TRUNCATE floor_assignment, floor_case")  # type: ignore[attr-defined]
        with conn.transaction():  # type: ignore[attr-defined]
            _copy_in(conn, "floor_assignment", _COLUMNS, assignments)
            _copy_in(conn, "floor_case", _CASE_COLUMNS, cases)

    return run


def copy_assignments_on(conn: object, rows: bytes) -> Callable[[], None]:
    def run() -> None:
        conn.execute("TRUNCATE floor_assignment")  # type: ignore[attr-defined]
        _copy_in(conn, "floor_assignment", _COLUMNS, rows)

    return run


def _floor_refresh() -> str:
    from engine.store.queries.writes import _REFRESH

    touched = "(SELECT DISTINCT debtor_id FROM floor_event)"
    return (
        _REFRESH.replace("UPDATE assignment", "UPDATE floor_assignment")
        .replace("WHERE assignment.id", "WHERE floor_assignment.id")
        .replace("FROM _touched t", f"FROM {touched} t")
        .replace("JOIN assignment a", "JOIN floor_assignment a")
        .replace("JOIN outcome_event e", "JOIN floor_event e")
    )


def _copy_out(conn: object, query: str) -> bytes:
    buffer = io.BytesIO()
    cursor = conn.cursor()  # type: ignore[attr-defined]
    with cursor, cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
        for block in copy:
            buffer.write(block)
    return buffer.getvalue()


def _copy_in(conn: object, table: str, columns: str, rows: bytes) -> None:
    cursor = conn.cursor()  # type: ignore[attr-defined]
    with cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(rows)


def _sqlite(work: Path, debtors: Path, events: Path) -> list[Comparison]:
    engine_db = work / "engine.sqlite3"
    url = f"sqlite:///{engine_db}"
    _ok(dunning("sync", str(EXPERIMENT), "--db", url, "--as-of", "2026-03-01T00:00:00Z"))
    assign = _assign(url, debtors, work / "treatments.csv")
    run = dunning(
        "ingest", str(events), "--db", url, "--as-of", EVENTS_AS_OF, "--overwrite",
        "--rejects", str(work / "events.rejects.csv"),
    )  # fmt: skip
    _ok(run)
    source = sqlite3.connect(engine_db)
    assignments = source.execute(f"SELECT {_COLUMNS} FROM assignment").fetchall()
    stored = source.execute(f"SELECT {_EVENT_COLUMNS} FROM outcome_event").fetchall()
    schema = [
        sql for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('assignment', 'outcome_event') "
            "AND sql IS NOT NULL"
        )
    ]  # fmt: skip
    source.close()
    floor_db = work / "floor.sqlite3"

    def insert(table: str, columns: str, rows: list[tuple[object, ...]]) -> float:
        floor_db.unlink(missing_ok=True)
        conn = sqlite3.connect(floor_db)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for sql in schema:
            conn.execute(sql)
        marks = ", ".join("?" * len(columns.split(",")))
        start = time.perf_counter()
        with conn:
            conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        seconds = time.perf_counter() - start
        conn.close()
        return seconds

    cases = _sqlite_cases(work)
    n = f"{ROWS:,}"
    return [
        *cases,
        Comparison(f"SQLite assign {n} new debtors (CLI)", assign, "stdlib executemany into "
                   "the same table", insert("assignment", _COLUMNS, assignments), limit=1 / 3),
        Comparison(f"SQLite ingest {n} events (CLI)", run.seconds, "stdlib executemany into "
                   "the same table", insert("outcome_event", _EVENT_COLUMNS, stored),
                   limit=1 / 3),
    ]  # fmt: skip


def _sqlite_cases(work: Path) -> list[Comparison]:
    """Assign ``ROWS`` cases of ``ROWS / 2`` customers vs ``executemany`` of the rows it wrote
    into the same two tables (their indexes included) in a fresh file."""
    debtors = write_cases(work / "cases.csv", ROWS // 2, ROWS)
    engine_db = work / "cases.sqlite3"
    url = f"sqlite:///{engine_db}"
    _ok(dunning("sync", str(case_experiment(work)), "--db", url, "--as-of", "2026-03-01"))
    seconds = _assign(url, debtors, work / "case_treatments.csv", CASES_KEY)
    source = sqlite3.connect(engine_db)
    assignments = source.execute(f"SELECT {_COLUMNS} FROM assignment").fetchall()
    cases = source.execute(f"SELECT {_CASE_COLUMNS} FROM dunning_case").fetchall()
    schema = [
        sql for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('assignment', 'dunning_case') "
            "AND sql IS NOT NULL"
        )
    ]  # fmt: skip
    source.close()
    floor_db = work / "cases_floor.sqlite3"
    conn = sqlite3.connect(floor_db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for sql in schema:
        conn.execute(sql)
    start = time.perf_counter()
    with conn:
        for table, columns, rows in (
            ("assignment", _COLUMNS, assignments),
            ("dunning_case", _CASE_COLUMNS, cases),
        ):
            marks = ", ".join("?" * len(columns.split(",")))
            conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    floor = time.perf_counter() - start
    conn.close()
    n, customers = f"{ROWS:,}", f"{ROWS // 2:,}"
    return [
        Comparison(f"SQLite assign {n} cases of {customers} customers (CLI)", seconds,
                   "stdlib executemany into the same tables", floor, limit=1 / 3),
    ]  # fmt: skip


def _peaks(work: Path, url: str, debtors: Path, events: Path) -> tuple[float, float]:
    """Peak RSS (MB) of assign of ``debtors`` and of ingest of ``events`` into ``url``."""
    _ok(dunning("sync", str(EXPERIMENT), "--db", url, "--as-of", "2026-03-01T00:00:00Z"))
    assign = dunning(
        "assign", KEY, "-i", str(debtors), "-o", str(work / "t_rss.csv"), "--db", url,
        "--as-of", AS_OF,
    )  # fmt: skip
    _ok(assign)
    ingest = dunning(
        "ingest", str(events), "--db", url, "--as-of", EVENTS_AS_OF, "--overwrite",
        "--rejects", str(work / "rss.rejects.csv"),
    )  # fmt: skip
    _ok(ingest)
    return assign.peak_rss_mb, ingest.peak_rss_mb


def _memory(work: Path) -> list[Comparison]:
    """Peak RSS of assign and ingest of a 1M- and a 5M-row file on each database: bounded
    by a chunk, not by the file."""
    rows = []
    for n in (ROWS, 5 * ROWS):
        debtors = write_debtors(work / f"debtors_{n}.csv", 0, n, seed=3)
        events = write_events(work / f"events_{n}.csv", n, debtors=n, seed=4)
        peaks = {"SQLite": _peaks(work, f"sqlite:///{work / f'rss_{n}.sqlite3'}", debtors, events)}
        (work / f"rss_{n}.sqlite3").unlink()
        with _pg_database("rss") as url:
            if url is not None:
                peaks["PostgreSQL"] = _peaks(work, url, debtors, events)
        debtors.unlink()
        events.unlink()
        for database, (assign, ingest) in peaks.items():
            for verb, mb, unit in (("assign", assign, "row"), ("ingest", ingest, "event")):
                rows.append(
                    Comparison(
                        f"peak RSS of {database} {verb}, {n:,}-{unit} file",
                        mb,
                        "budget",
                        RSS_LIMIT_MB,
                        limit=1.0,
                        unit="MB",
                    )
                )
    return rows


def run() -> list[Comparison]:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        debtors = write_debtors(work / "debtors.csv", 0, ROWS)
        events = write_events(work / "events.csv", ROWS, debtors=ROWS)
        rows = [] if ONLY == "sqlite" else _postgres(work, debtors, events)
        rows += [] if ONLY == "postgresql" else _sqlite(work, debtors, events)
        rows += [] if ONLY else _memory(work)
    return rows
