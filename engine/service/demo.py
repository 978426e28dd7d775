"""The demo: simulated days through the real loop (assign -> ingest -> update -> promote).

Nothing is short-cut: debtors go through :func:`engine.service.assign_debtors` under the
allocation in force, the simulator answers with payments, reminders, collection cases and churn
at their own times, and the engine only learns of an event once its day has come. The bandit
and the promotion rule see exactly what they would see in production.

An experiment with ``unit: {customer, case}`` also sees repeat cases: the simulator bills each
treated customer monthly (:class:`engine.simulate.Biller`), and an overdue invoice of a known
customer is a new case in the morning's batch, with its invoice id; its events carry the case
id. An experiment without a case id runs exactly as before (the same draws, one case each).
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
    AssignResult,
    CycleResult,
    ExperimentReport,
    assign_debtors,
    experiment_report,
    ingest_events,
    run_cycle,
    sync_experiment,
)
from engine.simulate import (
    DEFAULT_SCENARIO,
    Biller,
    CaseBatch,
    DebtorBatch,
    Responses,
    Scenario,
    first_cases,
    sample_debtors,
    simulate_responses,
    true_case_late_again_rate,
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
    #: With ``unit.case``: cases treated (first and repeat), customers by their number of cases
    #: (1, 2, 3 = three or more) and per arm the true share of matured cases late again, the
    #: estimand of the analysis' late-again rate (case-weighted); else 0 and empty.
    cases: int = 0
    customers_by_cases: dict[int, int] = dataclasses.field(default_factory=dict)
    true_late_again: dict[str, float] = dataclasses.field(default_factory=dict)


def _cohort_events(
    batch: DebtorBatch,
    responses: Responses,
    assigned_at: datetime,
    cases: CaseBatch | None = None,
) -> EventBatch:
    """The events a cohort will produce, each stamped with the time it happens.

    With ``cases``, the rows are cases: an event's id and its ``case_id`` name the case, and
    only a customer's first case draws the customer's churn (which names no case: it ends the
    subscription, not an invoice).
    """
    start = to_datetime64(assigned_at)
    ids = batch.debtor_id.astype(object)
    keys = ids if cases is None else cases.case_id.astype(object)
    churned = responses.churned if cases is None else responses.churned & (cases.customer < 0)

    def at(days: npt.NDArray[np.float64]) -> npt.NDArray[np.datetime64]:
        return start + np.round(days * 86_400_000_000).astype("timedelta64[us]")

    parts = []
    for kind, mask, delay, amount in (
        ("payment", responses.paid, responses.pay_delay_days, responses.amount_paid),
        # The SMS goes out within the hour; the agency confirms the case the next day.
        ("reminder", responses.reminder_sent, np.full(len(ids), 1 / 24), None),
        ("collection_case", responses.collection_case, np.ones(len(ids)), None),
        ("churn", churned, responses.churn_delay_days, None),
    ):
        chosen = np.flatnonzero(mask)
        case_id = None
        if cases is not None:
            case_id = np.full(chosen.size, None, dtype=object)
            if kind != "churn":
                case_id = keys[chosen]
        parts.append(
            EventBatch(
                event_id=(keys[chosen] + f":{kind}").astype(object),
                debtor_id=ids[chosen],
                kind=np.full(chosen.size, kind, dtype=object),
                amount=np.full(chosen.size, np.nan) if amount is None else amount[chosen],
                occurred_at=at(delay[chosen]),
                case_id=case_id,
            )
        )
    return EventBatch.concat(parts)


def default_start(days: int) -> datetime:
    """Midnight UTC ``days`` days ago: the simulated period ends today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


