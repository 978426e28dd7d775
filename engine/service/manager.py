"""The manager's read models: the scorecard, guardrails, money and alarms of an experiment,
composed from the report (the one analysis) and the stored decisions. Reads only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from engine.analysis.guardrails import GuardrailRow, guardrail_rows
from engine.analysis.money import ArmMoney, SwitchImpact, arm_money, switch_impact
from engine.analysis.reasons import Decided
from engine.analysis.scorecard import Scorecard, build_scorecard, leading_arm
from engine.config import Experiment
from engine.plural import counted
from engine.promotion import SRM_THRESHOLD
from engine.service.common import load_current, utc_now
from engine.service.reading import missed_cycle
from engine.service.reports import (
    ExperimentReport,
    PromotionRecord,
    experiment_report,
    latest_activity,
)
from engine.service.strata import pooled_snapshot
from engine.store import queries
from engine.store.queries import DailyTraffic

#: Days of traffic "today's traffic" averages over.
TRAFFIC_DAYS = 7
#: No new assignment or event for this many days: the data are stale.
STALE_DAYS = 3
#: Days until each guardrail's outcome is known: its window.
_RULE_ACTIONS = ("promote", "continue", "stop_arm", "inconclusive", "rollback", "status")


@dataclass(frozen=True)
class ManagerView:
    """Everything the manager's pages show for one experiment."""

    report: ExperimentReport
    status: str
    scorecard: Scorecard
    guardrails: list[GuardrailRow]
    money: list[ArmMoney]
    switch: SwitchImpact | None
    per_day: dict[str, float]  # new debtors per day and arm, today's traffic
    traffic: list[DailyTraffic]
    alarms: list[str] = field(default_factory=list)
    latest_activity: datetime | None = None
    leading: str | None = None  # best live arm on the primary metric so far


def decided(records: Sequence[PromotionRecord]) -> list[Decided]:
    """The stored decisions as the scorecard reads them, oldest first."""
    return [
        Decided(p.decided_at, p.action, p.numbers, p.explanation)
        for p in records
        if p.action in _RULE_ACTIONS
    ]


def todays_traffic(traffic: Sequence[DailyTraffic], *, now: datetime) -> dict[str, float]:
    """New debtors per day and arm: the mean over the last :data:`TRAFFIC_DAYS` days with
    assignments up to ``now`` (a day without any is a pause, not zero traffic)."""
    days = sorted({row.day for row in traffic if row.day <= now.date()})[-TRAFFIC_DAYS:]
    if not days:
        return {}
    totals: dict[str, float] = {}
    for row in traffic:
        if row.day >= days[0] and row.day <= days[-1]:
            totals[row.arm] = totals.get(row.arm, 0.0) + row.assigned
    return {arm: n / len(days) for arm, n in totals.items()}


def _windows(experiment: Experiment) -> dict[str, int]:
    metrics = experiment.metrics
    return {
        "churn": metrics.churn_horizon_days,
        "collection_cases": metrics.pay_window_days,
        "reminders": metrics.pay_window_days,
        "late_again": metrics.late_again_days,
    }


def alarms(
    view_report: ExperimentReport,
    rows: Sequence[GuardrailRow],
    *,
    stopped: Sequence[str],
    activity: datetime | None,
    now: datetime,
    missed: datetime | None = None,
) -> list[str]:
    """Plain-language alarms: sample-ratio mismatch, breached guardrail, stopped arm, stale
    data (no new assignment or event for :data:`STALE_DAYS` days), a missed scheduled cycle
    (``missed``: the time since which none ran, :func:`engine.service.reading.missed_cycle`)."""
    labels = {k.arm: k.label for k in view_report.kpis}
    found = []
    srm = view_report.analysis.srm
    if srm.flagged:
        found.append(
            f"Sample-ratio mismatch (p = {srm.p_value:.2g} < {SRM_THRESHOLD:g}): the debtors "
            "assigned per arm do not match the traffic split."
        )
    for row in rows:
        if row.status == "breached":
            found.append(f"Guardrail breached: {row.metric.replace('_', ' ')} of {row.label}.")
    for arm in stopped:
        found.append(f"Arm stopped: {labels.get(arm, arm)} gets no traffic.")
    if activity is None:
        found.append("No data yet: nothing was assigned or ingested.")
    elif now - activity > timedelta(days=STALE_DAYS):
        found.append(
            f"Stale data: no new assignment or event since {activity:%Y-%m-%d} "
            f"({counted((now - activity).days, 'day')})."
        )
    if missed is not None:
        found.append(
            f"No scheduled cycle since {missed:%Y-%m-%d %H:%M} UTC: the figures, the traffic "
            "split and the decisions wait for it (`dunning schedule` or cron)."
        )
    return found


