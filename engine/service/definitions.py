"""The outcome definition in force: which debtors the bandit, the promotion rule and the
analysis may pool (see :mod:`engine.versioning.epochs`), and how every surface labels it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from engine.service.common import load_current, unknown_experiment
from engine.store import queries
from engine.store.tables import Assignment
from engine.versioning import DefinitionEpoch, current_definition


def definition_in(session: Session, *, experiment_key: str) -> DefinitionEpoch:
    """The definition epoch of the newest version of an experiment."""
    rows = queries.experiment_versions(session, experiment_key=experiment_key)
    if not rows:
        raise unknown_experiment(session, experiment_key)
    return current_definition([(row.version, row.config) for row in rows])


def pooled_since(session: Session, *, experiment_key: str) -> int | None:
    """The ``min_experiment_version`` filter of :func:`engine.store.queries.outcome_cells`
    for the current definition (None while it never changed)."""
    return definition_in(session, experiment_key=experiment_key).min_version


@dataclass(frozen=True)
class Definition:
    """The definition in force as the user reads it: its epoch, and how many debtors of
    earlier versions are kept apart."""

    epoch: DefinitionEpoch
    not_pooled: int = 0

    @property
    def since(self) -> int:
        return self.epoch.since

    @property
    def label(self) -> str | None:
        """One sentence for reports, or None while the definition never changed."""
        if not self.epoch.redefined:
            return None
        return (
            f"outcomes as defined since experiment version {self.since} "
            f"({'; '.join(self.epoch.changes)}); {self.not_pooled:,} debtor(s) assigned under "
            "earlier versions are measured on the old definition and not pooled"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "since_version": self.since,
            "changes": list(self.epoch.changes),
            "not_pooled": self.not_pooled,
            "label": self.label,
        }


def describe_definition(session: Session, *, experiment_key: str) -> Definition:
    """The :class:`Definition` of an experiment (one count query once it was redefined)."""
    epoch = definition_in(session, experiment_key=experiment_key)
    if not epoch.redefined:
        return Definition(epoch)
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    earlier = select(func.count()).where(
        a.experiment_key == experiment_key, a.experiment_version < epoch.since
    )
    return Definition(epoch, int(session.scalar(earlier) or 0))


def experiment_definition(engine: Engine, *, experiment_key: str) -> Definition:
    """The definition in force of an experiment. Reads only."""
    with Session(engine) as session:
        load_current(session, experiment_key)
        return describe_definition(session, experiment_key=experiment_key)
