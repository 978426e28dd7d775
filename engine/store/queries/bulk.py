"""Bulk writes of one chunk of rows: PostgreSQL ``COPY`` into a staging table then one
set-based ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``; SQLite one prepared
``executemany`` (its fastest path: the statement is compiled once, the rows bound in C).

The unique keys stay the database's job: ``(experiment_key, debtor_id)`` keeps the first arm of
a debtor (sticky assignment), ``event_id`` keeps the first copy of an event. Chunks arrive as
Arrow tables, so no row becomes a Python dict on the way.

Debtors whose outcomes need recomputing are collected in the temporary table ``_touched``
(:func:`mark_touched`); :func:`engine.store.queries.writes.refresh_outcomes` recomputes them
in one statement at the end of the transaction, and their cases
(:mod:`engine.store.queries.cases`) in two more.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import text
from sqlmodel import Session

from engine.store.queries.optimistic import insert_expecting_no_conflict

#: Ids per ``IN (...)`` list on SQLite; far below its 32,766 bound-parameter limit.
CHUNK = 5_000
#: The per-debtor columns of an assignment chunk, in staging order, with their PostgreSQL type.
ASSIGNMENT_STAGE: dict[str, str] = {
    "debtor_id": "text",
    "arm": "text",
    "propensity": "double precision",
    "segment": "text",
    "amount_owed": "double precision",
    "holdout": "boolean",
    "reason": "text",
    "constrained": "boolean",
    "treatment": "text",
    "treatment_propensity": "double precision",
    "treatment_cost": "double precision",
}
#: The columns of an event chunk.
EVENT_STAGE: dict[str, str] = {
    "event_id": "text",
    "debtor_id": "text",
    "kind": "text",
    "amount": "double precision",
    "occurred_at": "timestamptz",
    "case_id": "text",  # NULL: the event names no case (matched by time)
}
#: Columns the same for every row of one assign call (bound once as parameters), with their
#: PostgreSQL type.
ASSIGNMENT_CONSTANTS: dict[str, str] = {
    "experiment_key": "text",
    "experiment_version": "integer",
    "allocation_version": "integer",
    "assigned_at": "timestamptz",
    "pay_due_at": "timestamptz",
    "churn_due_at": "timestamptz",
}
#: The outcome columns of a new assignment: nothing observed yet.
_NO_OUTCOMES = {"collected": 0.0, "reminders": 0, "collection_cases": 0, "inquiries": 0}


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def dbapi(session: Session) -> Any:
    """The driver connection under the session's transaction (psycopg 3 or sqlite3)."""
    return session.connection().connection.dbapi_connection


def _ensure_temp(session: Session, name: str, columns: dict[str, str], *, key: str = "") -> None:
    """A temporary table private to this connection, dropped at commit (PostgreSQL) or emptied
    (SQLite, where ``ON COMMIT`` does not exist; :func:`drop_temp` removes it)."""
    body = ", ".join(f"{c} {t}" for c, t in columns.items())
    if key:
        body += f", PRIMARY KEY ({key})"
    suffix = " ON COMMIT DROP" if is_postgres(session) else ""
    session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({body}){suffix}"))


def _copy(session: Session, name: str, table: pa.Table) -> None:
    """``COPY name FROM STDIN`` in CSV, the text written by Arrow in C (no row in Python).

    Empty text is never staged (ids, kinds and segments are non-empty or NULL), so CSV's
    convention of an unquoted empty field meaning NULL loses nothing.
    """
    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    pa_csv.write_csv(table, buffer, options)
    columns = ", ".join(table.column_names)
    statement = f"COPY {name} ({columns}) FROM STDIN (FORMAT csv)"
    with dbapi(session).cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(buffer.getbuffer())


