"""The KPI table (engine.analysis.kpi_rows): every figure is the analysis's, "not matured" says
so instead of showing a prior, and CLV states and applies its assumption."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from engine.analysis import Analysis, ArmKpis, Maturity, analyze, kpi_rows
from engine.config import Experiment
from engine.loader import load_experiment
from engine.metrics import ArmTotals

SHIPPED = Path(__file__).resolve().parents[1] / "experiments" / "dunning_channels.yaml"
WEIGHTS = {"friendly_sms": 0.4, "direct_collection": 0.3, "no_action": 0.2, "discount_nudge": 0.1}
P_BEST = {"friendly_sms": 0.6, "direct_collection": 0.1, "no_action": 0.3}
NOW = datetime(2026, 5, 1, tzinfo=UTC)
TOTALS = {
    "friendly_sms": ArmTotals(
        assigned=1000, pay_matured=800, paid=480, collected=9600.0, collected_sq=9600.0 * 40,
        churn_matured=600, churned=30, reminders=800, reminders_sq=800, inquiries=12, cost=60.0,
    ),
    "direct_collection": ArmTotals(
        assigned=500, pay_matured=400, paid=300, collected=7500.0, collected_sq=7500.0 * 60,
        churn_matured=300, churned=45, collection_cases=400, collection_cases_sq=400, cost=4750.0,
    ),
    # Assigned recently: nothing has matured yet.
    "no_action": ArmTotals(assigned=200),
    # Never assigned.
    "discount_nudge": ArmTotals(),
}  # fmt: skip


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    return load_experiment(SHIPPED).experiment


def run(experiment: Experiment, **changes: object) -> Analysis:
    first_due = NOW + timedelta(days=9)
    return analyze(
        experiment,
        champion="friendly_sms",
        totals={(arm, 1): t for arm, t in TOTALS.items() if t.assigned},
        weights={1: WEIGHTS},
        current_weights=WEIGHTS,
        experiment_version=1,
        as_of=NOW,
        seed=1,
        maturity=Maturity(
            pay={
                "friendly_sms": NOW - timedelta(days=40),
                "direct_collection": NOW,
                "no_action": first_due,
            },
            churn={
                "friendly_sms": NOW - timedelta(days=40),
                "direct_collection": NOW,
                "no_action": first_due + timedelta(days=46),
            },
        ),
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def rows(experiment: Experiment) -> dict[str, ArmKpis]:
    table = kpi_rows(run(experiment), p_best=P_BEST)
    assert [row.arm for row in table] == list(experiment.arm_keys)
    return {row.arm: row for row in table}


def test_rates_and_intervals_are_the_comparisons(rows: dict[str, ArmKpis]) -> None:
    sms, agency = rows["friendly_sms"], rows["direct_collection"]
    assert sms.pay_on_time == 0.6
    half = 1.959964 * math.sqrt(0.6 * 0.4 / 799)  # sample variance (ddof 1) / n
    assert (sms.pay_on_time_low, sms.pay_on_time_high) == pytest.approx((0.6 - half, 0.6 + half))
    assert agency.pay_uplift == pytest.approx(0.15)
    se = math.sqrt(0.6 * 0.4 / 799 + 0.75 * 0.25 / 399)
    assert agency.pay_uplift_low == pytest.approx(0.15 - 1.959964 * se, rel=1e-5)
    assert (sms.churn, agency.churn) == (0.05, 0.15)
    assert sms.pay_status == "champion"
    assert agency.pay_status == "ok"


def test_nothing_matured_says_so_with_the_date(
    rows: dict[str, ArmKpis], experiment: Experiment
) -> None:
    waiting = rows["no_action"]
    assert waiting.assigned == 200
    assert waiting.immature_share == 1.0
    for value in (waiting.pay_on_time, waiting.pay_uplift, waiting.churn, waiting.clv_uplift):
        assert math.isnan(value)
    assert waiting.pay_status == "not_matured"
    metric = run(experiment).arm("no_action").metrics["pay_on_time"]
    assert metric.message == "not matured yet: the first cohort matures on 2026-05-10"
    assert metric.matures_on is not None
    assert metric.matures_on.isoformat() == "2026-05-10"
    assert math.isnan(metric.prob_best)
    assert math.isnan(metric.prob_beat_champion)
    assert waiting.cases_per_1000 == 0.0  # treatment counts need no maturity


def test_never_assigned_arm(rows: dict[str, ArmKpis], experiment: Experiment) -> None:
    unused = rows["discount_nudge"]
    assert unused.assigned == 0
    assert math.isnan(unused.immature_share)
    assert math.isnan(unused.cases_per_1000)
    assert math.isnan(unused.p_best)  # no P(best) given for this arm
    assert unused.traffic_share == 0.1
    assert unused.pay_status == "no_units"


def test_counts_per_1000(rows: dict[str, ArmKpis]) -> None:
    assert rows["direct_collection"].cases_per_1000 == pytest.approx(800.0)
    assert rows["friendly_sms"].reminders_per_1000 == pytest.approx(800.0)
    assert rows["friendly_sms"].cost_per_debtor == pytest.approx(0.06)


def test_clv_values_only_the_churn_within_the_horizon(
    rows: dict[str, ArmKpis], experiment: Experiment
) -> None:
    """The default: 10 points more churners, each worth the residual CLV of a customer who
    stays (m r / (1 + d - r) = 390), nothing extrapolated."""
    value = experiment.clv.residual_value()
    agency = rows["direct_collection"]
    assert agency.clv_uplift == pytest.approx(-0.10 * value, rel=0.01)
    assert agency.clv_uplift_low < agency.clv_uplift < agency.clv_uplift_high < 0
    sms = rows["friendly_sms"]
    assert sms.clv_per_debtor == pytest.approx(0.95 * value, rel=0.01)
    # The champion's CLV has an interval: its churn is estimated, not known.
    analysis = run(experiment)
    clv = analysis.arm("friendly_sms").metrics["clv_per_debtor"]
    assert clv.low < clv.estimate < clv.high
    assert analysis.clv.persistence_months == 0
    assert "not assumed to last beyond the horizon" in analysis.clv.statement


def test_a_persisting_effect_is_an_explicit_assumption(experiment: Experiment) -> None:
    clv = experiment.clv
    lifetime = experiment.model_copy(
        update={"clv": clv.model_copy(update={"effect_persistence_months": None})}
    )
    year = experiment.model_copy(
        update={"clv": clv.model_copy(update={"effect_persistence_months": 12})}
    )
    base = kpi_rows(run(experiment), p_best={})[1].clv_uplift
    longer = kpi_rows(run(year), p_best={})[1].clv_uplift
    forever = kpi_rows(run(lifetime), p_best={})[1]
    assert forever.clv_uplift < longer < base < 0  # the longer the harm lasts, the worse
    assert "whole life" in run(lifetime).clv.statement
    assert np.isfinite(forever.clv_uplift_low)
