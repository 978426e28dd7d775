"""The bandit update: a new allocation version from matured outcomes, with its seed and reason."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine
from sqlmodel import Session

from engine.config import Experiment
from engine.metrics import ArmTotals, totals_by_arm
from engine.policy import (
    SegmentDecision,
    decide_allocation,
    decide_segment_allocation,
    update_due,
)
from engine.policy.rewards import net_value_draws
from engine.service.common import (
    ServiceError,
    load_current,
    new_seed,
)
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    AllocationVersion,
    ExperimentVersion,
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
    #: Set when no new version was written (the cadence's period already has an update).
    unchanged: str | None = None
    stopped_arms: tuple[str, ...] = ()

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
            stopped_arms=tuple(row.stopped_arms or ()),
        )


def arm_totals(
    session: Session, experiment: Experiment, now: datetime
) -> tuple[dict[str, ArmTotals], dict[str, ArmTotals]]:
    """Outcome sums per arm: over all debtors, and over the bandit's training debtors."""
    cells = queries.outcome_cells(session, experiment_key=experiment.key, now=now, by_holdout=True)
    everyone = totals_by_arm(experiment.arm_keys, ((c.arm, c.totals) for c in cells))
    return everyone, training_totals(experiment, cells)


def _trains(cell: queries.OutcomeCell) -> bool:
    """The randomized holdout never trains the bandit (it is judged against it), nor do the
    debtors a contact rule assigned (their arm says nothing about the arms' rewards)."""
    return not cell.holdout and not cell.constrained


def training_totals(
    experiment: Experiment, cells: Iterable[queries.OutcomeCell]
) -> dict[str, ArmTotals]:
    """Outcome sums per arm of the bandit's training debtors (see :func:`_trains`)."""
    return totals_by_arm(experiment.arm_keys, ((c.arm, c.totals) for c in cells if _trains(c)))


def _net_value_draws(
    experiment: Experiment, totals: dict[str, ArmTotals], *, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Posterior draws (draws, k) of each arm's net value per debtor (the bandit's reward for
    ``objective: net_value``), :func:`engine.policy.rewards.net_value_draws`."""
    t = [totals[a] for a in experiment.arm_keys]
    # Actual treatment cost per debtor (a router arm's is its mix), the configured one before
    # any debtor.
    cost = [
        x.cost / x.assigned if x.assigned else experiment.arm(a).cost
        for a, x in zip(experiment.arm_keys, t, strict=True)
    ]
    return net_value_draws(
        churn_units=[x.churn_matured for x in t],
        churned=[x.churned for x in t],
        collected_units=[x.pay_matured for x in t],
        collected=[x.collected for x in t],
        collected_sq=[x.collected_sq for x in t],
        cost=cost,
        residual_value=experiment.clv.residual_value(),
        rng=rng,
        draws=experiment.allocation.draws,
    )


def _plain(table: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {segment: dict(row) for segment, row in table.items()}


def _segment_decision(
    session: Session,
    experiment: Experiment,
    champion: str,
    *,
    now: datetime,
    rng: np.random.Generator,
    stopped: Sequence[str] = (),
) -> SegmentDecision | None:
    """Per-segment weights from the matured training outcomes of each segment (holdout out);
    ``stopped`` arms are left out of the bandit and get 0 in every segment."""
    cells = queries.outcome_cells(
        session, experiment_key=experiment.key, now=now, by_segment=True, by_holdout=True
    )
    segments = sorted({c.segment for c in cells if c.segment is not None and _trains(c)})
    if not segments:
        return None
    arms = tuple(a for a in experiment.arm_keys if a not in stopped)
    paid = np.zeros((len(segments), len(arms)))
    matured = np.zeros((len(segments), len(arms)))
    for c in cells:
        if c.segment is None or not _trains(c) or c.arm in stopped:
            continue
        row, column = segments.index(c.segment), arms.index(c.arm)
        paid[row, column] += c.totals.paid
        matured[row, column] += c.totals.pay_matured
    decision = decide_segment_allocation(
        config=experiment.allocation,
        arm_keys=arms,
        champion=champion,
        segments=segments,
        successes=paid,
        failures=matured - paid,
        rng=rng,
    )
    if not stopped:
        return decision

    def full(table: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
        return {s: {a: float(w.get(a, 0.0)) for a in experiment.arm_keys} for s, w in table.items()}

    return SegmentDecision(full(decision.weights), full(decision.bandit), decision.reason)


def write_update(
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
    cadence = experiment.allocation.update_cadence
    last = next((row.created_at for row in reversed(history) if row.kind == "update"), None)
    if not update_due(cadence, last, now):
        assert last is not None
        info = AllocationInfo.from_row(current)
        return replace(
            info,
            unchanged=f"update cadence {cadence}: already updated at {last:%Y-%m-%d %H:%M} UTC",
        )
    rng = np.random.default_rng(seed)
    stopped = list(current.stopped_arms or [])
    stats = {arm: t.pay_stat for arm, t in training.items() if arm not in stopped}
    reward_draws = (
        _net_value_draws(experiment, training, rng=rng)
        if experiment.objective == "net_value"
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
        stopped=stopped,
    )
    by_segment = None
    if experiment.allocation.per_segment and not decision.burn_in:
        by_segment = _segment_decision(
            session, experiment, current.champion, now=now, rng=rng, stopped=stopped
        )
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
        stopped_arms=stopped,
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
        # Like promote: concurrent writers of one experiment take turns, and each reads the
        # allocation history after the previous one committed (no duplicate version).
        queries.lock_experiment(session, experiment_key=experiment_key)
        experiment, version = load_current(session, experiment_key)
        _, training = arm_totals(session, experiment, now)
        return write_update(
            session,
            experiment,
            version,
            training,
            now=now,
            seed=new_seed() if seed is None else seed,
        )
