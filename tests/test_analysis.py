"""The analysis read model: the one estimand read both ways, SRM, JSON shape."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep

from engine.analysis import SCHEMA_VERSION, Analysis, analyze
from engine.loader import LoadedExperiment
from engine.metrics import ArmTotals

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
ARMS = ("friendly_sms", "direct_collection", "no_action", "discount_nudge")


def totals(n: int, paid: int, *, churned: int = 0, collected: float = 0.0) -> ArmTotals:
    return ArmTotals(
        assigned=n,
        pay_matured=n,
        paid=paid,
        collected=collected,
        collected_sq=collected * collected / max(n, 1) * 1.5,
        churn_matured=n,
        churned=churned,
    )


def run(
    channels: LoadedExperiment,
    cells: dict[tuple[str, int], ArmTotals],
    weights: dict[int, dict[str, float]],
) -> Analysis:
    return analyze(
        channels.experiment,
        champion="friendly_sms",
        totals=cells,
        weights=weights,
        current_weights=weights[max(weights)],
        experiment_version=1,
        as_of=AS_OF,
        seed=7,
        draws=40_000,
    )


EQUAL = dict.fromkeys(ARMS, 0.25)


def test_one_stratum_matches_statsmodels(channels: LoadedExperiment) -> None:
    cells = {
        ("friendly_sms", 1): totals(5_000, 3_000, churned=400, collected=150_000.0),
        ("direct_collection", 1): totals(5_000, 2_000, churned=1_000, collected=100_000.0),
        ("no_action", 1): totals(5_000, 2_750, churned=250, collected=140_000.0),
        ("discount_nudge", 1): totals(5_000, 3_150, churned=420, collected=151_000.0),
    }
    result = run(channels, cells, {1: EQUAL, 2: EQUAL})
    assert result.strata == 1
    nudge = result.arms[3].metrics["pay_on_time"]
    low, high = confint_proportions_2indep(3_150, 5_000, 3_000, 5_000, method="wald")
    # One interval, both readings: the Wald interval (ddof 1 in the variance, so 1e-4 off
    # statsmodels' ddof 0 at n = 5,000), P(beat) its normal posterior's.
    assert nudge.uplift == pytest.approx(0.03, abs=1e-12)
    assert (nudge.uplift_low, nudge.uplift_high) == pytest.approx((low, high), rel=2e-4)
    se = (high - low) / 2 / 1.959964
    assert nudge.prob_beat_champion == pytest.approx(sps.norm.cdf(0.03 / se), rel=1e-3)
    assert nudge.p_value == pytest.approx(2 * sps.norm.sf(0.03 / se), rel=5e-3)
    assert nudge.estimate == pytest.approx(0.63, abs=0.001)
    assert result.arms[0].metrics["pay_on_time"].uplift == 0.0
    churn = result.arms[1].metrics["churn"]
    assert not churn.higher_is_better
    assert churn.prob_beat_champion < 0.001, "five times the churn never beats the champion"
    clv = result.arms[1].metrics["clv_per_debtor"]
    assert clv.uplift_high < 0
    assert not result.srm.flagged


def test_drifting_baseline_with_shifting_traffic(channels: LoadedExperiment) -> None:
    """Simpson's paradox: the challenger gets more traffic as the baseline falls. The pooled
    rate is biased against it; the stratified estimate recovers the true +3 pp."""
    rng = np.random.default_rng(3)
    cells: dict[tuple[str, int], ArmTotals] = {}
    weights: dict[int, dict[str, float]] = {}
    baselines = np.linspace(0.70, 0.45, 10)
    shares = np.linspace(0.1, 0.85, 10)
    for period, (base, share) in enumerate(zip(baselines, shares, strict=True), 1):
        rest = (1 - share) / 3
        weights[period] = dict.fromkeys(ARMS[:3], rest) | {"discount_nudge": share}
        for arm, w in weights[period].items():
            n = int(20_000 * w)
            rate = base + (0.03 if arm == "discount_nudge" else 0.0)
            cells[(arm, period)] = totals(n, int(rng.binomial(n, rate)))
    result = run(channels, cells, weights)
    nudge = result.arms[3].metrics["pay_on_time"]
    champion = result.arms[0].metrics["pay_on_time"]
    naive = nudge.pooled_estimate - champion.pooled_estimate
    assert naive < -0.01, f"pooled uplift {naive:+.4f} should be biased below zero"
    assert nudge.uplift == pytest.approx(0.03, abs=0.006)  # ~2.5 standard errors
    assert nudge.uplift_low < 0.03 < nudge.uplift_high
    assert (result.strata, result.cells) == (1, 10)
    assert not result.srm.flagged


def test_srm_flags_dropped_rows(channels: LoadedExperiment) -> None:
    cells = {(arm, 1): totals(25_000, 12_000) for arm in ARMS}
    cells[("no_action", 1)] = totals(24_250, 11_640)  # 3% of its rows lost
    result = run(channels, cells, {1: EQUAL})
    assert result.srm.flagged
    assert result.srm.p_value < 0.001


def test_json_shape_is_versioned_and_strict(channels: LoadedExperiment) -> None:
    cells = {(arm, 1): totals(100, 60) for arm in ARMS}
    cells[("no_action", 1)] = ArmTotals(assigned=50)  # nothing matured yet
    data = run(channels, cells, {1: EQUAL}).to_dict()
    text = json.dumps(data, allow_nan=False)  # NaN must have become null
    assert data["schema_version"] == SCHEMA_VERSION == 2
    assert set(data) >= {"experiment", "as_of", "champion", "srm", "arms", "strata", "seed"}
    arm = data["arms"][2]
    assert arm["arm"] == "no_action"
    assert set(arm["metrics"]) == {
        "pay_on_time",
        "churn",
        "collected_per_debtor",
        "cases_per_1000",
        "reminders_per_1000",
        "net_value_per_debtor",
        "clv_per_debtor",
    }
    assert arm["metrics"]["pay_on_time"]["units"] == 0
    assert arm["metrics"]["pay_on_time"]["immature_share"] == 1.0
    assert arm["metrics"]["pay_on_time"]["uplift"] is None
    assert arm["metrics"]["pay_on_time"]["estimate"] is None  # not the prior
    assert arm["metrics"]["pay_on_time"]["status"] == "not_matured"
    assert arm["metrics"]["clv_per_debtor"]["prob_best"] is None
    assert data["clv"]["persistence_months"] == 0
    assert "NaN" not in text


def test_same_seed_same_figures(channels: LoadedExperiment) -> None:
    cells = {(arm, 1): totals(1_000, 500 + 10 * i) for i, arm in enumerate(ARMS)}
    first = run(channels, cells, {1: EQUAL}).to_dict()
    again = run(channels, cells, {1: EQUAL}).to_dict()
    assert first == again
    assert not math.isnan(first["arms"][3]["metrics"]["pay_on_time"]["prob_best"])