class DemoLoop:
    """The simulated days, one at a time: what :func:`run_demo` runs, and what a test steps
    through to edit the experiment in between (e.g. a forced change of the pay window).

    Each :meth:`day` assigns the morning batch under the allocation in force, ingests the
    events that happened that day and runs the scheduled cycle at midnight. Reproducible from
    the seed.
    """

    def __init__(
        self,
        engine: Engine,
        loaded: LoadedExperiment,
        *,
        debtors_per_day: int,
        seed: int,
        start: datetime,
        scenario: Scenario = DEFAULT_SCENARIO,
    ) -> None:
        if debtors_per_day < 1:
            raise ValueError("debtors_per_day must be positive")
        experiment = loaded.experiment
        if experiment.status != "running" or experiment.start_date or experiment.end_date:
            # A simulation of the file's design, not of its calendar: live for the whole period.
            experiment = experiment.model_copy(
                update={"status": "running", "start_date": None, "end_date": None}
            )
            loaded = dataclasses.replace(loaded, experiment=experiment)
        self.engine = engine
        self.experiment = experiment
        # Every arm responds as the calibrated arm its configuration resembles (an SMS with a
        # 10% discount, an agency, ...); router arms give other arms' treatments, so debtors
        # respond to the treatment they get.
        self.scenario = scenario_for(experiment, scenario)
        self.debtors_per_day = debtors_per_day
        self.start = start
        self.rng = np.random.default_rng(seed)
        self.pending = EventBatch.empty()  # events simulated but not yet happened
        self.days = 0
        self.events = 0
        self.ineligible = 0
        self.cases = 0
        # Repeat cases only for an experiment whose debtor file names the case.
        self.biller = Biller(self.scenario) if experiment.case_column is not None else None
        sync_experiment(engine, loaded, now=start)

    def day(self) -> tuple[AssignResult, int, CycleResult]:
        """Simulate the next day; returns its assignments, events ingested and cycle."""
        experiment, scenario, day = self.experiment, self.scenario, self.days
        assigned_at = self.start + timedelta(days=day, hours=BATCH_HOUR)
        midnight = self.start + timedelta(days=day + 1)
        batch = sample_debtors(
            self.debtors_per_day,
            rng=self.rng,
            start_index=day * self.debtors_per_day,
            scenario=scenario,
        )
        if self.biller is None:
            result, batch, responses, cases = self._assign_debtors(batch, assigned_at)
        else:
            result, batch, responses, cases = self._assign_cases(batch, day, assigned_at)
        cohort = _cohort_events(batch, responses, assigned_at, cases)
        pending = EventBatch.concat([self.pending, cohort])
        due = pending.occurred_at < to_datetime64(midnight)
        todays = pending.take(due)
        self.pending = pending.take(~due)
        ingest_events(self.engine, todays, now=midnight)
        self.events += len(todays)
        cycle = run_cycle(
            self.engine,
            experiment_key=experiment.key,
            now=midnight,
            update_seed=int(self.rng.integers(2**62)),
        )
        self.days += 1
        return result, len(todays), cycle

    def _assign_debtors(
        self, batch: DebtorBatch, assigned_at: datetime
    ) -> tuple[AssignResult, DebtorBatch, Responses, None]:
        """One case per debtor: assign the morning's debtors, draw the eligible ones' answers."""
        result = assign_debtors(
            self.engine,
            experiment_key=self.experiment.key,
            debtor_ids=batch.debtor_id,
            segments=batch.debtor_type,
            amounts_owed=batch.amount_owed,
            now=assigned_at,
        )
        # Ineligible debtors (the experiment's eligibility rules) are not treated by it.
        eligible = result.eligible
        self.ineligible += result.ineligible_count
        batch = DebtorBatch(
            batch.debtor_id[eligible], batch.debtor_type[eligible], batch.amount_owed[eligible]
        )
        responses = simulate_responses(
            batch,
            result.treatment[eligible].astype(str),
            rng=self.rng,
            scenario=self.scenario,
            churn_horizon_days=self.experiment.metrics.churn_horizon_days,
        )
        return result, batch, responses, None

    def _assign_cases(
        self, batch: DebtorBatch, day: int, assigned_at: datetime
    ) -> tuple[AssignResult, DebtorBatch, Responses, CaseBatch]:
        """New customers' first cases and known customers' overdue invoices, one batch: the
        engine gives a known customer their stored arm, and the simulator answers to the
        treatment each case got."""
        assert self.biller is not None
        cases = CaseBatch.concat(first_cases(batch), self.biller.overdue(day, rng=self.rng))
        result = assign_debtors(
            self.engine,
            experiment_key=self.experiment.key,
            debtor_ids=cases.debtors.debtor_id,
            case_ids=cases.case_id,
            segments=cases.debtors.debtor_type,
            amounts_owed=cases.debtors.amount_owed,
            now=assigned_at,
        )
        eligible = result.eligible
        self.ineligible += int((~eligible & (cases.customer < 0)).sum())
        cases = cases.take(eligible)
        treatment = result.treatment[eligible].astype(str)
        responses = simulate_responses(
            cases.debtors,
            treatment,
            rng=self.rng,
            scenario=self.scenario,
            churn_horizon_days=self.experiment.metrics.churn_horizon_days,
        )
        self.biller.record(cases, treatment, responses, day=day)
        self.cases += len(cases)
        return result, cases.debtors, responses, cases

    def true_late_again(self, arms: list[str]) -> dict[str, float]:
        """Per arm, the exact expected share of the cases matured by :attr:`now` that are late
        again, had every treated customer been on the arm: the estimand of the analysis (one
        stratum, no per-segment allocation), from the simulator's probabilities and who
        entered when (a case opens at the morning batch, ``BATCH_HOUR``)."""
        if self.biller is None:
            return {}
        entry = self.biller.column("entry_day") + BATCH_HOUR / 24.0
        types = self.biller.column("type_index")
        window = self.experiment.metrics.late_again_days
        return {
            arm: true_case_late_again_rate(
                arm,
                window_days=window,
                entry_day=entry,
                type_index=types,
                as_of_day=float(self.days),
                scenario=self.scenario,
            )
            for arm in arms
        }

    def customers_by_cases(self) -> dict[int, int]:
        """Treated customers by their number of cases so far: 1, 2 and 3 (three or more)."""
        if self.biller is None:
            return {}
        counts = np.minimum(self.biller.column("cases"), 3)
        return {k: int((counts == k).sum()) for k in (1, 2, 3)}

    @property
    def now(self) -> datetime:
        """Midnight after the last simulated day: the time of the latest cycle."""
        return self.start + timedelta(days=self.days)


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
    allocation and evaluate the promotion rule at midnight (see :class:`DemoLoop`).
    Reproducible from ``seed``.
    """
    if days < 1:
        raise ValueError("days and debtors_per_day must be positive")
    clock = time.perf_counter()
    loop = DemoLoop(
        engine, loaded, debtors_per_day=debtors_per_day, seed=seed, start=start, scenario=scenario
    )
    experiment, scenario = loop.experiment, loop.scenario
    for _ in range(days):
        result, events, cycle = loop.day()
        if on_day is not None:
            weights = cycle.allocation.weights
            leader = max(weights, key=lambda arm: weights[arm])
            decision = cycle.promotion.decision
            champion = decision.new_champion or decision.champion
            on_day(DayProgress(loop.days, days, result.new_count, events, champion, leader))

    end = loop.now
    report = experiment_report(engine, experiment_key=experiment.key, now=end)
    analysis = report.analysis
    window = experiment.metrics.pay_window_days
    horizon = experiment.metrics.churn_horizon_days
    plain = [arm for arm in experiment.arm_keys if arm not in experiment.routers]
    truth = {arm: true_pay_rate(arm, window_days=window, scenario=scenario) for arm in plain}
    churn = {arm: true_churn_rate(arm, horizon_days=horizon, scenario=scenario) for arm in plain}
    late_again: dict[str, float] = {}
    if loop.biller is not None:
        late_again = loop.true_late_again(plain)
    return DemoResult(
        report=report,
        analysis=analysis,
        true_pay_on_time=truth,
        true_churn=churn,
        true_best=max(truth, key=lambda arm: truth[arm]),
        debtors=days * debtors_per_day,
        events=loop.events,
        seconds=time.perf_counter() - clock,
        ineligible=loop.ineligible,
        cases=loop.cases,
        customers_by_cases=loop.customers_by_cases(),
        true_late_again=late_again,
    )
