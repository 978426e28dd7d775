"""Database engine and transactions.

SQLite (a file under ``var/``) is the embedded default; ``DATABASE_URL`` selects PostgreSQL,
e.g. ``postgresql+psycopg://user@host:5432/dunning``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from engine.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from engine.store.migrate import SchemaState, drop_version_table, read_state, upgrade


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while a job writes; busy_timeout makes a second writer
    # wait for the lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_db(url: str) -> Engine:
    """Create an engine for ``url``; for SQLite, create the file's folder and set pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The driver's own busy timeout covers the pragmas themselves: switching a new file to
        # WAL waits for a concurrent first command creating the schema (it holds the write
        # lock while the migrations run) instead of failing after the default 5 s.
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> SchemaState:
    """Create the tables of an empty database by running the migrations; any other database
    is left as it is (idempotent). Returns the state the database is in afterwards (see
    :mod:`engine.store.migrate`: a database behind or ahead of the engine is not changed)."""
    state = read_state(engine)
    if state.kind != "empty":
        return state
    done = upgrade(engine, only_if_empty=True)  # under the schema lock: reads the state again
    if done.before.kind == "empty":
        return SchemaState("current", done.after, done.after)
    return done.before


def drop_schema(engine: Engine) -> None:
    """Drop the engine's tables and their version."""
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        drop_version_table(connection)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception (nothing half-written)."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session