def manager_view(
    engine: Engine,
    *,
    experiment_key: str,
    now: datetime,
    report: ExperimentReport | None = None,
    clock: datetime | None = None,
    written_since: bool = False,
) -> ManagerView:
    """The manager's read model of one experiment as of ``now``. Reads only.

    ``report``: the experiment's report as of ``now`` if the caller has it (the demo), with
    every decision (not only the promotions); else it is read. ``clock`` (default: the wall
    clock) judges stale data: ``now`` is usually the latest data itself. ``written_since``:
    the figures and the traffic from the last scheduled cycle's snapshot taken as of ``now``
    even with writes after it (:func:`engine.service.analysis.analyze_experiment`).
    """
    if report is None:
        report = experiment_report(
            engine, experiment_key=experiment_key, now=now, written_since=written_since
        )
    with Session(engine) as session:
        experiment, _ = load_current(session, experiment_key)
        _, snapshot = pooled_snapshot(
            session, experiment_key=experiment_key, now=now, written_since=written_since
        )
        traffic = (
            queries.daily_traffic(session, experiment_key=experiment_key, now=now)
            if snapshot is None
            else snapshot.traffic  # the cycle's, while nothing was written since
        )
        last_cycle = queries.snapshot_time(session, experiment_key=experiment_key)
    activity = latest_activity(engine, experiment_key=experiment_key)
    clock = clock or utc_now()
    # Only a running experiment has cycles to miss (draft and paused skip them).
    missed = (
        missed_cycle(
            last=last_cycle,
            started=report.allocations[0].created_at,
            schedule=experiment.promotion.schedule,
            clock=clock,
        )
        if experiment.status == "running" and report.allocations
        else None
    )
    analysis = report.analysis
    stopped = report.allocations[-1].stopped_arms if report.allocations else ()
    per_day = todays_traffic(traffic, now=now)
    decisions = decided(report.promotions)
    scorecard = build_scorecard(
        analysis,
        rule=experiment.promotion,
        decisions=decisions,
        stopped=stopped,
        per_day=per_day,
        status=experiment.status,
    )
    latest = next((d for d in reversed(decisions) if d.action not in ("status", "rollback")), None)
    first_due = {
        "churn": analysis.first_churn_due,
        "collection_cases": analysis.first_pay_due,
        "reminders": analysis.first_pay_due,
        "late_again": analysis.first_late_again_due,
    }
    rows = guardrail_rows(
        numbers=None if latest is None else latest.numbers,
        metrics=[g.metric for g in experiment.metrics.guardrails],
        arms=[(a.arm, a.label) for a in analysis.arms],
        champion=report.champion,
        stopped=stopped,
        as_of=now,
        windows=_windows(experiment),
        first_due=first_due,
    )
    target = scorecard.challenger
    switch = (
        None
        if target is None or target == report.champion
        else switch_impact(analysis, arm=target, debtors_per_day=sum(per_day.values()))
    )
    return ManagerView(
        report=report,
        status=experiment.status,
        scorecard=scorecard,
        guardrails=rows,
        money=arm_money(analysis, discounts={a.key: a.discount for a in experiment.arms}),
        switch=switch,
        per_day=per_day,
        traffic=traffic,
        alarms=alarms(report, rows, stopped=stopped, activity=activity, now=clock, missed=missed),
        latest_activity=activity,
        leading=leading_arm(analysis, stopped=stopped),
    )
