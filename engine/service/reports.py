"""Read models for the CLI and the dashboard: KPI report, per-debtor outcomes, listings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from engine.analysis import Analysis, ArmKpis, kpi_rows
from engine.service.allocation import AllocationInfo
from engine.service.analysis import analyze_experiment
from engine.service.common import (
    load_current,
    utc_now,
)
from engine.service.definitions import Definition, describe_definition, pooled_since
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    AllocationVersion,
    Assignment,
    DunningCase,
    ExperimentVersion,
    OutcomeEvent,
)

#: Audit records a report's log shows: those that changed the allocation or the status.
LOGGED_ACTIONS = ("promote", "stop_arm", "rollback", queries.STATUS_ACTION)


@dataclass(frozen=True)
class PromotionRecord:
    id: int
    decided_at: datetime
    action: str
    reason: str
    champion_before: str
    champion_after: str
    allocation_version: int | None
    experiment_version: int
    explanation: str
    numbers: dict[str, Any]


@dataclass(frozen=True)
class ExperimentSummary:
    key: str
    name: str
    version: int
    champion: str
    assigned: int
    allocation_version: int
    updated_at: datetime
    status: str = "running"
    owner: str | None = None
    schedule: str = "0 6 * * *"  # promotion.schedule: when `dunning schedule` runs its cycle


@dataclass(frozen=True)
class ExperimentReport:
    """Everything the dashboard and ``dunning report`` show for one experiment: the KPI rows
    are read off ``analysis`` (the one comparison of :mod:`engine.stats.comparison`)."""

    key: str
    name: str
    description: str
    experiment_version: int
    currency: str
    as_of: datetime
    champion: str
    pay_window_days: int
    churn_horizon_days: int
    kpis: list[ArmKpis]
    allocations: list[AllocationInfo]
    analysis: Analysis
    #: The outcome definition the KPIs are measured on (its label says what is not pooled).
    definition: Definition
    promotions: list[PromotionRecord] = field(default_factory=list)


def experiment_report(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    only_promotions: bool = False,
    written_since: bool = False,
) -> ExperimentReport:
    """Read model of one experiment as of ``now``. Reads only.

    ``only_promotions`` keeps the audit records that changed the allocation or the status
    (promote, stop_arm, rollback, status) and leaves out the daily ``continue`` decisions.
    KPIs count the debtors of the current outcome definition only (``definition``).
    ``written_since`` as in :func:`analyze_experiment`.
    """
    analysis = analyze_experiment(
        engine, experiment_key=experiment_key, now=now, written_since=written_since
    )
    with Session(engine) as session:
        experiment, version = load_current(session, experiment_key)
        history = queries.allocations(session, experiment_key=experiment_key)
        current = history[-1]
        definition = describe_definition(session, experiment_key=experiment_key)
        audits = queries.promotions(
            session,
            experiment_key=experiment_key,
            actions=LOGGED_ACTIONS if only_promotions else None,
        )
        return ExperimentReport(
            key=experiment.key,
            name=experiment.name,
            description=experiment.description,
            experiment_version=version.version,
            currency=experiment.currency,
            as_of=now,
            champion=current.champion,
            pay_window_days=experiment.metrics.pay_window_days,
            churn_horizon_days=experiment.metrics.churn_horizon_days,
            kpis=kpi_rows(analysis, p_best=current.p_best),
            allocations=[AllocationInfo.from_row(row) for row in history],
            analysis=analysis,
            promotions=[
                PromotionRecord(
                    id=row.id or 0,
                    decided_at=row.decided_at,
                    action=row.action,
                    reason=row.reason,
                    champion_before=row.champion_before,
                    champion_after=row.champion_after,
                    allocation_version=row.allocation_version,
                    experiment_version=row.experiment_version,
                    explanation=row.explanation,
                    numbers=dict(row.numbers),
                )
                for row in audits
            ],
            definition=definition,
        )


@dataclass(frozen=True)
class DebtorOutcome:
    """One assignment with its outcomes, treatment cost and CLV, for explaining a decision.

    ``clv`` is the residual CLV of the debtor as the analysis values it: 0 once they churned
    within the horizon, else the arm's CLV per debtor who stays (the CLV per debtor divided by
    the arm's retention within the horizon); NaN while the arm has no matured churn outcome.
    """

    outcome: queries.AssignmentOutcome
    treatment_cost: float
    clv: float


def assignment_outcomes(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    debtor_ids: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[DebtorOutcome]:
    """Per-assignment outcomes as known at ``now``. Reads only."""
    analysis = analyze_experiment(engine, experiment_key=experiment_key, now=now)
    with Session(engine) as session:
        load_current(session, experiment_key)
        rows = queries.assignment_outcomes(
            session, experiment_key=experiment_key, now=now, debtor_ids=debtor_ids, limit=limit
        )
    per_survivor = {}
    for arm in analysis.arms:
        clv, churn = arm.metrics["clv_per_debtor"], arm.metrics["churn"]
        # NaN (no matured churn outcome) propagates; an arm whose debtors all churned keeps 0.
        per_survivor[arm.arm] = 0.0 if churn.estimate >= 1 else clv.estimate / (1 - churn.estimate)
    return [
        DebtorOutcome(
            outcome=row,
            treatment_cost=row.treatment_cost,
            clv=0.0 if row.churned_in_horizon else per_survivor[row.arm],
        )
        for row in rows
    ]


def list_experiments(engine: Engine) -> list[ExperimentSummary]:
    """One line per experiment in the database, newest version of each."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    with Session(engine) as session:
        keys = session.scalars(
            select(ExperimentVersion.experiment_key)  # type: ignore[call-overload]
            .distinct()
            .order_by(ExperimentVersion.experiment_key)
        ).all()
        result = []
        for key in keys:
            experiment, version = load_current(session, key)
            allocation = queries.latest_allocation(session, experiment_key=key)
            # The last cycle's count and those since; with no cycle yet, count them all.
            assigned = queries.assigned_since_snapshot(session, experiment_key=key)
            if assigned is None:
                assigned = session.scalar(select(func.count()).where(a.experiment_key == key)) or 0
            result.append(
                ExperimentSummary(
                    key=key,
                    name=experiment.name,
                    version=version.version,
                    champion=allocation.champion if allocation else experiment.champion,
                    assigned=int(assigned),
                    allocation_version=allocation.version if allocation else 0,
                    updated_at=allocation.created_at if allocation else version.created_at,
                    status=experiment.status,
                    owner=experiment.owner,
                    schedule=experiment.promotion.schedule,
                )
            )
        return result


