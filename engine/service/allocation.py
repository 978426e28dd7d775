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
from engine.policy.rewards import late_again_draws, net_value_draws
from engine.service.clock import ensure_forward
from engine.service.common import (
    ServiceError,
    ensure_running,
    load_current,
    new_seed,
)
from engine.service.definitions import pooled_since
from engine.stats.binomial import BinomialStat
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
    session: Session, experiment: Experiment, now: datetime, *, since: int | None = None
) -> tuple[dict[str, ArmTotals], dict[str, ArmTotals]]:
    """Outcome sums per arm: over all debtors, and over the bandit's training debtors
    (:func:`_trains`). ``since`` keeps the debtors of that experiment version on (the current
    definition, see :func:`engine.service.definitions.pooled_since`).
    """
    cells = queries.outcome_cells(
        session,
        experiment_key=experiment.key,
        now=now,
        by_holdout=True,
        min_experiment_version=since,
    )
    window = experiment.late_again_window
    if window is not None:  # repeat cases: their sums too (late_again reward)
        cells += queries.case_cells(
            session,
            experiment_key=experiment.key,
            now=now,
            late_again_days=window,
            by_holdout=True,
            min_experiment_version=since,
        )
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


def _late_again_draws(
    experiment: Experiment, totals: dict[str, ArmTotals], *, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Posterior draws (draws, k) of each arm's reward for ``objective: late_again``: minus its
    late-again share per matured case, customers the unit
    (:func:`engine.policy.rewards.late_again_draws`)."""
    t = [totals[a] for a in experiment.arm_keys]
    return late_again_draws(
        customers=[x.late_customers for x in t],
        cases=[x.late_cases for x in t],
        cases_sq=[x.late_cases_sq for x in t],
        late=[x.late_again for x in t],
        late_sq=[x.late_again_sq for x in t],
        cross=[x.late_cross for x in t],
        rng=rng,
        draws=experiment.allocation.draws,
    )


def _reward_draws(
    experiment: Experiment, totals: dict[str, ArmTotals], *, rng: np.random.Generator
) -> npt.NDArray[np.float64] | None:
    """The bandit's reward draws for the experiment's objective; None: pay on time (the
    conjugate Beta posteriors of the policy)."""
    if experiment.objective == "net_value":
        return _net_value_draws(experiment, totals, rng=rng)
    if experiment.objective == "late_again":
        return _late_again_draws(experiment, totals, rng=rng)
    return None


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
    since: int | None = None,
) -> SegmentDecision | None:
    """Per-segment weights from the matured training outcomes of each segment (holdout out,
    debtors of the current definition only); ``stopped`` arms are left out of the bandit and
    get 0 in every segment."""
    cells = queries.outcome_cells(
        session,
        experiment_key=experiment.key,
        now=now,
        by_segment=True,
        by_holdout=True,
        min_experiment_version=since,
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


def _held_for_new_definition(
    experiment: Experiment, stats: Mapping[str, BinomialStat], since: int
) -> str | None:
    """Why the split in force stands after a forced change of the outcome definition, or
    None once the new definition has the evidence the experiment asks for.

    Starting afresh from a few matured debtors would let an arm with a lucky handful take the
    traffic from the arm the bandit found best (or, under a burn-in, fall back to the
    starting split). The split in force stands until every active arm has
    ``promotion.min_units_per_arm`` matured debtors measured on the new definition (the
    evidence the experiment requires to compare two arms) and at least ``burn_in_units`` have
    matured in all.
    """
    needed = experiment.promotion.min_units_per_arm
    least = min((s.n for s in stats.values()), default=0)
    total = sum(s.n for s in stats.values())
    if least >= needed and total >= experiment.allocation.burn_in_units:
        return None
    return (
        f"the outcome definition changed in experiment version {since}: the split in force "
        f"stands until every arm has {needed:,} matured debtors measured on it "
        f"(promotion.min_units_per_arm; fewest so far: {least:,})"
        + (
            f" and {experiment.allocation.burn_in_units:,} in all ({total:,} so far)"
            if experiment.allocation.burn_in_units > total
            else ""
        )
    )


def write_update(
    session: Session,
    experiment: Experiment,
    version: ExperimentVersion,
    training: dict[str, ArmTotals],
    *,
    now: datetime,
    seed: int,
    since: int | None = None,
) -> AllocationInfo:
    """A bandit update from the ``training`` totals (of experiment version ``since`` on, when
    the definition changed), unless the cadence's period already has one or no debtor of the
    current definition has matured yet (then the split in force stands)."""
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
    if since is not None:
        held = _held_for_new_definition(experiment, stats, since)
        if held is not None:
            return replace(AllocationInfo.from_row(current), unchanged=held)
    reward_draws = _reward_draws(experiment, training, rng=rng)
    decision = decide_allocation(
        config=experiment.allocation,
        arm_keys=experiment.arm_keys,
        champion=current.champion,
        stats=stats,
        configured_weights=experiment.initial_weights(),
        rng=rng,
        # Never negative, even for a clock set before the experiment began.
        days_elapsed=max(0.0, (now - history[0].created_at).total_seconds() / 86_400),
        reward_draws=reward_draws,
        stopped=stopped,
        reward_name=experiment.objective,
    )
    by_segment = None
    if experiment.allocation.per_segment and not decision.burn_in:
        by_segment = _segment_decision(
            session, experiment, current.champion, now=now, rng=rng, stopped=stopped, since=since
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
        reason=decision.reason
        + ("" if by_segment is None else f"; {by_segment.reason}")
        + ("" if since is None else f"; debtors of experiment version {since} on only"),
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
    weights can be recomputed exactly from the database. Only debtors of the current outcome
    definition train the bandit (see :mod:`engine.versioning.epochs`).

    Raises
    ------
    ServiceError
        If the experiment is not running (paused, stopped or a draft: its split is frozen), or
        ``now`` precedes the experiment's latest stored fact.
    """
    with transaction(engine) as session:
        # Like promote: concurrent writers of one experiment take turns, and each reads the
        # allocation history after the previous one committed (no duplicate version).
        queries.lock_experiment(session, experiment_key=experiment_key)
        experiment, version = load_current(session, experiment_key)
        ensure_running(experiment, "update its allocation")
        ensure_forward(session, experiment_key=experiment_key, now=now)
        since = pooled_since(session, experiment_key=experiment_key)
        _, training = arm_totals(session, experiment, now, since=since)
        return write_update(
            session,
            experiment,
            version,
            training,
            now=now,
            seed=new_seed() if seed is None else seed,
            since=since,
        )
