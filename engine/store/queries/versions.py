"""Experiment versions, allocations and the promotion audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.store.tables import (
    AllocationVersion,
    ExperimentVersion,
    PromotionAudit,
)


def latest_versions(session: Session) -> list[ExperimentVersion]:
    """The newest stored version of every experiment, by key."""
    v = ExperimentVersion.__table__.c  # type: ignore[attr-defined]
    newest = (
        select(v.experiment_key, func.max(v.version).label("version"))
        .group_by(v.experiment_key)
        .subquery()
    )
    statement = (
        select(ExperimentVersion)
        .join(
            newest,
            (v.experiment_key == newest.c.experiment_key) & (v.version == newest.c.version),
        )
        .order_by(v.experiment_key)
    )
    return list(session.scalars(statement))


def experiment_versions(session: Session, *, experiment_key: str) -> list[ExperimentVersion]:
    v = ExperimentVersion.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(ExperimentVersion).where(v.experiment_key == experiment_key).order_by(v.version)
    )
    return list(session.scalars(statement))


def latest_allocation(session: Session, *, experiment_key: str) -> AllocationVersion | None:
    statement = (
        select(AllocationVersion)
        .where(col(AllocationVersion.experiment_key) == experiment_key)
        .order_by(col(AllocationVersion.version).desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def allocations(session: Session, *, experiment_key: str) -> list[AllocationVersion]:
    statement = (
        select(AllocationVersion)
        .where(col(AllocationVersion.experiment_key) == experiment_key)
        .order_by(col(AllocationVersion.version))
    )
    return list(session.scalars(statement))


def promotions(
    session: Session, *, experiment_key: str, actions: Iterable[str] | None = None
) -> list[PromotionAudit]:
    statement = select(PromotionAudit).where(col(PromotionAudit.experiment_key) == experiment_key)
    if actions is not None:
        statement = statement.where(col(PromotionAudit.action).in_(list(actions)))
    return list(session.scalars(statement.order_by(col(PromotionAudit.id))))


#: Audit records of the promotion rule (rollbacks and status changes are audited too).
RULE_ACTIONS = ("promote", "continue", "stop_arm", "inconclusive")
#: The action of an audit record that changed the status; its ``reason`` is the new status.
STATUS_ACTION = "status"


def decisions_on(
    session: Session, *, experiment_key: str, start: datetime, end: datetime
) -> list[PromotionAudit]:
    """Decisions of the promotion rule (dry runs are never stored) in [start, end), oldest
    first."""
    statement = (
        select(PromotionAudit)
        .where(
            col(PromotionAudit.experiment_key) == experiment_key,
            col(PromotionAudit.decided_at) >= start,
            col(PromotionAudit.decided_at) < end,
            col(PromotionAudit.action).in_(RULE_ACTIONS),
        )
        .order_by(col(PromotionAudit.id))
    )
    return list(session.scalars(statement))


def latest_status(session: Session, *, experiment_key: str) -> str | None:
    """The status the latest recorded status change put in force (None: never changed, the
    file's status stands)."""
    statement = (
        select(col(PromotionAudit.reason))
        .where(
            col(PromotionAudit.experiment_key) == experiment_key,
            col(PromotionAudit.action) == STATUS_ACTION,
        )
        .order_by(col(PromotionAudit.id).desc())
        .limit(1)
    )
    return session.scalars(statement).first()
