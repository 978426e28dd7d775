"""The schema's version: which migration a database is at, and bringing it to the newest.

The revisions in ``migrations/versions/`` own the schema (see the README's "Migrations"). They
are numbered ``0001``, ``0002``, ... in one line, so the newest is found from the file names:
checking a database's version on every command costs one query and no Alembic import;
Alembic is imported only to migrate.

A database is in one of these states (:class:`SchemaState`):

* empty: no engine table yet (a new database); the first command that writes creates it;
* current: at the newest revision;
* landed: no ``alembic_version`` table but exactly the layout of revision 0001 (a database
  created before the engine had migrations); it is revision 0001 and is stamped when upgraded;
* behind: an older revision: ``dunning db upgrade`` brings it forward;
* ahead: a revision this version of the engine does not know (a newer engine migrated it);
* unknown: engine tables without a version that are not the layout of 0001.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSIONS = MIGRATIONS / "versions"
VERSION_TABLE = "alembic_version"
#: The revision whose layout databases created before migrations have.
LANDED_REVISION = "0001"


def _columns(names: str) -> frozenset[str]:
    return frozenset(names.split())


#: Tables and columns of revision 0001 (tests check this against the revision itself).
LANDED_LAYOUT: dict[str, frozenset[str]] = {
    "allocation": _columns(
        "id experiment_key version experiment_version kind champion weights p_best "
        "bandit_weights holdout_share segment_weights segment_bandit_weights stopped_arms "
        "seed matured_units reason created_at"
    ),
    "assignment": _columns(
        "id experiment_key debtor_id arm propensity experiment_version allocation_version "
        "segment amount_owed holdout reason constrained treatment treatment_cost "
        "treatment_propensity assigned_at pay_due_at churn_due_at paid_at collected "
        "churned_at reminders collection_cases inquiries"
    ),
    "experiment_version": _columns(
        "id experiment_key version content_hash name config source_yaml source_path forced "
        "created_at"
    ),
    "outcome_event": _columns("id event_id debtor_id kind amount occurred_at ingested_at"),
    "promotion": _columns(
        "id experiment_key experiment_version decided_at action reason champion_before "
        "champion_after allocation_version seed dry_run rule numbers explanation"
    ),
}
# Every engine table any revision created: a database holding none of them is empty.
ENGINE_TABLES = frozenset(LANDED_LAYOUT)
# One PostgreSQL advisory lock for every schema change: concurrent first commands on a new
# database take turns, and the second finds the schema the first created.
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"dunning schema").digest()[:8], "big", signed=True)
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")

Kind = Literal["empty", "current", "landed", "behind", "ahead", "unknown"]


def head_revision() -> str:
    """The newest revision: the highest number among ``versions/NNNN_name.py``."""
    numbers = [m.group(1) for p in VERSIONS.iterdir() if (m := _REVISION_FILE.match(p.name))]
    return max(numbers)


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against the engine's migrations."""

    kind: Kind
    #: The stored revision (``LANDED_REVISION`` for a landed database; None when empty or
    #: unknown).
    revision: str | None
    head: str
    #: For an unknown layout: what differs from revision 0001, e.g. "no column x.y".
    detail: str = ""

    @property
    def usable(self) -> bool:
        """Whether the engine can work on the database as it is."""
        return self.kind == "current" or (self.kind == "landed" and self.head == LANDED_REVISION)


def _kind(revision: str, head: str) -> Kind:
    if revision == head:
        return "current"
    known = {m.group(1) for p in VERSIONS.iterdir() if (m := _REVISION_FILE.match(p.name))}
    return "behind" if revision in known else "ahead"


def _layout_difference(connection: Connection, present: set[str]) -> str:
    """What an unversioned database lacks or has beyond revision 0001 ("" if nothing)."""
    missing = sorted(ENGINE_TABLES - present)
    if missing:
        return "no table " + ", ".join(missing)
    inspector = inspect(connection)
    for table, expected in sorted(LANDED_LAYOUT.items()):
        columns = {column["name"] for column in inspector.get_columns(table)}
        if lacking := sorted(expected - columns):
            return "no column " + ", ".join(f"{table}.{name}" for name in lacking)
        if extra := sorted(columns - expected):
            return "unexpected column " + ", ".join(f"{table}.{name}" for name in extra)
    return ""


def schema_state(connection: Connection) -> SchemaState:
    """The state of the database behind ``connection`` (reads only)."""
    head = head_revision()
    present = set(inspect(connection).get_table_names())
    if VERSION_TABLE in present:
        query = text(f"SELECT version_num FROM {VERSION_TABLE}")
        revisions: list[str] = list(connection.execute(query).scalars())
        if revisions:
            return SchemaState(_kind(revisions[0], head), revisions[0], head)
    if not present & ENGINE_TABLES:
        return SchemaState("empty", None, head)
    detail = _layout_difference(connection, present)
    if detail:
        return SchemaState("unknown", None, head, detail)
    return SchemaState("landed", LANDED_REVISION, head)


def read_state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        return schema_state(connection)


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other schema change runs beside.

    PostgreSQL runs DDL in transactions: a transaction-scoped advisory lock serialises the
    changes. SQLite too, once the transaction holds the write lock from its start
    (``BEGIN IMMEDIATE``, which the driver's own BEGIN does not do); the second process waits
    for it (busy_timeout) and then sees the first one's tables.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield connection
        return
    with engine.connect() as raw:
        connection = raw.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")


def _config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade` did: the state before and the revisions applied, oldest first
    (a landed database is stamped: marked 0001, which it is, without running it)."""

    before: SchemaState
    applied: tuple[str, ...]
    after: str
    stamped: bool = False


class SchemaChangeRefused(Exception):
    """The database is ahead of this engine or has a layout no revision describes."""

    def __init__(self, state: SchemaState) -> None:
        super().__init__(state.kind)
        self.state = state


def upgrade(engine: Engine, *, only_if_empty: bool = False) -> Upgrade:
    """Bring the database to the newest revision (a landed database is stamped 0001 first).

    With ``only_if_empty``, only an empty database is migrated (created); any other is left
    as it is (nothing is raised) and its state returned. The state is read again under the
    schema lock, so a concurrent creator's work is seen, not repeated.

    Raises
    ------
    SchemaChangeRefused
        For a database ahead of the engine or of an unknown layout (nothing is changed).
    """
    with _schema_lock(engine) as connection:
        before = schema_state(connection)
        if before.kind == "current" or (only_if_empty and before.kind != "empty"):
            return Upgrade(before, (), before.revision or before.head)
        if before.kind in ("ahead", "unknown"):
            raise SchemaChangeRefused(before)
        from alembic import command
        from alembic.script import ScriptDirectory

        config = _config(connection)
        if before.kind == "landed":
            command.stamp(config, LANDED_REVISION)
        script = ScriptDirectory.from_config(config)
        pending = script.iterate_revisions("head", before.revision or "base")
        applied = tuple(reversed([revision.revision for revision in pending]))
        command.upgrade(config, "head")
        return Upgrade(before, applied, before.head, stamped=before.kind == "landed")


def drop_version_table(connection: Connection) -> None:
    """Forget the schema's version (with the tables, when the engine's data is reset)."""
    connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
