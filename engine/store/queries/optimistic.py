"""A PostgreSQL bulk insert that expects no conflict, with the conflict-tolerant statement as
its fallback.

The batch writers of one experiment take turns (:func:`engine.store.queries.lock_writes`) and
leave out, before inserting, every row the store has already: under the lock a plain
``INSERT`` of a chunk cannot meet a stored key. ``INSERT ... ON CONFLICT DO NOTHING`` pays for
the possibility anyway (a speculative insertion per row, about a third more time than a plain
insert of the same rows, measured). So the plain statement runs first inside a savepoint; if
the unique key refuses a row after all (a writer that skipped the lock), the savepoint is
rolled back and the ``ON CONFLICT`` statement runs instead. Either way the database enforces
the key, and the chunk's rows go in exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

_SAVEPOINT = "bulk_insert"


def _compiled(session: Session, sql: str, params: Mapping[str, Any]) -> tuple[str, Any]:
    compiled = text(sql).bindparams(**params).compile(dialect=session.get_bind().dialect)
    return str(compiled), compiled.params


def insert_expecting_no_conflict(
    session: Session, plain: str, tolerant: str, params: Mapping[str, Any]
) -> list[tuple[Any, ...]] | None:
    """Run ``plain`` (an insert that fails on a duplicate key); on a unique violation run
    ``tolerant`` (its ``ON CONFLICT DO NOTHING`` twin) instead and return its rows. None: the
    plain statement inserted every row."""
    from psycopg import errors  # PostgreSQL only

    driver: Any = session.connection().connection.dbapi_connection  # psycopg 3
    with driver.cursor() as cursor:
        # The driver's cursor: the rows come back in C, and no ORM row object is built.
        cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
        try:
            cursor.execute(*_compiled(session, plain, params))
        except errors.UniqueViolation:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            cursor.execute(*_compiled(session, tolerant, params))
            return list(cursor.fetchall())
        cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return None
