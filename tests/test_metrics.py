"""Tests for engine.metrics: pooling of cells and the per-arm KPI table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.clv import DAYS_PER_MONTH
from engine.config import Experiment
from engine.loader import load_experiment
from engine.metrics import ArmKpis, ArmTotals, arm_kpis, totals_by_arm
from engine.stats import BetaPosterior

SHIPPED = Path(__file__).resolve().parents[1] / "experiments" / "dunning_channels.yaml"
WEIGHTS = {"friendly_sms": 0.4, "direct_collection": 0.3, "no_action": 0.2, "discount_nudge": 0.1}
P_BEST = {"friendly_sms": 0.6, "direct_collection": 0.1, "no_action": 0.3}


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    return load_experiment(SHIPPED).experiment


@pytest.fixture(scope="module")
def totals() -> dict[str, ArmTotals]:
    return {
        "friendly_sms": ArmTotals(
            assigned=1000,
            pay_matured=800,
            paid=480,
            collected=9600.0,
            churn_matured=600,
            churned=30,
            reminders=800,
            inquiries=12,
            cost=60.0,  # 1,000 SMS at 0.06
        ),
        "direct_collection": ArmTotals(
            assigned=500,
            pay_matured=400,
            paid=300,
            collected=7500.0,
            churn_matured=300,
            churned=45,
            collection_cases=400,
            cost=4750.0,  # 500 cases at 9.50
        ),
        # Assigned recently: nothing has matured yet.
        "no_action": ArmTotals(assigned=200),
        # Never assigned.
        "discount_nudge": ArmTotals(),
    }


@pytest.fixture(scope="module")
def rows(experiment: Experiment, totals: dict[str, ArmTotals]) -> dict[str, ArmKpis]:
    table = arm_kpis(experiment, totals, champion="friendly_sms", weights=WEIGHTS, p_best=P_BEST)
    assert [row.arm for row in table] == list(experiment.arm_keys)
    return {row.arm: row for row in table}


# --- Pooling -------------------------------------------------------------------------------------


def test_totals_by_arm_pools_cells_and_fills_every_arm() -> None:
    cells = [
        ("a", ArmTotals(assigned=10, pay_matured=8, paid=5, collected=50.0)),
        ("b", ArmTotals(assigned=3, churned=1, churn_matured=2)),
        ("a", ArmTotals(assigned=5, pay_matured=5, paid=1, collected=2.5, reminders=4)),
    ]
    pooled = totals_by_arm(["a", "b", "c"], cells)
    assert pooled == {
        "a": ArmTotals(assigned=15, pay_matured=13, paid=6, collected=52.5, reminders=4),
        "b": ArmTotals(assigned=3, churned=1, churn_matured=2),
        "c": ArmTotals(),
    }
    assert pooled["a"].pay_stat.n == 13
    assert pooled["a"].pay_stat.successes == 6
    assert pooled["b"].churn_stat.rate == 0.5


def test_totals_by_arm_rejects_unknown_arm() -> None:
    with pytest.raises(ValueError, match="outcomes for unknown arm 'email'"):
        totals_by_arm(["a"], [("a", ArmTotals(assigned=1)), ("email", ArmTotals(assigned=1))])


def test_totals_with_impossible_counts_are_rejected_when_used() -> None:
    with pytest.raises(ValueError, match="successes <= n"):
        _ = ArmTotals(pay_matured=3, paid=4).pay_stat


# --- The KPI table -------------------------------------------------------------------------------


def test_rates_and_interval(rows: dict[str, ArmKpis]) -> None:
    sms = rows["friendly_sms"]
    assert sms.pay_on_time == 0.6
    expected = BetaPosterior(1 + 480, 1 + 320).interval(0.95)
    assert (sms.pay_on_time_low, sms.pay_on_time_high) == pytest.approx(expected, rel=1e-12)
    assert sms.pay_on_time_low < sms.pay_on_time < sms.pay_on_time_high
    # Normal-approximation half-width 1.96 sqrt(p q / n) = 0.0339; the Beta interval is close.
    assert sms.pay_on_time_high - sms.pay_on_time_low == pytest.approx(2 * 0.0339, abs=0.002)
    collection = rows["direct_collection"]
    assert collection.pay_on_time == 0.75
    assert collection.pay_on_time_low < 0.75 < collection.pay_on_time_high
    assert sms.churn == 0.05
    assert collection.churn == 0.15


def test_nothing_matured_gives_nan_not_zero(rows: dict[str, ArmKpis]) -> None:
    waiting = rows["no_action"]
    assert waiting.assigned == 200
    assert waiting.immature_share == 1.0
    for value in (
        waiting.pay_on_time,
        waiting.pay_on_time_low,
        waiting.pay_on_time_high,
        waiting.churn,
        waiting.collected_per_debtor,
        waiting.clv_uplift,
        waiting.clv_per_debtor,
    ):
        assert math.isnan(value)
    assert waiting.cases_per_1000 == 0.0
    assert waiting.cost_per_debtor == 0.0


def test_never_assigned_arm(rows: dict[str, ArmKpis]) -> None:
    unused = rows["discount_nudge"]
    assert unused.assigned == 0
    assert math.isnan(unused.immature_share)
    assert math.isnan(unused.cases_per_1000)
    assert math.isnan(unused.cost_per_debtor)
    assert math.isnan(unused.p_best)  # no P(best) given for this arm
    assert unused.traffic_share == 0.1


def test_counts_per_debtor(rows: dict[str, ArmKpis]) -> None:
    sms, collection = rows["friendly_sms"], rows["direct_collection"]
    assert sms.immature_share == pytest.approx(0.2, abs=1e-15)
    assert collection.immature_share == pytest.approx(0.2, abs=1e-15)
    assert collection.cases_per_1000 == 800.0
    assert collection.collection_cases == 400
    assert sms.cases_per_1000 == 0.0
    assert sms.reminders == 800
    assert sms.collected_per_debtor == 12.0  # 9600 over 800 matured debtors
    assert collection.collected_per_debtor == 18.75
    assert sms.cost_per_debtor == 0.06
    assert collection.cost_per_debtor == 9.5


def test_labels_champion_traffic_and_p_best(rows: dict[str, ArmKpis]) -> None:
    assert rows["friendly_sms"].label == "Friendly SMS reminder"
    assert rows["friendly_sms"].champion
    assert not rows["direct_collection"].champion
    assert {arm: row.traffic_share for arm, row in rows.items()} == WEIGHTS
    assert rows["friendly_sms"].p_best == 0.6
    assert rows["no_action"].p_best == 0.3


def test_clv_uplift_zero_for_champion_and_negative_for_more_churn(
    rows: dict[str, ArmKpis], experiment: Experiment
) -> None:
    clv = experiment.clv
    base = (
        clv.monthly_margin
        * clv.monthly_retention
        / (1 + clv.monthly_discount_rate - clv.monthly_retention)
    )
    sms = rows["friendly_sms"]
    assert sms.clv_uplift == pytest.approx(0.0, abs=1e-9)
    assert sms.clv_per_debtor == pytest.approx(base, rel=1e-12)
    # Independent reference: smoothed churn shares (s + 1) / (n + 2), constant-hazard monthly
    # hazards over the 60-day horizon, hazard ratio applied to the configured retention.
    horizon = experiment.metrics.churn_horizon_days

    def hazard(share: float) -> float:
        return 1 - (1 - share) ** (DAYS_PER_MONTH / horizon)

    ratio = hazard(46 / 302) / hazard(31 / 602)
    r = 1 - ratio * (1 - clv.monthly_retention)
    arm_clv = clv.monthly_margin * r / (1 + clv.monthly_discount_rate - r)
    collection = rows["direct_collection"]
    assert collection.clv_uplift < 0
    assert collection.clv_uplift == pytest.approx(arm_clv - base, rel=1e-9)
    assert collection.clv_per_debtor == pytest.approx(arm_clv, rel=1e-9)


def test_clv_uplift_nan_when_champion_has_no_churn_data(
    experiment: Experiment, totals: dict[str, ArmTotals]
) -> None:
    changed = dict(totals)
    changed["friendly_sms"] = ArmTotals(assigned=1000, pay_matured=800, paid=480)
    table = arm_kpis(experiment, changed, champion="friendly_sms", weights=WEIGHTS, p_best={})
    assert all(math.isnan(row.clv_uplift) for row in table)
    assert all(math.isnan(row.p_best) for row in table)


def test_champion_argument_decides_the_reference_arm(
    experiment: Experiment, totals: dict[str, ArmTotals]
) -> None:
    table = arm_kpis(experiment, totals, champion="direct_collection", weights=WEIGHTS, p_best={})
    by_arm = {row.arm: row for row in table}
    assert [row.arm for row in table if row.champion] == ["direct_collection"]
    assert by_arm["direct_collection"].clv_uplift == pytest.approx(0.0, abs=1e-9)
    assert by_arm["friendly_sms"].clv_uplift > 0  # less churn than the new reference


def test_zero_churners_keep_the_uplift_finite(experiment: Experiment) -> None:
    totals = {
        "friendly_sms": ArmTotals(assigned=100, churn_matured=100, churned=0),
        "direct_collection": ArmTotals(assigned=100, churn_matured=100, churned=0),
        "no_action": ArmTotals(),
        "discount_nudge": ArmTotals(),
    }
    table = arm_kpis(experiment, totals, champion="friendly_sms", weights={}, p_best={})
    assert table[0].clv_uplift == pytest.approx(0.0, abs=1e-9)
    assert table[1].clv_uplift == pytest.approx(0.0, abs=1e-9)
    assert all(row.traffic_share == 0.0 for row in table)  # no weights given
