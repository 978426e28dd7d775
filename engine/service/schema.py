"""The schema's version as a use case: ``dunning db current`` and ``dunning db upgrade``."""

from __future__ import annotations

from dataclasses import dataclass

from engine.service.database import (
    SchemaError,
    check_sqlite_path,
    database_errors,
    display_url,
    schema_problem,
    sqlite_path,
)
from engine.store.db import make_db
from engine.store.migrate import (
    SchemaChangeRefused,
    SchemaState,
    head_revision,
    read_state,
    upgrade,
)


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands: its revision (None for an empty database), the engine's."""

    database: str  # the URL, password masked
    state: str  # empty | current | landed | behind | ahead | unknown
    revision: str | None
    head: str
    message: str  # one line for the operator


@dataclass(frozen=True)
class UpgradeResult:
    database: str
    before: str | None  # None: the database was empty (the upgrade created it)
    after: str
    applied: tuple[str, ...]  # the revisions run, oldest first (empty: already current)
    stamped: bool  # created before migrations: now marked with its revision, 0001


def _describe(url: str, state: SchemaState) -> str:
    shown = display_url(url)
    if state.kind == "empty":
        return (
            f"the database {shown} holds no dunning tables yet; `dunning db upgrade` or any "
            "verb that writes creates them"
        )
    if state.usable:
        landed = " (created before migrations: `dunning db upgrade` stamps it)"
        return f"the database {shown} is at revision {state.revision}, the newest" + (
            landed if state.kind == "landed" else ""
        )
    return schema_problem(url, state)


def schema_status(url: str) -> SchemaStatus:
    """The schema revision of the database at ``url`` (read only; a missing SQLite file is
    reported as empty and not created).

    Raises
    ------
    DatabaseError
        If the URL is unusable or the database cannot be reached.
    """
    path = sqlite_path(url)
    if path is not None and not path.exists():
        check_sqlite_path(path, create=True)
        state = SchemaState("empty", None, head_revision())
    else:
        if path is not None:
            check_sqlite_path(path, create=False)
        with database_errors(url):
            engine = make_db(url)
            try:
                state = read_state(engine)
            finally:
                engine.dispose()
    return SchemaStatus(
        display_url(url), state.kind, state.revision, state.head, _describe(url, state)
    )


def upgrade_database(url: str) -> UpgradeResult:
    """Bring the database at ``url`` to the newest schema revision, creating an empty one;
    one transaction: a failed migration leaves the database as it was.

    Raises
    ------
    DatabaseError
        If the URL is unusable or the database cannot be reached; :class:`SchemaError` for a
        database newer than this engine or of an unknown layout (nothing changed).
    """
    path = sqlite_path(url)
    if path is not None:
        check_sqlite_path(path, create=True)
    with database_errors(url):
        engine = make_db(url)
        try:
            done = upgrade(engine)
        except SchemaChangeRefused as refused:
            raise SchemaError(schema_problem(url, refused.state)) from None
        finally:
            engine.dispose()
    return UpgradeResult(
        display_url(url), done.before.revision, done.after, done.applied, done.stamped
    )
