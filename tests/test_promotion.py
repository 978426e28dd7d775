"""Tests for engine.promotion: the confidence sequence on the one estimand, the rule's
decision table and its audit numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from engine.config import Guardrail, Promotion
from engine.promotion import (
    Evidence,
    PromotionDecision,
    always_valid,
    cs_radius,
    decide_promotion,
    evaluate_rule,
    pearson_srm_p_value,
)
from engine.stats.comparison import Cells, compare
from engine.stats.srm import srm_check

ARMS = ("sms", "nudge")
RULE = Promotion(min_units_per_arm=1000, min_days=21)
CHURN = Guardrail(metric="churn", max_relative_increase=0.2)


def test_radius_solves_the_msprt_boundary() -> None:
    """At theta0 = estimate +- r the mixture likelihood ratio equals 1 / alpha exactly."""
    v, tau, alpha = 4e-5, 0.03, 0.05
    r = float(cs_radius(v, alpha=alpha, mixture_sd=tau))
    ratio = np.sqrt(v / (v + tau**2)) * np.exp(tau**2 * r**2 / (2 * v * (v + tau**2)))
    assert ratio == pytest.approx(1 / alpha, rel=1e-10)
    # Wider than the fixed-sample interval: the price of looking every day.
    assert r > sps.norm.isf(alpha / 2) * np.sqrt(v)


def test_the_rule_decides_on_the_estimand_every_report_shows() -> None:
    """(cell, arm): a high-rate period where the bandit favoured the champion, then a low-rate
    period where it favoured the challenger. The rule's estimate is the comparison's (cells
    weighted by their share of all debtors, not by the smaller arm), its sequence centred on
    it and wider than the 95% interval."""
    n = np.array([[400.0, 100.0], [100.0, 400.0]])
    s = np.array([[320.0, 82.0], [30.0, 128.0]])
    prob = np.array([[0.8, 0.2], [0.2, 0.8]])
    cells = Cells.rate(n, s, prob)
    diff = always_valid(compare(cells, champion=0), alpha=0.05, mixture_sd=0.03)
    rates = s / n
    assert diff.estimate[1] == pytest.approx(
        0.5 * (rates[0, 1] - rates[0, 0]) + 0.5 * (rates[1, 1] - rates[1, 0])
    )
    assert diff.estimate[0] == 0
    assert not diff.informative[0]
    low, high = diff.comparison.interval()
    assert diff.lower[1] < low[1] < diff.estimate[1] < high[1] < diff.upper[1]
    # Simpson's paradox: the challenger is better in each period, worse pooled.
    pooled = s.sum(0) / n.sum(0)
    assert pooled[1] < pooled[0]
    assert diff.estimate[1] > 0
    rule = evaluate_rule(
        RULE, (), Evidence(cells, (), np.asarray(30.0), np.zeros(2, bool), np.asarray(0.5),
                           np.full(2, np.nan)), champion=0
    )  # fmt: skip
    assert rule.primary.estimate[1] == diff.estimate[1]


def test_one_stratum_variance_is_the_two_sample_variance() -> None:
    n = np.array([[2000.0, 2000.0]])
    s = np.array([[1000.0, 1100.0]])
    diff = always_valid(
        compare(Cells.rate(n, s, [[0.5, 0.5]]), champion=0), alpha=0.05, mixture_sd=0.03
    )
    p = s / n
    assert diff.variance[1] == pytest.approx(float(np.sum(p * (1 - p) / (n - 1))))
    assert diff.prob_positive()[1] == pytest.approx(sps.norm.cdf(0.05 / np.sqrt(diff.variance[1])))


def test_pearson_srm_matches_the_engine_check() -> None:
    counts = np.array([[480.0, 520.0], [300.0, 700.0]])  # (strata, arms)
    weights = np.array([[0.5, 0.5], [0.3, 0.7]])
    p = pearson_srm_p_value(counts, weights)
    assert p == pytest.approx(srm_check(counts.T, weights.T).p_value)


def evidence(
    champion: tuple[int, int],
    challenger: tuple[int, int],
    *,
    days: float = 30.0,
    churn: tuple[tuple[int, int], tuple[int, int]] = ((20000, 1000), (20000, 1000)),
    srm: float = 0.5,
    ess: float = np.nan,
    stopped: bool = False,
) -> Evidence:
    """One cell of an even split; (units, successes) per arm."""
    n = np.array([[champion[0], challenger[0]]], dtype=float)
    s = np.array([[champion[1], challenger[1]]], dtype=float)
    cn = np.array([[churn[0][0], churn[1][0]]], dtype=float)
    cs = np.array([[churn[0][1], churn[1][1]]], dtype=float)
    split = [[0.5, 0.5]]
    return Evidence(
        primary=Cells.rate(n, s, split),
        guardrails=(Cells.rate(cn, cs, split),),
        days_as_champion=np.asarray(days),
        stopped=np.array([False, stopped]),
        srm_p_value=np.asarray(srm),
        ess_share=np.array([np.nan, ess]),
    )


def decide(ev: Evidence, rule: Promotion = RULE) -> PromotionDecision:
    return decide_promotion(
        rule=rule, guardrails=(CHURN,), arm_keys=ARMS, champion="sms", evidence=ev
    )


WIN = ((4000, 2200), (4000, 2600))  # 55% vs 65%
CASES = [
    pytest.param(evidence(*WIN), RULE, ("promote", "promote", "nudge"), id="clear-winner"),
    pytest.param(evidence(*WIN, days=20.9), RULE, ("continue", "too_early", None), id="early"),
    pytest.param(evidence(*WIN, srm=1e-5), RULE, ("continue", "srm", None), id="srm"),
    pytest.param(
        evidence((999, 500), (4000, 2600)), RULE, ("continue", "too_few_units", None), id="units"
    ),
    pytest.param(
        evidence((4000, 2200), (4000, 2260)),
        RULE,
        ("continue", "not_significant", "nudge"),
        id="small-effect",
    ),
    pytest.param(
        evidence(*WIN, churn=((20000, 1000), (20000, 1100))),
        RULE,
        ("continue", "guardrail_unclear", "nudge"),
        id="churn-not-shown-non-inferior",
    ),
    pytest.param(
        evidence(*WIN, ess=0.05),
        RULE.model_copy(update={"min_ess_share": 0.1}),
        ("continue", "low_ess", "nudge"),
        id="policy-challenger-low-ess",
    ),
    pytest.param(
        evidence(*WIN, ess=0.5),
        RULE.model_copy(update={"min_ess_share": 0.1}),
        ("promote", "promote", "nudge"),
        id="policy-challenger-enough-ess",
    ),
    pytest.param(
        evidence(*WIN, days=5, churn=((20000, 1000), (20000, 2000))),
        RULE,
        ("stop_arm", "guardrail_breach", None),
        id="doubled-churn-stops-before-min-days",
    ),
    pytest.param(
        evidence((4000, 2200), (4000, 2260), days=90),
        RULE.model_copy(update={"horizon_days": 90}),
        ("inconclusive", "horizon_reached", "nudge"),
        id="horizon-reached",
    ),
    pytest.param(
        evidence(*WIN, days=60),
        RULE.model_copy(update={"method": "horizon", "horizon_days": 90}),
        ("continue", "not_significant", "nudge"),
        id="horizon-method-waits",
    ),
    pytest.param(
        evidence(*WIN, days=90),
        RULE.model_copy(update={"method": "horizon", "horizon_days": 90}),
        ("promote", "promote", "nudge"),
        id="horizon-method-at-horizon",
    ),
    pytest.param(
        evidence(*WIN, stopped=True), RULE, ("continue", "too_few_units", None), id="stopped-arm"
    ),
]


@pytest.mark.parametrize(("ev", "rule", "expected"), CASES)
def test_decision_table(ev: Evidence, rule: Promotion, expected: tuple[str, str, str]) -> None:
    decision = decide(ev, rule)
    assert (decision.action, decision.reason, decision.challenger) == expected, decision.explanation
    if decision.action == "stop_arm":
        assert decision.stopped_arms == ("nudge",)


def test_numbers_are_json_and_round_trip() -> None:
    decision = decide(evidence(*WIN))
    text = json.dumps(decision.numbers(), allow_nan=False)
    back = PromotionDecision.from_numbers(json.loads(text))
    assert back == decision
    numbers = decision.numbers()
    assert numbers["difference"]["nudge"]["always_valid_low"] > 0
    assert (
        numbers["difference"]["nudge"]["low"] > numbers["difference"]["nudge"]["always_valid_low"]
    )
    assert numbers["difference"]["nudge"]["coverage"] == 1.0
    assert numbers["guardrails"]["churn"]["nudge"]["margin"] == pytest.approx(0.2 * 0.05)
    assert "always-valid" in decision.explanation


def test_absolute_margin_and_the_stricter_of_both() -> None:
    both = Guardrail(metric="churn", max_relative_increase=0.5, max_absolute_increase=0.01)
    assert both.margin(0.10) == pytest.approx(0.01)
    assert both.margin(0.01) == pytest.approx(0.005)