def latest_activity(engine: Engine, *, experiment_key: str) -> datetime | None:
    """The time of the newest write for an experiment (assignment, dunning case, allocation,
    decision or ingested event), or None if nothing was ever written. A known customer's later
    case adds no assignment: its entry time counts on its own.

    Reports default to ``min(now, latest_activity)``: "as of the latest data". A unit whose
    window closed after the last ingestion has not had its events delivered yet, so treating it
    as mature would count missing payments as non-payments. It also keeps a demo database,
    whose clock was simulated, readable later.
    """
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    al = AllocationVersion.__table__.c  # type: ignore[attr-defined]
    e = OutcomeEvent.__table__.c  # type: ignore[attr-defined]
    c = DunningCase.__table__.c  # type: ignore[attr-defined]
    with Session(engine) as session:
        times = [
            session.scalar(
                select(func.max(a.assigned_at)).where(a.experiment_key == experiment_key)
            ),
            session.scalar(select(func.max(c.opened_at)).where(c.experiment_key == experiment_key)),
            session.scalar(
                select(func.max(al.created_at)).where(al.experiment_key == experiment_key)
            ),
            # The newest event's ingestion time is the latest (ingestions never go back in
            # time: engine.service.clock), found by primary key instead of a scan of them all.
            session.scalar(select(e.ingested_at).order_by(e.id.desc()).limit(1)),
        ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def default_as_of(engine: Engine, *, experiment_key: str) -> datetime:
    """``min(now, latest activity)``; see :func:`latest_activity`."""
    latest = latest_activity(engine, experiment_key=experiment_key)
    now = utc_now()
    return now if latest is None else min(now, latest)


def refresh_snapshot(engine: Engine, *, experiment_key: str, now: datetime) -> None:
    """Take the experiment's cell snapshot as of ``now`` (what every scheduled cycle does at
    its end, :func:`engine.service.promotion.run_cycle`), for a database written to by other
    means, e.g. loaded in bulk. The dashboard reads it while nothing is written after it."""
    with transaction(engine) as session:
        queries.lock_experiment(session, experiment_key=experiment_key)
        load_current(session, experiment_key)
        queries.write_snapshot(
            session,
            experiment_key=experiment_key,
            now=now,
            min_experiment_version=pooled_since(session, experiment_key=experiment_key),
        )
