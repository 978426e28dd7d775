"""Pause, resume and stop an experiment, audited like a promotion (see :mod:`engine.lifecycle`).

A status change is an audit record (``action = 'status'``, the new status in ``reason``; who,
from what and why in ``numbers`` and ``explanation``) in the same trail as promotions and
rollbacks. :func:`engine.service.common.load_current` puts the latest one in force, so
``assign``, ``update``, ``promote``, ``run-cycle`` and ``schedule`` all obey it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from engine.config import Status
from engine.lifecycle import transition_problem, transition_verb
from engine.service.clock import ensure_forward
from engine.service.common import ServiceError, load_current
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import PromotionAudit


@dataclass(frozen=True)
class StatusChange:
    """The outcome of a lifecycle verb; ``audit_id`` is None when the status was already the
    one asked for (nothing written)."""

    experiment_key: str
    before: str
    after: str
    decided_at: datetime
    audit_id: int | None
    by: str | None
    note: str

    @property
    def changed(self) -> bool:
        return self.audit_id is not None


def record_status(
    session: Session,
    *,
    experiment_key: str,
    experiment_version: int,
    before: str,
    after: str,
    now: datetime,
    by: str | None,
    note: str,
    source: str,
) -> PromotionAudit:
    """Write the audit record of a status change (the caller checked the transition)."""
    champion = queries.latest_allocation(session, experiment_key=experiment_key)
    name = champion.champion if champion is not None else ""
    verb = transition_verb(before, after)
    explanation = f"{verb} by {by or 'unknown'} ({source})" + (f": {note}" if note else "")
    audit = PromotionAudit(
        experiment_key=experiment_key,
        experiment_version=experiment_version,
        decided_at=now,
        action=queries.STATUS_ACTION,
        reason=after,
        champion_before=name,
        champion_after=name,
        allocation_version=None,
        dry_run=False,
        rule={},
        numbers={"status_before": before, "status_after": after, "by": by, "source": source},
        explanation=explanation,
    )
    session.add(audit)
    session.flush()
    return audit


def set_status(
    engine: Engine,
    *,
    experiment_key: str,
    status: Status,
    now: datetime,
    by: str | None,
    note: str = "",
    source: str = "dunning CLI",
) -> StatusChange:
    """Put ``status`` in force for an experiment, with an audit record (who, when, why).

    Asking for the status already in force writes nothing (``changed`` is False).

    Raises
    ------
    ServiceError
        If the experiment is stopped (it stays stopped), or ``now`` precedes its latest
        stored fact.
    """
    with transaction(engine) as session:
        queries.lock_experiment(session, experiment_key=experiment_key)
        experiment, version = load_current(session, experiment_key)
        before = experiment.status
        if before == status:
            return StatusChange(experiment_key, before, status, now, None, by, note)
        problem = transition_problem(before, status)
        if problem is not None:
            raise ServiceError(f"cannot make {experiment_key!r} {status}: {problem}")
        ensure_forward(session, experiment_key=experiment_key, now=now)
        audit = record_status(
            session,
            experiment_key=experiment_key,
            experiment_version=version.version,
            before=before,
            after=status,
            now=now,
            by=by,
            note=note,
            source=source,
        )
        return StatusChange(experiment_key, before, status, now, audit.id, by, note)
