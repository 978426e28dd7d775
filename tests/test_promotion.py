"""Tests for engine.promotion: the decision table, the pick among winners, the audit numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.config import Promotion
from engine.promotion import PromotionDecision, decide_promotion
from engine.stats import BinomialStat

RULE = Promotion(min_prob_beat_champion=0.95, min_units_per_arm=1000, min_days=21)
B = BinomialStat


def decide(stats: dict[str, BinomialStat], days: float = 30.0, seed: int = 0) -> PromotionDecision:
    return decide_promotion(
        rule=RULE,
        champion="sms",
        stats=stats,
        days_as_champion=days,
        rng=np.random.default_rng(seed),
    )


CASES = [
    pytest.param(
        {"sms": B(5000, 3000), "nudge": B(5000, 3500)},
        20.9,
        ("continue", "too_early", None),
        "held the title 20.9 of 21 days",
        id="too-early-despite-clear-winner",
    ),
    pytest.param(
        {"sms": B(999, 600), "nudge": B(5000, 4000)},
        30.0,
        ("continue", "too_few_units", None),
        "champion has 999, best challenger 5000",
        id="champion-below-min-units",
    ),
    pytest.param(
        {"sms": B(5000, 3000), "nudge": B(999, 900), "none": B(10, 10)},
        30.0,
        ("continue", "too_few_units", None),
        "need 1000 matured units",
        id="all-challengers-below-min-units",
    ),
    pytest.param(
        {"sms": B(1000, 600), "nudge": B(1000, 610)},
        30.0,
        ("continue", "not_confident", "nudge"),
        "best challenger nudge: P(beat sms) = ",
        id="not-confident",
    ),
    pytest.param(
        {"sms": B(1000, 600), "nudge": B(1000, 700)},
        30.0,
        ("promote", "promote", "nudge"),
        "P(nudge beats sms) = 1.0000 >= 0.95 with 1000 and 1000 matured units",
        id="clear-winner",
    ),
    pytest.param(
        {"sms": B(1000, 600), "nudge": B(1000, 700)},
        21.0,
        ("promote", "promote", "nudge"),
        "P(nudge beats sms)",
        id="exactly-min-days",
    ),
    pytest.param(
        {"sms": B(1000, 700), "nudge": B(1000, 600)},
        30.0,
        ("continue", "not_confident", "nudge"),
        "P(beat sms) = 0.0000 < 0.95",
        id="challenger-clearly-worse",
    ),
]


@pytest.mark.parametrize(("stats", "days", "expected", "explanation"), CASES)
def test_decision_table(
    stats: dict[str, BinomialStat],
    days: float,
    expected: tuple[str, str, str | None],
    explanation: str,
) -> None:
    decision = decide(stats, days)
    assert (decision.action, decision.reason, decision.challenger) == expected
    assert explanation in decision.explanation
    assert decision.champion == "sms"
    assert decision.new_champion == (decision.challenger if decision.action == "promote" else None)
    assert decision.units == {arm: s.n for arm, s in stats.items()}
    assert decision.days_as_champion == days


def test_not_confident_probability_matches_normal_approximation() -> None:
    # 610/1000 vs 600/1000: difference 0.01, sd sqrt(2 * 0.6 * 0.4 / 1000) ~ 0.0219, so
    # P(beat) ~ Phi(0.456) ~ 0.68; 0.03 covers the approximation and 3 MC standard errors.
    decision = decide({"sms": B(1000, 600), "nudge": B(1000, 610)})
    assert decision.prob_beat["nudge"] == pytest.approx(0.676, abs=0.03)


def test_picks_the_best_of_two_winning_challengers() -> None:
    stats = {"sms": B(1000, 600), "letter": B(1000, 690), "nudge": B(1000, 750), "tiny": B(50, 50)}
    decision = decide(stats)
    assert decision.action == "promote"
    assert decision.challenger == "nudge"
    # Both challengers clear the bar; the arm below min units is not even considered.
    assert set(decision.prob_beat) == {"letter", "nudge"}
    assert min(decision.prob_beat.values()) >= 0.95


def test_picks_the_higher_probability_not_the_first_listed() -> None:
    stats = {"sms": B(2000, 1200), "a": B(1000, 640), "b": B(3000, 1950)}
    decision = decide(stats, seed=9)
    assert decision.prob_beat["b"] > decision.prob_beat["a"]
    assert decision.challenger == "b"


def test_same_seed_same_decision() -> None:
    stats = {"sms": B(1000, 600), "nudge": B(1000, 630)}
    assert decide(stats, seed=4) == decide(stats, seed=4)
    assert decide(stats, seed=4).prob_beat != decide(stats, seed=5).prob_beat


def test_numbers_are_strict_json_even_with_nan_rates() -> None:
    stats = {"sms": B(1000, 600), "nudge": B(1000, 700), "new_arm": B(0, 0)}
    decision = decide(stats)
    assert np.isnan(decision.rates["new_arm"])
    numbers = decision.numbers()
    text = json.dumps(numbers, allow_nan=False)  # strict JSON: NaN is not valid JSON
    back = json.loads(text)
    assert back["rates"] == {"sms": 0.6, "nudge": 0.7, "new_arm": None}
    assert back["units"] == {"sms": 1000, "nudge": 1000, "new_arm": 0}
    assert back["action"] == "promote"
    assert back["challenger"] == "nudge"
    assert set(back["prob_beat"]) == {"nudge"}


def test_numbers_for_an_early_decision() -> None:
    decision = decide({"sms": B(0, 0), "nudge": B(0, 0)}, days=0.0)
    back = json.loads(json.dumps(decision.numbers(), allow_nan=False))
    assert back["reason"] == "too_early"
    assert back["prob_beat"] == {}
    assert back["rates"] == {"sms": None, "nudge": None}


def test_unknown_champion_raises() -> None:
    with pytest.raises(ValueError, match="champion 'sms' has no statistics"):
        decide({"nudge": B(1000, 700)})
