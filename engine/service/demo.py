"""The demo: simulated days through the real loop (assign -> ingest -> update -> promote).

Nothing is short-cut: debtors go through :func:`engine.service.assign_debtors` under the
allocation in force, the simulator answers with payments, reminders, collection cases and churn
at their own times, and the engine only learns of an event once its day has come. The bandit
and the promotion rule see exactly what they would see in production.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine

from engine.analysis import Analysis
from engine.events import EventBatch, to_datetime64
from engine.loader import LoadedExperiment
from engine.service import (
    ExperimentReport,
    assign_debtors,
    experiment_report,
    ingest_events,
    run_cycle,
    sync_experiment,
)
from engine.simulate import (
    DEFAULT_SCENARIO,
    DebtorBatch,
    Responses,
    Scenario,
    sample_debtors,
    simulate_responses,
    true_churn_rate,
    true_pay_rate,
)
from engine.simulate.configured import scenario_for

#: Daily batch time: the billing system hands over yesterday's overdue invoices each morning.
BATCH_HOUR = 6


@dataclass(frozen=True)
class DayProgress:
    day: int
    days: int
    assigned: int
    events: int
    champion: str
    leader: str


@dataclass(frozen=True)
class DemoResult:
    report: ExperimentReport
    analysis: Analysis
    true_pay_on_time: dict[str, float]
    true_churn: dict[str, float]
    true_best: str
    debtors: int
    events: int
    seconds: float
    ineligible: int = 0  # simulated debtors the eligibility rules kept out


def _cohort_events(batch: DebtorBatch, responses: Responses, assigned_at: datetime) -> EventBatch:
    """The events a cohort will produce, each stamped with the time it happens."""
    start = to_datetime64(assigned_at)
    ids = batch.debtor_id.astype(object)

    def at(days: npt.NDArray[np.float64]) -> npt.NDArray[np.datetime64]:
        return start + np.round(days * 86_400_000_000).astype("timedelta64[us]")

    parts = []
    for kind, mask, delay, amount in (
        ("payment", responses.paid, responses.pay_delay_days, responses.amount_paid),
        # The SMS goes out within the hour; the agency confirms the case the next day.
        ("reminder", responses.reminder_sent, np.full(len(ids), 1 / 24), None),
        ("collection_case", responses.collection_case, np.ones(len(ids)), None),
        ("churn", responses.churned, responses.churn_delay_days, None),
    ):
        chosen = np.flatnonzero(mask)
        parts.append(
            EventBatch(
                event_id=(ids[chosen] + f":{kind}").astype(object),
                debtor_id=ids[chosen],
                kind=np.full(chosen.size, kind, dtype=object),
                amount=np.full(chosen.size, np.nan) if amount is None else amount[chosen],
                occurred_at=at(delay[chosen]),
            )
        )
    return EventBatch.concat(parts)


def default_start(days: int) -> datetime:
    """Midnight UTC ``days`` days ago: the simulated period ends today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def run_demo(
    engine: Engine,
    loaded: LoadedExperiment,
    *,
    days: int = 90,
    debtors_per_day: int = 2_000,
    seed: int = 2026,
    start: datetime,
    scenario: Scenario = DEFAULT_SCENARIO,
    on_day: Callable[[DayProgress], None] | None = None,
) -> DemoResult:
    """Simulate ``days`` days of ``debtors_per_day`` overdue debtors through the engine.

    Each day: assign the morning batch, ingest the events that happened that day, update the
    allocation and evaluate the promotion rule at midnight. Reproducible from ``seed``.
    """
    if days < 1 or debtors_per_day < 1:
        raise ValueError("days and debtors_per_day must be positive")
    experiment = loaded.experiment
    if experiment.status != "running" or experiment.start_date or experiment.end_date:
        # A simulation of the file's design, not of its calendar: live for the whole period.
        experiment = experiment.model_copy(
            update={"status": "running", "start_date": None, "end_date": None}
        )
        loaded = dataclasses.replace(loaded, experiment=experiment)
    # Every arm responds as the calibrated arm its configuration resembles (an SMS with a 10%
    # discount, an agency, ...); router arms give other arms' treatments, so debtors respond to
    # the treatment they get.
    scenario = scenario_for(experiment, scenario)
    plain = [arm for arm in experiment.arm_keys if arm not in experiment.routers]
    rng = np.random.default_rng(seed)
    clock = time.perf_counter()
    sync_experiment(engine, loaded, now=start)
    pending = EventBatch.empty()  # events simulated but not yet happened
    total_events = 0
    ineligible = 0
    for day in range(days):
        assigned_at = start + timedelta(days=day, hours=BATCH_HOUR)
        midnight = start + timedelta(days=day + 1)
        batch = sample_debtors(
            debtors_per_day, rng=rng, start_index=day * debtors_per_day, scenario=scenario
        )
        result = assign_debtors(
            engine,
            experiment_key=experiment.key,
            debtor_ids=batch.debtor_id,
            segments=batch.debtor_type,
            amounts_owed=batch.amount_owed,
            now=assigned_at,
        )
        # Ineligible debtors (the experiment's eligibility rules) are not treated by it.
        eligible = result.eligible
        ineligible += result.ineligible_count
        batch = DebtorBatch(
            batch.debtor_id[eligible], batch.debtor_type[eligible], batch.amount_owed[eligible]
        )
        responses = simulate_responses(
            batch,
            result.treatment[eligible].astype(str),
            rng=rng,
            scenario=scenario,
            churn_horizon_days=experiment.metrics.churn_horizon_days,
        )
        pending = EventBatch.concat([pending, _cohort_events(batch, responses, assigned_at)])
        due = pending.occurred_at < to_datetime64(midnight)
        todays = pending.take(due)
        pending = pending.take(~due)
        ingest_events(engine, todays, now=midnight)
        total_events += len(todays)
        cycle = run_cycle(
            engine,
            experiment_key=experiment.key,
            now=midnight,
            update_seed=int(rng.integers(2**62)),
        )
        if on_day is not None:
            weights = cycle.allocation.weights
            leader = max(weights, key=lambda arm: weights[arm])
            decision = cycle.promotion.decision
            champion = decision.new_champion or decision.champion
            on_day(DayProgress(day + 1, days, result.new_count, len(todays), champion, leader))

    end = start + timedelta(days=days)
    report = experiment_report(engine, experiment_key=experiment.key, now=end)
    analysis = report.analysis
    window = experiment.metrics.pay_window_days
    horizon = experiment.metrics.churn_horizon_days
    truth = {arm: true_pay_rate(arm, window_days=window, scenario=scenario) for arm in plain}
    churn = {arm: true_churn_rate(arm, horizon_days=horizon, scenario=scenario) for arm in plain}
    return DemoResult(
        report=report,
        analysis=analysis,
        true_pay_on_time=truth,
        true_churn=churn,
        true_best=max(truth, key=lambda arm: truth[arm]),
        debtors=days * debtors_per_day,
        events=total_events,
        seconds=time.perf_counter() - clock,
        ineligible=ineligible,
    )