def _sqlite_rows(
    table: pa.Table, *, lead: Sequence[Any] = (), tail: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Rows as tuples for ``executemany``; times as SQLAlchemy stores them on SQLite.

    ``lead`` and ``tail``: values the same in every row, put before and after the table's
    columns as the tuples are made (no second pass over the rows to add them).
    """
    columns: list[Any] = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            # Naive UTC microseconds, whose text is "YYYY-MM-DD HH:MM:SS.ffffff" like
            # :func:`_sqlite_value`'s: the stored text is compared as text, and "10:00:00"
            # sorts before "10:00:00.000000". (A cast, not ``strftime``: 15x faster.)
            column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
            column = column.cast(pa.string())
        columns.append(column.to_pylist())
    if not (lead or tail):
        return list(zip(*columns, strict=True))
    rows = len(table)
    fixed = [itertools.repeat(v, rows) for v in lead], [itertools.repeat(v, rows) for v in tail]
    return list(zip(*fixed[0], *columns, *fixed[1], strict=True))


def mark_touched(session: Session, debtor_ids: pa.Array | pa.ChunkedArray) -> None:
    """Add debtors whose outcomes :func:`refresh_outcomes` must recompute."""
    _ensure_temp(session, "_touched", {"debtor_id": "text"}, key="debtor_id")
    if not len(debtor_ids):
        return
    ids = pa.table({"debtor_id": pc.unique(debtor_ids)})
    if is_postgres(session):
        _ensure_temp(session, "_stage_touched", {"debtor_id": "text"})
        _copy(session, "_stage_touched", ids)
        session.execute(
            text("INSERT INTO _touched SELECT debtor_id FROM _stage_touched ON CONFLICT DO NOTHING")
        )
        session.execute(text("TRUNCATE _stage_touched"))
    else:
        dbapi(session).executemany(
            "INSERT OR IGNORE INTO _touched (debtor_id) VALUES (?)", _sqlite_rows(ids)
        )


def insert_assignments(
    session: Session, rows: pa.Table, constants: dict[str, Any]
) -> npt.NDArray[np.bool_]:
    """Insert new assignments (``rows``: the :data:`ASSIGNMENT_STAGE` columns; ``constants``:
    the :data:`ASSIGNMENT_CONSTANTS`); a debtor already assigned keeps the stored row.

    Returns which rows were inserted. The inserted debtors that already have events (a payment
    the same morning) are marked for the outcome refresh; the others need none.
    """
    n = rows.num_rows
    _ensure_temp(session, "_touched", {"debtor_id": "text"}, key="debtor_id")
    if not n:
        return np.zeros(0, dtype=bool)
    stage = list(ASSIGNMENT_STAGE)
    target = [*ASSIGNMENT_CONSTANTS, *stage, *_NO_OUTCOMES]
    if is_postgres(session):
        _ensure_temp(session, "_stage_assignment", ASSIGNMENT_STAGE)
        _copy(session, "_stage_assignment", rows.select(stage))
        values = [f"CAST(:{c} AS {t})" for c, t in ASSIGNMENT_CONSTANTS.items()]
        values += stage + [repr(v) for v in _NO_OUTCOMES.values()]
        insert = (
            f"INSERT INTO assignment ({', '.join(target)}) "
            f"SELECT {', '.join(values)} FROM _stage_assignment "
        )
        # The new debtors who have events already, one index probe each (LATERAL ... LIMIT 1:
        # a semi join would be planned as a hash of every stored event, per chunk).
        seen = (
            "INSERT INTO _touched SELECT ins.debtor_id FROM ins CROSS JOIN LATERAL "
            "(SELECT 1 FROM outcome_event e WHERE e.debtor_id = ins.debtor_id LIMIT 1) e "
            "ON CONFLICT DO NOTHING"
        )
        returned = insert_expecting_no_conflict(
            session,
            f"WITH ins AS ({insert} RETURNING debtor_id) {seen}",
            f"WITH ins AS ({insert} ON CONFLICT (experiment_key, debtor_id) DO NOTHING "
            f"RETURNING debtor_id), seen AS ({seen}) SELECT debtor_id FROM ins",
            constants,
        )
        session.execute(text("TRUNCATE _stage_assignment"))
        if returned is None:  # every row went in
            return np.ones(n, dtype=bool)
        inserted = pa.array([row[0] for row in returned], pa.string())
        mine = pc.is_in(rows.column("debtor_id"), value_set=inserted)
        return np.asarray(mine.to_numpy(zero_copy_only=False), dtype=bool)
    connection = dbapi(session)
    fixed = [_sqlite_value(constants[c]) for c in ASSIGNMENT_CONSTANTS]
    marks = ", ".join(["?"] * len(stage))
    literals = ", ".join(repr(v) for v in _NO_OUTCOMES.values())
    placeholders = ", ".join(["?"] * len(fixed))
    before = connection.total_changes
    # As in insert_events: under the write lock, the rows above today's largest id are this
    # chunk's, so the marks below are one set-based statement (no per-row lookup from Python).
    (last_id,) = connection.execute("SELECT COALESCE(MAX(id), 0) FROM assignment").fetchone()
    connection.executemany(
        f"INSERT INTO assignment ({', '.join(target)}) "
        f"VALUES ({placeholders}, {marks}, {literals}) "
        "ON CONFLICT (experiment_key, debtor_id) DO NOTHING",
        _sqlite_rows(rows.select(stage), lead=fixed),
    )
    if connection.total_changes - before != n:
        # The caller holds the experiment's write lock and left out every stored debtor, so a
        # conflict means the store changed under the lock: refuse rather than guess.
        raise RuntimeError("assignment rows changed while the write lock was held")
    connection.execute(
        "INSERT OR IGNORE INTO _touched (debtor_id) SELECT a.debtor_id FROM assignment a "
        "WHERE a.id > ? AND EXISTS (SELECT 1 FROM outcome_event e WHERE e.debtor_id = a.debtor_id)",
        (last_id,),
    )
    return np.ones(n, dtype=bool)


def insert_events(session: Session, rows: pa.Table, *, ingested_at: datetime) -> int:
    """Insert events (``rows``: the :data:`EVENT_STAGE` columns); an event id already stored
    is skipped. Marks the debtors of the new events for the outcome refresh; returns how many
    events were new."""
    n = rows.num_rows
    _ensure_temp(session, "_touched", {"debtor_id": "text"}, key="debtor_id")
    if not n:
        return 0
    columns = list(EVENT_STAGE)
    if is_postgres(session):
        _ensure_temp(session, "_stage_event", EVENT_STAGE)
        _copy(session, "_stage_event", rows.select(columns))
        statement = text(
            f"WITH ins AS (INSERT INTO outcome_event ({', '.join(columns)}, ingested_at) "
            f"SELECT {', '.join(columns)}, CAST(:now AS timestamptz) FROM _stage_event "
            "ON CONFLICT (event_id) DO NOTHING RETURNING debtor_id), "
            "seen AS (INSERT INTO _touched SELECT DISTINCT debtor_id FROM ins "
            "ON CONFLICT DO NOTHING) "
            "SELECT count(*) FROM ins"
        )
        inserted = int(session.execute(statement, {"now": ingested_at}).scalar_one())
        session.execute(text("TRUNCATE _stage_event"))
        return inserted
    connection = dbapi(session)
    now = _sqlite_value(ingested_at)
    before = connection.total_changes
    # The batch writer holds SQLite's write lock (lock_writes), and a new rowid exceeds every
    # stored one: the rows above today's largest id are exactly this chunk's new events.
    (last_id,) = connection.execute("SELECT COALESCE(MAX(id), 0) FROM outcome_event").fetchone()
    connection.executemany(
        f"INSERT INTO outcome_event ({', '.join(columns)}, ingested_at) "
        f"VALUES ({', '.join(['?'] * len(columns))}, ?) ON CONFLICT (event_id) DO NOTHING",
        _sqlite_rows(rows.select(columns), tail=[now]),
    )
    inserted = int(connection.total_changes - before)
    if inserted:
        # The debtors of the new events, set-based (not a list of the chunk's ids from Python).
        connection.execute(
            "INSERT OR IGNORE INTO _touched (debtor_id) "
            "SELECT debtor_id FROM outcome_event WHERE id > ?",
            (last_id,),
        )
    return inserted


#: What :func:`stored_assignments` returns per debtor, with its Arrow type.
STORED_COLUMNS: dict[str, pa.DataType] = {
    "debtor_id": pa.string(),
    "arm": pa.string(),
    "propensity": pa.float64(),
    "allocation_version": pa.int64(),
    "holdout": pa.bool_(),
    "reason": pa.string(),
    "treatment": pa.string(),  # the arm, or the arm a router chose
    "experiment_version": pa.int64(),
}
_STORED_SELECT = (
    "SELECT a.debtor_id, a.arm, a.propensity, a.allocation_version, a.holdout, a.reason, "
    "coalesce(a.treatment, a.arm), a.experiment_version FROM assignment a "
)


def stored_assignments(
    session: Session, *, experiment_key: str, debtor_ids: pa.Array | pa.ChunkedArray
) -> pa.Table:
    """The stored assignments of ``debtor_ids`` in one experiment (the anti-join that tells
    new debtors from sticky ones before any work is done), as an Arrow table of
    :data:`STORED_COLUMNS`, in no particular order.

    PostgreSQL: the ids go in by ``COPY`` and the rows come back by ``COPY ... TO STDOUT``,
    parsed by Arrow; SQLite: ``IN`` lists of at most :data:`CHUNK` ids.
    """
    schema = pa.schema(list(STORED_COLUMNS.items()))
    if not len(debtor_ids):
        return schema.empty_table()
    if is_postgres(session):
        from psycopg import sql as psycopg_sql  # PostgreSQL only

        _ensure_temp(session, "_stage_ids", {"debtor_id": "text"})
        _copy(session, "_stage_ids", pa.table({"debtor_id": debtor_ids}))
        buffer = io.BytesIO()
        with dbapi(session).cursor() as cursor:
            # COPY takes no parameters: the key goes in as a quoted literal.
            # One index probe per id (LATERAL ... LIMIT 1, exact: the pair is unique): a plain
            # join is planned as a hash join over the whole table per chunk (the staged ids have
            # no statistics), which made a 1M-row sticky re-run quadratic in the table's size.
            # The key comes from the outer row (OFFSET 0 keeps it there), not as a literal: with
            # a literal the planner read the key's statistics (an experiment new since the last
            # ANALYZE has no rows) and probed ix_assignment_outcomes by key alone, scanning every
            # row the job had inserted, per id.
            query = psycopg_sql.SQL(
                "COPY (SELECT a.* FROM (SELECT debtor_id, CAST({} AS text) AS k FROM _stage_ids "
                "OFFSET 0) i CROSS JOIN LATERAL "
                f"({_STORED_SELECT} WHERE a.experiment_key = i.k AND a.debtor_id = i.debtor_id "
                "LIMIT 1) a) TO STDOUT (FORMAT csv)"
            ).format(psycopg_sql.Literal(experiment_key))
            with cursor.copy(query) as copy:
                for block in copy:
                    buffer.write(block)
        session.execute(text("TRUNCATE _stage_ids"))
        if not buffer.tell():
            return schema.empty_table()
        buffer.seek(0)
        return pa_csv.read_csv(
            buffer,
            read_options=pa_csv.ReadOptions(column_names=list(STORED_COLUMNS)),
            convert_options=pa_csv.ConvertOptions(
                column_types=schema,
                true_values=["t"],
                false_values=["f"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    connection = dbapi(session)
    ids = debtor_ids.to_pylist()
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        marks = ", ".join(["?"] * len(part))
        found += connection.execute(
            f"{_STORED_SELECT} WHERE a.experiment_key = ? AND a.debtor_id IN ({marks})",
            (experiment_key, *part),
        ).fetchall()
    columns: list[Sequence[Any]] = (
        list(zip(*found, strict=True)) if found else [() for _ in STORED_COLUMNS]
    )
    return pa.table(
        {
            name: pa.array([bool(v) for v in values] if name == "holdout" else values, type=kind)
            for (name, kind), values in zip(STORED_COLUMNS.items(), columns, strict=True)
        }
    )


def _sqlite_value(value: Any) -> Any:
    """A constant as SQLAlchemy binds it on SQLite (aware times as naive UTC text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value
