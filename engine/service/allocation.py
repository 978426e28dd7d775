"""The bandit update and the promotion rule, each a new allocation version with its audit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine
from sqlmodel import Session

from engine.analysis import pay_on_time_draws
from engine.config import Experiment
from engine.metrics import ArmTotals, totals_by_arm
from engine.policy import SegmentDecision, decide_allocation, decide_segment_allocation
from engine.promotion import PromotionDecision, decide_promotion
from engine.service.common import (
    ServiceError,
    load_current,
    new_seed,
)
from engine.service.strata import stratified_totals
from engine.stats.bayes import mean_draws, rate_draws
from engine.stats.binomial import BinomialStat
from engine.stats.strata import MetricCells
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
    bandit_weights: dict[str, float] = field(default_factory=dict)
    holdout_share: float = 0.0
    segment_weights: dict[str, dict[str, float]] = field(default_factory=dict)

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
            bandit_weights=dict(row.bandit_weights or row.weights),
            holdout_share=row.holdout_share,
            segment_weights={k: dict(v) for k, v in row.segment_weights.items()},
        )


def pay_stats(
    session: Session, experiment: Experiment, now: datetime
) -> tuple[dict[str, ArmTotals], dict[str, BinomialStat]]:
    """Outcome sums per arm over all debtors, and the pay-on-time stats of each arm."""
    totals, _ = arm_totals(session, experiment, now)
    return totals, {arm: t.pay_stat for arm, t in totals.items()}


def arm_totals(
    session: Session, experiment: Experiment, now: datetime
) -> tuple[dict[str, ArmTotals], dict[str, ArmTotals]]:
    """Outcome sums per arm: over all debtors, and over the bandit's training debtors (the
    randomized holdout excluded: the bandit is judged against it and must never learn from it).
    """
    cells = queries.outcome_cells(session, experiment_key=experiment.key, now=now, by_holdout=True)
    everyone = totals_by_arm(experiment.arm_keys, ((c.arm, c.totals) for c in cells))
    training = totals_by_arm(
        experiment.arm_keys, ((c.arm, c.totals) for c in cells if not c.holdout)
    )
    return everyone, training


def _net_value_draws(
    experiment: Experiment, totals: dict[str, ArmTotals], *, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Posterior draws (draws, k) of each arm's net value per debtor: collected - cost - churn
    x residual CLV, from the pooled matured outcomes (the bandit's reward for
    ``reward: net_value``)."""
    arms = experiment.arm_keys
    t = [totals[a] for a in arms]
    draws = experiment.allocation.draws
    churn = MetricCells.from_counts([[x.churn_matured] for x in t], [[x.churned] for x in t])
    collected = MetricCells(
        np.array([[x.pay_matured] for x in t], dtype=np.float64),
        np.array([[x.collected] for x in t], dtype=np.float64),
        np.array([[x.collected_sq] for x in t], dtype=np.float64),
        binary=False,
    )
    cost = np.array([experiment.arm(a).cost for a in arms])
    churn_draws = rate_draws(churn, rng=rng, draws=draws)
    collected_draws = mean_draws(collected, rng=rng, draws=draws)
    result: npt.NDArray[np.float64] = (
        collected_draws - cost - experiment.clv.residual_value() * churn_draws
    )
    return result


def _plain(table: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {segment: dict(row) for segment, row in table.items()}


def _segment_decision(
    session: Session,
    experiment: Experiment,
    champion: str,
    *,
    now: datetime,
    rng: np.random.Generator,
) -> SegmentDecision | None:
    """Per-segment weights from the matured training outcomes of each segment (holdout out)."""
    cells = queries.outcome_cells(
        session, experiment_key=experiment.key, now=now, by_segment=True, by_holdout=True
    )
    segments = sorted({c.segment for c in cells if c.segment is not None and not c.holdout})
    if not segments:
        return None
    arms = experiment.arm_keys
    paid = np.zeros((len(segments), len(arms)))
    matured = np.zeros((len(segments), len(arms)))
    for c in cells:
        if c.segment is None or c.holdout:
            continue
        row, column = segments.index(c.segment), arms.index(c.arm)
        paid[row, column] += c.totals.paid
        matured[row, column] += c.totals.pay_matured
    return decide_segment_allocation(
        config=experiment.allocation,
        arm_keys=arms,
        champion=champion,
        segments=segments,
        successes=paid,
        failures=matured - paid,
        rng=rng,
    )


def _write_update(
    session: Session,
    experiment: Experiment,
    version: ExperimentVersion,
    training: dict[str, ArmTotals],
    *,
    now: datetime,
    seed: int,
) -> AllocationInfo:
    history = queries.allocations(session, experiment_key=experiment.key)
    if not history:  # pragma: no cover - sync always writes one
        raise ServiceError(f"experiment {experiment.key!r} has no allocation")
    current = history[-1]
    rng = np.random.default_rng(seed)
    stats = {arm: t.pay_stat for arm, t in training.items()}
    reward_draws = (
        _net_value_draws(experiment, training, rng=rng)
        if experiment.allocation.reward == "net_value"
        else None
    )
    decision = decide_allocation(
        config=experiment.allocation,
        arm_keys=experiment.arm_keys,
        champion=current.champion,
        stats=stats,
        configured_weights=experiment.initial_weights(),
        rng=rng,
        days_elapsed=(now - history[0].created_at).total_seconds() / 86_400,
        reward_draws=reward_draws,
    )
    by_segment = None
    if experiment.allocation.per_segment and not decision.burn_in:
        by_segment = _segment_decision(session, experiment, current.champion, now=now, rng=rng)
    row = AllocationVersion(
        experiment_key=experiment.key,
        version=current.version + 1,
        experiment_version=version.version,
        kind="update",
        champion=current.champion,
        weights=dict(decision.weights),
        p_best=dict(decision.p_best),
        bandit_weights=dict(decision.bandit),
        holdout_share=decision.holdout_share,
        segment_weights={} if by_segment is None else _plain(by_segment.weights),
        segment_bandit_weights={} if by_segment is None else _plain(by_segment.bandit),
        seed=seed,
        matured_units=sum(s.n for s in stats.values()),
        reason=decision.reason + ("" if by_segment is None else f"; {by_segment.reason}"),
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
        _, training = arm_totals(session, experiment, now)
        return _write_update(
            session,
            experiment,
            version,
            training,
            now=now,
            seed=new_seed() if seed is None else seed,
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
        session.add(
            AllocationVersion(
                experiment_key=experiment.key,
                version=new_version,
                experiment_version=version.version,
                kind="promotion",
                champion=decision.new_champion,
                weights=dict(current.weights),
                p_best=dict(current.p_best),
                bandit_weights=dict(current.bandit_weights),
                holdout_share=current.holdout_share,
                segment_weights=dict(current.segment_weights),
                segment_bandit_weights=dict(current.segment_bandit_weights),
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
        allocation = _write_update(
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
