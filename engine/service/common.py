"""Shared by the use cases: database handles, errors, the clock, loading the current experiment."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from engine.store import queries
from engine.store.readonly import user_url
from engine.store.tables import (
    Assignment,
    ExperimentVersion,
)

# The config models (pydantic, ~50 ms to build) load with the first experiment read: ingest
# never reads one.
if TYPE_CHECKING:
    from engine.config import Experiment

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


def database_of(session: Session) -> str:
    """The URL of the database ``session`` reads, password hidden: every "not found" message
    names it, since a wrong ``--db`` or ``DATABASE_URL`` is the usual cause."""
    return user_url(session.get_bind().engine.url)


def unknown_experiment(session: Session, key: str) -> UnknownExperimentError:
    """The error for a key the database lacks, naming the database, what it holds and the
    closest key."""
    keys = [row.experiment_key for row in queries.latest_versions(session)]
    message = f"experiment {key!r} is not in the database {database_of(session)}"
    from engine.config.base import closest

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
    from engine.config import Experiment

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
