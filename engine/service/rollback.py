"""Restore an earlier allocation as a new version, with its own audit record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from engine.service.clock import ensure_forward
from engine.service.common import ServiceError, load_current
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import AllocationVersion, PromotionAudit


@dataclass(frozen=True)
class RollbackResult:
    experiment_key: str
    from_version: int
    to_version: int
    new_version: int
    champion_before: str
    champion_after: str
    audit_id: int


def rollback_allocation(
    engine: Engine, *, experiment_key: str, to_version: int, now: datetime, note: str = ""
) -> RollbackResult:
    """Put allocation ``to_version`` back in force (its champion, weights and stopped arms)
    as a new version: history is appended to, never rewritten, so the rollback itself is
    auditable and can be rolled back.

    Raises
    ------
    ServiceError
        If the version does not exist or is the one in force, or ``now`` precedes the
        experiment's latest stored fact.
    """
    with transaction(engine) as session:
        queries.lock_experiment(session, experiment_key=experiment_key)
        experiment, version = load_current(session, experiment_key)
        ensure_forward(session, experiment_key=experiment_key, now=now)
        history = queries.allocations(session, experiment_key=experiment_key)
        current = history[-1]
        target = next((row for row in history if row.version == to_version), None)
        if target is None:
            raise ServiceError(
                f"{experiment_key} has no allocation v{to_version} "
                f"(versions 1 to {current.version})"
            )
        if target.version == current.version:
            raise ServiceError(f"allocation v{to_version} is already in force")
        unknown = set(target.weights) - set(experiment.arm_keys)
        if unknown:
            raise ServiceError(
                f"allocation v{to_version} has arms the current experiment version lacks: "
                f"{', '.join(sorted(unknown))}"
            )
        reason = f"rollback from v{current.version} to v{to_version}" + (
            f": {note}" if note else ""
        )
        row = AllocationVersion(
            experiment_key=experiment_key,
            version=current.version + 1,
            experiment_version=version.version,
            kind="rollback",
            champion=target.champion,
            weights=dict(target.weights),
            p_best=dict(target.p_best),
            bandit_weights=dict(target.bandit_weights),
            holdout_share=target.holdout_share,
            segment_weights={s: dict(w) for s, w in target.segment_weights.items()},
            segment_bandit_weights={s: dict(w) for s, w in target.segment_bandit_weights.items()},
            stopped_arms=list(target.stopped_arms or []),
            seed=target.seed,
            matured_units=current.matured_units,
            reason=reason,
            created_at=now,
        )
        audit = PromotionAudit(
            experiment_key=experiment_key,
            experiment_version=version.version,
            decided_at=now,
            action="rollback",
            reason="rollback",
            champion_before=current.champion,
            champion_after=target.champion,
            allocation_version=row.version,
            dry_run=False,
            rule={},
            numbers={
                "from_version": current.version,
                "to_version": to_version,
                "stopped_arms": list(target.stopped_arms or []),
            },
            explanation=reason,
        )
        session.add(row)
        session.add(audit)
        session.flush()
        assert audit.id is not None
        return RollbackResult(
            experiment_key,
            current.version,
            to_version,
            row.version,
            current.champion,
            target.champion,
            audit.id,
        )
