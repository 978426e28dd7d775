"""Shared by the use cases: database handles, errors, the clock, loading the current experiment."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from engine.config import Experiment
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
    row = latest_version(session, key)
    if row is None:
        raise UnknownExperimentError(
            f"experiment {key!r} is not in the database; run `dunning sync` first"
        )
    return Experiment.model_validate(row.config), row


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
