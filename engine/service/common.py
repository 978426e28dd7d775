"""Shared by the use cases: database handles, errors, the clock, loading the current experiment."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from engine.config import Experiment
from engine.config.base import closest
from engine.store import queries
from engine.store.db import create_schema, make_db
from engine.store.tables import (
    Assignment,
    ExperimentVersion,
)

#: The database handle every use case takes; the edges treat it as opaque.
Database = Engine
#: Raised by any use case when the database cannot be read or written (unreachable server,
#: a file that is not a database, ...): edges catch it without importing SQLAlchemy.


StorageError = SQLAlchemyError


class ServiceError(Exception):
    """A request the engine refuses, with a message meant for the user (no traceback)."""


class UnknownExperimentError(ServiceError):
    pass


class UnknownSegmentError(ServiceError):
    pass


class MissingDatabaseError(ServiceError):
    """A verb that only reads was pointed at a database that does not exist (yet)."""


def open_db(url: str) -> Engine:
    """Engine for ``url`` with the schema in place."""
    engine = make_db(url)
    create_schema(engine)
    return engine


def missing_database_file(url: str) -> Path | None:
    """The path of the SQLite file ``url`` names if it does not exist, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def connect_db(url: str) -> Engine:
    """Engine for reading an existing database: creates neither the file, nor its folder,
    nor the schema.

    Raises
    ------
    MissingDatabaseError
        If ``url`` names a SQLite file that does not exist, or a database without the
        engine's tables.
    """
    shown = display_url(url)
    missing = missing_database_file(url)
    if missing is not None:
        raise MissingDatabaseError(
            f"the database {shown} does not exist (no file {missing}); a verb that writes "
            "(`dunning sync`, `dunning demo`) creates it, or choose another with --db or "
            "DATABASE_URL"
        )
    engine = make_db(url)
    if not inspect(engine).has_table(ExperimentVersion.__tablename__):
        engine.dispose()
        raise MissingDatabaseError(
            f"the database {shown} holds no dunning tables yet; `dunning sync FILE` stores an "
            "experiment in it, or choose another database with --db or DATABASE_URL"
        )
    return engine


def display_url(url: str) -> str:
    """``url`` with its password hidden, for display."""
    return make_url(url).render_as_string(hide_password=True)


def database_of(session: Session) -> str:
    """The URL of the database ``session`` reads, password hidden: every "not found" message
    names it, since a wrong ``--db`` or ``DATABASE_URL`` is the usual cause."""
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def unknown_experiment(session: Session, key: str) -> UnknownExperimentError:
    """The error for a key the database lacks, naming the database, what it holds and the
    closest key."""
    keys = [row.experiment_key for row in queries.latest_versions(session)]
    message = f"experiment {key!r} is not in the database {database_of(session)}"
    close = closest(key, keys)
    if close is not None:
        message += f"; did you mean {close!r}?"
    elif keys:
        message += f" (it holds: {', '.join(keys)})"
    else:
        message += " (it holds no experiment yet)"
    return UnknownExperimentError(
        message + "; store an experiment file with `dunning sync FILE`, or choose another "
        "database with --db or DATABASE_URL"
    )


def utc_now() -> datetime:
    """Current time, timezone-aware UTC: the engine's convention for every stored time."""
    return datetime.now(UTC)


def new_seed() -> int:
    """A fresh 63-bit seed (fits a signed BIGINT), stored with whatever it drives."""
    return secrets.randbits(63)


def latest_version(session: Session, key: str) -> ExperimentVersion | None:
    statement = (
        select(ExperimentVersion)
        .where(col(ExperimentVersion.experiment_key) == key)
        .order_by(col(ExperimentVersion.version).desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def load_current(session: Session, key: str) -> tuple[Experiment, ExperimentVersion]:
    """The newest version of an experiment, with the status in force (a status change
    recorded by ``dunning pause|resume|stop`` overrides the file's; see
    :mod:`engine.lifecycle`)."""
    row = latest_version(session, key)
    if row is None:
        raise unknown_experiment(session, key)
    experiment = Experiment.model_validate(row.config)
    status = queries.latest_status(session, experiment_key=key)
    if status is not None and status != experiment.status:
        experiment = experiment.model_copy(update={"status": status})
    return experiment, row


def has_assignments_in(session: Session, key: str) -> bool:
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    return session.scalar(select(a.id).where(a.experiment_key == key).limit(1)) is not None


def current_experiment(engine: Engine, *, experiment_key: str) -> Experiment:
    """The newest stored version of an experiment."""
    with Session(engine) as session:
        return load_current(session, experiment_key)[0]


def has_assignments(engine: Engine, *, experiment_key: str) -> bool:
    with Session(engine) as session:
        return has_assignments_in(session, experiment_key)


class NotRunningError(ServiceError):
    """The experiment is paused, stopped or a draft: its split and champion are frozen."""


def ensure_running(experiment: Experiment, action: str) -> None:
    """Refuse ``action`` (e.g. "update its allocation") unless the experiment is running.

    Raises
    ------
    NotRunningError
        Naming the status in force and how to change it.
    """
    if experiment.status == "running":
        return
    how = {
        "paused": f"resume it with `dunning resume {experiment.key}`",
        "draft": "set `status: running` in its file and sync it",
        "stopped": "a stopped experiment stays stopped",
    }[experiment.status]
    raise NotRunningError(
        f"experiment {experiment.key!r} is {experiment.status}, so it does not {action}; {how}"
    )
