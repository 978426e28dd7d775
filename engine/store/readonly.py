"""Read-only engines: for readers that must never change the database (the dashboard, the
verbs that only report).

SQLite is opened through its URI filename with ``mode=ro``: SQLite itself refuses every write,
and none of the writer's pragmas run (switching a rollback-journal file to WAL would rewrite
its header). PostgreSQL sessions start with ``default_transaction_read_only``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url


def _reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Wait for a writer's lock instead of failing at once, as the writers do.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def make_readonly_db(url: str) -> Engine:
    """An engine that can only read ``url`` (an existing SQLite file or a PostgreSQL
    database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        if database == ":memory:" or database.startswith("file:"):
            engine = create_engine(url)
        else:
            target = quote(str(Path(database).resolve()))
            engine = create_engine(
                parsed.set(database=f"file:{target}", query={"uri": "true", "mode": "ro"})
            )
        event.listen(engine, "connect", _reader_pragmas)
        return engine
    options = "-c default_transaction_read_only=on"
    return create_engine(url, pool_pre_ping=True, connect_args={"options": options})


def user_url(url: URL) -> str:
    """The URL as the user gave it, password hidden: a read-only SQLite engine's
    ``file:...?mode=ro`` URI filename shown as the plain ``sqlite:///PATH`` it came from."""
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database.startswith("file:")
        and url.query.get("mode") == "ro"
    ):
        path = unquote(database[len("file:") :])
        return url.set(database=path, query={}).render_as_string(hide_password=True)
    return url.render_as_string(hide_password=True)
