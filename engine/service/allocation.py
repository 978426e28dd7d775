"""The bandit update and the promotion rule, each a new allocation version with its audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from engine.config import Experiment
from engine.metrics import ArmTotals, totals_by_arm
from engine.policy import decide_allocation
from engine.promotion import PromotionDecision, decide_promotion
from engine.service.common import (
    ServiceError,
    load_current,
    new_seed,
)
from engine.stats.binomial import BinomialStat
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    AllocationVersion,
    ExperimentVersion,
    PromotionAudit,
)


@dataclass(frozen=True)
class AllocationInfo:
    """One allocation version as the audit trail and the dashboard show it."""

    experiment_key: str
    version: int
    experiment_version: int
    kind: str
    champion: str
    weights: dict[str, float]
    p_best: dict[str, float]
    seed: int | None
    matured_units: int
    reason: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: AllocationVersion) -> AllocationInfo:
        return cls(
            experiment_key=row.experiment_key,
            version=row.version,
            experiment_version=row.experiment_version,
            kind=row.kind,
            champion=row.champion,
            weights=dict(row.weights),
            p_best=dict(row.p_best),
            seed=row.seed,
            matured_units=row.matured_units,
            reason=row.reason,
            created_at=row.created_at,
        )


def pay_stats(
    session: Session, experiment: Experiment, now: datetime
) -> tuple[dict[str, ArmTotals], dict[str, BinomialStat]]:
    cells = queries.outcome_cells(session, experiment_key=experiment.key, now=now)
    totals = totals_by_arm(experiment.arm_keys, ((c.arm, c.totals) for c in cells))
    return totals, {arm: t.pay_stat for arm, t in totals.items()}


def _write_update(
    session: Session,
    experiment: Experiment,
    version: ExperimentVersion,
    stats: dict[str, BinomialStat],
    *,
    now: datetime,
    seed: int,
) -> AllocationInfo:
    current = queries.latest_allocation(session, experiment_key=experiment.key)
    if current is None:  # pragma: no cover - sync always writes one
        raise ServiceError(f"experiment {experiment.key!r} has no allocation")
    decision = decide_allocation(
        config=experiment.allocation,
        arm_keys=experiment.arm_keys,
        stats=stats,
        configured_weights=experiment.initial_weights(),
        rng=np.random.default_rng(seed),
    )
    row = AllocationVersion(
        experiment_key=experiment.key,
        version=current.version + 1,
        experiment_version=version.version,
        kind="update",
        champion=current.champion,
        weights=dict(decision.weights),
        p_best=dict(decision.p_best),
        seed=seed,
        matured_units=sum(s.n for s in stats.values()),
        reason=decision.reason,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return AllocationInfo.from_row(row)


def update_allocation(
    engine: Engine, *, experiment_key: str, now: datetime, seed: int | None = None
) -> AllocationInfo:
    """Recompute the weights from matured outcomes and store them as a new allocation version.

    The Monte Carlo seed is drawn fresh unless given, and stored with the allocation, so the
    weights can be recomputed exactly from the database.
    """
    with transaction(engine) as session:
        experiment, version = load_current(session, experiment_key)
        _, stats = pay_stats(session, experiment, now)
        return _write_update(
            session, experiment, version, stats, now=now, seed=new_seed() if seed is None else seed
        )


@dataclass(frozen=True)
class PromotionResult:
    decision: PromotionDecision
    audit_id: int | None
    allocation_version: int | None
    dry_run: bool


def _champion_since(history: Sequence[AllocationVersion]) -> datetime:
    """When the current champion took the title: walk back until the champion differs."""
    since = history[-1].created_at
    for row in reversed(history):
        if row.champion != history[-1].champion:
            break
        since = row.created_at
    return since


def _write_promotion(
    session: Session,
    experiment: Experiment,
    version: ExperimentVersion,
    stats: dict[str, BinomialStat],
    *,
    now: datetime,
    seed: int,
    dry_run: bool,
) -> PromotionResult:
    history = queries.allocations(session, experiment_key=experiment.key)
    current = history[-1]
    decision = decide_promotion(
        rule=experiment.promotion,
        champion=current.champion,
        stats=stats,
        days_as_champion=(now - _champion_since(history)).total_seconds() / 86_400,
        rng=np.random.default_rng(seed),
        prior_alpha=experiment.allocation.prior_alpha,
        prior_beta=experiment.allocation.prior_beta,
        draws=experiment.allocation.draws,
    )
    if dry_run:
        return PromotionResult(decision, None, None, dry_run=True)
    new_version: int | None = None
    if decision.action == "promote" and decision.new_champion is not None:
        new_version = current.version + 1
        session.add(
            AllocationVersion(
                experiment_key=experiment.key,
                version=new_version,
                experiment_version=version.version,
                kind="promotion",
                champion=decision.new_champion,
                weights=dict(current.weights),
                p_best=dict(current.p_best),
                seed=seed,
                matured_units=sum(s.n for s in stats.values()),
                reason=f"promotion: {decision.explanation}",
                created_at=now,
            )
        )
    audit = PromotionAudit(
        experiment_key=experiment.key,
        experiment_version=version.version,
        decided_at=now,
        action=decision.action,
        reason=decision.reason,
        champion_before=current.champion,
        champion_after=decision.new_champion or current.champion,
        allocation_version=new_version,
        seed=seed,
        dry_run=False,
        rule=experiment.promotion.model_dump(mode="json"),
        numbers=decision.numbers(),
        explanation=decision.explanation,
    )
    session.add(audit)
    session.flush()
    return PromotionResult(decision, audit.id, new_version, dry_run=False)


def evaluate_promotion(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    seed: int | None = None,
    dry_run: bool = False,
) -> PromotionResult:
    """Apply the promotion rule; on ``promote`` switch the champion through a new allocation
    version. Every evaluation (dry runs excepted) leaves an audit record with its numbers; the
    allocation and the record are written in the same transaction, so neither exists alone.
    """
    with transaction(engine) as session:
        experiment, version = load_current(session, experiment_key)
        _, stats = pay_stats(session, experiment, now)
        return _write_promotion(
            session,
            experiment,
            version,
            stats,
            now=now,
            seed=new_seed() if seed is None else seed,
            dry_run=dry_run,
        )


@dataclass(frozen=True)
class CycleResult:
    allocation: AllocationInfo
    promotion: PromotionResult


def run_cycle(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    update_seed: int | None = None,
    promotion_seed: int | None = None,
) -> CycleResult:
    """The scheduled job for one experiment: update the allocation, then evaluate promotion.

    Both steps read the same matured outcomes (aggregated once) and commit together.
    """
    with transaction(engine) as session:
        experiment, version = load_current(session, experiment_key)
        _, stats = pay_stats(session, experiment, now)
        allocation = _write_update(
            session,
            experiment,
            version,
            stats,
            now=now,
            seed=new_seed() if update_seed is None else update_seed,
        )
        promotion = _write_promotion(
            session,
            experiment,
            version,
            stats,
            now=now,
            seed=new_seed() if promotion_seed is None else promotion_seed,
            dry_run=False,
        )
        return CycleResult(allocation, promotion)
