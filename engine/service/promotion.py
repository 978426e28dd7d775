"""The promotion rule and the scheduled cycle (update, then promotion), each writing its
allocation and audit record in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from engine.analysis import pay_on_time_draws
from engine.config import Experiment
from engine.policy import (
    rebase_on_champion,
)
from engine.promotion import PromotionDecision, decide_promotion
from engine.service.allocation import AllocationInfo, arm_totals, pay_stats, write_update
from engine.service.common import (
    load_current,
    new_seed,
)
from engine.service.strata import stratified_totals
from engine.stats.binomial import BinomialStat
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    AllocationVersion,
    ExperimentVersion,
    PromotionAudit,
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
    rng = np.random.default_rng(seed)
    samples = None
    if any(row.segment_weights for row in history):
        # Traffic depends on the segment: pooled rates would compare different mixes of
        # debtors, so compare within (period, segment) strata.
        strata = stratified_totals(session, experiment_key=experiment.key, history=history, now=now)
        samples = pay_on_time_draws(
            experiment,
            totals=strata.totals,
            weights=strata.weights,
            rng=rng,
            draws=experiment.allocation.draws,
        )
    decision = decide_promotion(
        rule=experiment.promotion,
        champion=current.champion,
        stats=stats,
        days_as_champion=(now - _champion_since(history)).total_seconds() / 86_400,
        rng=rng,
        prior_alpha=experiment.allocation.prior_alpha,
        prior_beta=experiment.allocation.prior_beta,
        draws=experiment.allocation.draws,
        samples=samples,
    )
    if dry_run:
        return PromotionResult(decision, None, None, dry_run=True)
    new_version: int | None = None
    if decision.action == "promote" and decision.new_champion is not None:
        new_version = current.version + 1

        def rebase(split: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
            return rebase_on_champion(
                config=experiment.allocation,
                arm_keys=experiment.arm_keys,
                champion=decision.new_champion or current.champion,
                bandit=split,
            )

        overall, bandit = rebase(dict(current.bandit_weights or current.weights))
        rebased = {s: rebase(dict(w)) for s, w in current.segment_bandit_weights.items()}
        session.add(
            AllocationVersion(
                experiment_key=experiment.key,
                version=new_version,
                experiment_version=version.version,
                kind="promotion",
                champion=decision.new_champion,
                weights=overall,
                p_best=dict(current.p_best),
                bandit_weights=bandit,
                holdout_share=current.holdout_share,
                segment_weights={s: rebased[s][0] for s in rebased},
                segment_bandit_weights={s: rebased[s][1] for s in rebased},
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
        everyone, training = arm_totals(session, experiment, now)
        allocation = write_update(
            session,
            experiment,
            version,
            training,
            now=now,
            seed=new_seed() if update_seed is None else update_seed,
        )
        promotion = _write_promotion(
            session,
            experiment,
            version,
            {arm: t.pay_stat for arm, t in everyone.items()},
            now=now,
            seed=new_seed() if promotion_seed is None else promotion_seed,
            dry_run=False,
        )
        return CycleResult(allocation, promotion)
