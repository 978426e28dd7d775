"""The promotion rule and the scheduled cycle (update, then promotion).

Every decision is one transaction: the experiment's lock is taken first (see
:func:`engine.store.queries.lock_experiment`), then "was today already decided?" is checked
again inside the lock, then the allocation version (on promote or stop_arm) and the audit
record are written together. Two concurrent runs therefore produce one decision, a second run
the same UTC day changes nothing, and a crash leaves neither the allocation nor the record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from engine.config import Experiment
from engine.policy import drop_arms, rebase_on_champion
from engine.promotion import PromotionDecision, decide_promotion
from engine.service.allocation import AllocationInfo, training_totals, write_update
from engine.service.clock import ensure_forward
from engine.service.common import ensure_running, load_current, new_seed
from engine.service.definitions import pooled_since
from engine.service.evidence import promotion_evidence
from engine.service.policy import router_ess_shares
from engine.service.strata import stratum_cells
from engine.store import queries
from engine.store.db import transaction
from engine.store.queries import OutcomeCell
from engine.store.tables import AllocationVersion, ExperimentVersion, PromotionAudit


@dataclass(frozen=True)
class PromotionResult:
    """One decision as stored (or, for a dry run, as it would be).

    ``repeated`` is True when the experiment had already been decided on this UTC day: the
    earlier decision is returned and nothing is written.
    """

    experiment_key: str
    experiment_version: int
    decided_at: datetime
    decision: PromotionDecision
    audit_id: int | None
    allocation_version: int | None
    dry_run: bool
    repeated: bool = False

    def payload(self) -> dict[str, Any]:
        """The decision as JSON-able data: the webhook body and the ``--json`` line."""
        d = self.decision
        return {
            "experiment": self.experiment_key,
            "experiment_version": self.experiment_version,
            "decided_at": self.decided_at.isoformat(),
            "action": d.action,
            "reason": d.reason,
            "champion_before": d.champion,
            "champion_after": d.new_champion or d.champion,
            "challenger": d.challenger,
            "stopped_arms": list(d.stopped_arms),
            "allocation_version": self.allocation_version,
            "audit_id": self.audit_id,
            "dry_run": self.dry_run,
            "repeated": self.repeated,
            "explanation": d.explanation,
            "numbers": d.numbers(),
        }


def _champion_since(history: Sequence[AllocationVersion]) -> datetime:
    """When the current champion took the title: walk back until the champion differs."""
    since = history[-1].created_at
    for row in reversed(history):
        if row.champion != history[-1].champion:
            break
        since = row.created_at
    return since


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _earlier_today(session: Session, key: str, now: datetime) -> PromotionResult | None:
    """The decision already stored for ``key`` on the UTC day of ``now``, if any."""
    start, end = _day_bounds(now)
    rows = queries.decisions_on(session, experiment_key=key, start=start, end=end)
    if not rows:
        return None
    row = rows[-1]
    return PromotionResult(
        experiment_key=key,
        experiment_version=row.experiment_version,
        decided_at=row.decided_at,
        decision=PromotionDecision.from_numbers(row.numbers),
        audit_id=row.id,
        allocation_version=row.allocation_version,
        dry_run=False,
        repeated=True,
    )


def _new_allocation(
    experiment: Experiment,
    version: ExperimentVersion,
    current: AllocationVersion,
    decision: PromotionDecision,
    *,
    now: datetime,
    matured_units: int,
) -> AllocationVersion:
    """The allocation a promote or stop_arm decision puts in force."""
    champion = decision.new_champion or current.champion
    stopped = sorted(set(current.stopped_arms or []) | set(decision.stopped_arms))

    def rebase(split: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        # The holdout and the champion floor follow the (new) champion; a stopped arm's share
        # goes to the others in proportion, and the bandit keeps it at 0 afterwards.
        return rebase_on_champion(
            config=experiment.allocation,
            arm_keys=experiment.arm_keys,
            champion=champion,
            bandit=drop_arms(split, stopped),
        )

    overall, bandit = rebase(dict(current.bandit_weights or current.weights))
    segments = {s: rebase(w) for s, w in current.segment_bandit_weights.items()}
    kind = "promotion" if decision.action == "promote" else "stop_arm"
    return AllocationVersion(
        experiment_key=experiment.key,
        version=current.version + 1,
        experiment_version=version.version,
        kind=kind,
        champion=champion,
        weights=overall,
        p_best=dict(current.p_best),
        bandit_weights=bandit,
        holdout_share=current.holdout_share,
        segment_weights={s: w[0] for s, w in segments.items()},
        segment_bandit_weights={s: w[1] for s, w in segments.items()},
        stopped_arms=stopped,
        seed=None,
        matured_units=matured_units,
        reason=f"{kind}: {decision.explanation}",
        created_at=now,
    )


def _decide_and_write(
    session: Session,
    experiment: Experiment,
    version: ExperimentVersion,
    *,
    now: datetime,
    dry_run: bool,
    ess_share: Mapping[str, float] | None,
    cells: Sequence[OutcomeCell] | None = None,
) -> PromotionResult:
    history = queries.allocations(session, experiment_key=experiment.key)
    current = history[-1]
    if ess_share is None and experiment.routers and experiment.promotion.min_ess_share:
        # A policy challenger is judged on an off-policy estimate: gate it on its ESS.
        ess_share = router_ess_shares(session, experiment, now=now)
    evidence = promotion_evidence(
        session,
        experiment,
        history,
        now=now,
        # Never negative, even for a clock set before the champion took the title.
        days_as_champion=max(0.0, (now - _champion_since(history)).total_seconds() / 86_400),
        ess_share=ess_share,
        cells=cells,
    )
    decision = decide_promotion(
        rule=experiment.promotion,
        guardrails=experiment.metrics.guardrails,
        arm_keys=experiment.arm_keys,
        champion=current.champion,
        evidence=evidence,
    )

    def result(audit_id: int | None, allocation: int | None) -> PromotionResult:
        return PromotionResult(
            experiment.key, version.version, now, decision, audit_id, allocation, dry_run
        )

    if dry_run:
        return result(None, None)
    new_version: int | None = None
    if decision.action in ("promote", "stop_arm"):
        row = _new_allocation(
            experiment,
            version,
            current,
            decision,
            now=now,
            matured_units=int(evidence.primary.units().sum()),
        )
        session.add(row)
        new_version = row.version
    audit = PromotionAudit(
        experiment_key=experiment.key,
        experiment_version=version.version,
        decided_at=now,
        action=decision.action,
        reason=decision.reason,
        champion_before=current.champion,
        champion_after=decision.new_champion or current.champion,
        allocation_version=new_version,
        seed=None,
        dry_run=False,
        rule={
            "promotion": experiment.promotion.model_dump(mode="json"),
            "guardrails": [g.model_dump(mode="json") for g in experiment.metrics.guardrails],
        },
        numbers=decision.numbers(),
        explanation=decision.explanation,
    )
    session.add(audit)
    session.flush()
    return result(audit.id, new_version)


def evaluate_promotion(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    dry_run: bool = False,
    ess_share: Mapping[str, float] | None = None,
) -> PromotionResult:
    """Apply the promotion rule once (see :mod:`engine.promotion`).

    ``promote`` switches the champion and ``stop_arm`` takes an arm's traffic away, each
    through a new allocation version; every decision leaves an audit record, in the same
    transaction. A dry run reads and decides but writes nothing. ``ess_share`` gives, for
    policy challengers, the effective sample size of their off-policy estimate as a share of
    the log (gated by ``promotion.min_ess_share``). Only debtors of the current outcome
    definition count (see :mod:`engine.versioning.epochs`).

    Raises
    ------
    ServiceError
        If the experiment is not running (a dry run may still evaluate it), or ``now``
        precedes its latest stored fact (a dry run rehearses the write, so it is refused too).
    """
    with transaction(engine) as session:
        if not dry_run:
            queries.lock_experiment(session, experiment_key=experiment_key)
        experiment, version = load_current(session, experiment_key)
        if not dry_run:
            ensure_running(experiment, "evaluate promotions")
        ensure_forward(session, experiment_key=experiment_key, now=now)
        if not dry_run:
            earlier = _earlier_today(session, experiment_key, now)
            if earlier is not None:
                return earlier
        history = queries.allocations(session, experiment_key=experiment_key)
        cells = stratum_cells(
            session,
            experiment_key=experiment_key,
            history=history,
            now=now,
            min_experiment_version=pooled_since(session, experiment_key=experiment_key),
            cases=experiment.late_again_window,
        )
        return _decide_and_write(
            session,
            experiment,
            version,
            now=now,
            dry_run=dry_run,
            ess_share=ess_share,
            cells=cells,
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
    ess_share: Mapping[str, float] | None = None,
) -> CycleResult:
    """The scheduled job for one experiment: update the allocation, then evaluate promotion,
    in one transaction.

    Each step runs once per UTC day, judged on its own kind: a bandit update already written
    that day (by an earlier cycle or ``dunning update``) is not repeated, and a decision
    already taken (by an earlier cycle or a manual ``dunning promote``) is returned instead of
    a new one. A second cycle on the same day therefore changes nothing, and a manual promote
    in the morning does not cost the day its bandit update.
    """
    with transaction(engine) as session:
        queries.lock_experiment(session, experiment_key=experiment_key)
        experiment, version = load_current(session, experiment_key)
        ensure_running(experiment, "run its cycle")
        ensure_forward(session, experiment_key=experiment_key, now=now)
        history = queries.allocations(session, experiment_key=experiment_key)
        updated = _updated_today(history, now)
        earlier = _earlier_today(session, experiment_key, now)
        if updated is not None and earlier is not None:
            return CycleResult(updated, earlier)
        # One read of the outcome cells serves the update (pooled, holdout excluded) and the
        # promotion rule (per allocation period); the new allocation has no debtors yet. Both
        # read only the debtors of the current outcome definition.
        since = pooled_since(session, experiment_key=experiment_key)
        cells = stratum_cells(
            session,
            experiment_key=experiment_key,
            history=history,
            now=now,
            min_experiment_version=since,
            cases=experiment.late_again_window,
        )
        allocation = updated or write_update(
            session,
            experiment,
            version,
            training_totals(experiment, cells),
            now=now,
            seed=new_seed() if update_seed is None else update_seed,
            since=since,
        )
        promotion = earlier or _decide_and_write(
            session,
            experiment,
            version,
            now=now,
            dry_run=False,
            ess_share=ess_share,
            cells=cells,
        )
        # The dashboard's read model of the day, as of this cycle (engine.store.queries.
        # snapshots): it reads it until the next write instead of scanning every assignment.
        queries.write_snapshot(
            session, experiment_key=experiment_key, now=now, min_experiment_version=since
        )
        return CycleResult(allocation, promotion)


def _updated_today(history: Sequence[AllocationVersion], now: datetime) -> AllocationInfo | None:
    """The allocation in force, marked unchanged, if a bandit update was written on the UTC
    day of ``now``; else None."""
    start, end = _day_bounds(now)
    last = next((row for row in reversed(history) if row.kind == "update"), None)
    if last is None or not start <= last.created_at < end:
        return None
    note = f"already updated today at {last.created_at:%H:%M} UTC"
    return replace(AllocationInfo.from_row(history[-1]), unchanged=note)
