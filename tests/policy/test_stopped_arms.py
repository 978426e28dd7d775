"""Stopped arms in the allocation policy: no traffic, and the floors among the others."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import Allocation
from engine.policy import decide_allocation, drop_arms, rebase_on_champion
from engine.stats.binomial import BinomialStat

ARMS = ("sms", "agency", "none", "nudge")
STATS = {
    "sms": BinomialStat(1000, 550),
    "agency": BinomialStat(1000, 700),  # the best payer, but stopped by its churn
    "none": BinomialStat(1000, 500),
    "nudge": BinomialStat(1000, 600),
}


def test_drop_arms_keeps_the_ratios() -> None:
    split = drop_arms({"a": 0.5, "b": 0.3, "c": 0.2}, ["b"])
    assert split == pytest.approx({"a": 0.5 / 0.7, "b": 0.0, "c": 0.2 / 0.7})
    assert drop_arms({"a": 0.0, "b": 1.0}, ["b"]) == {"a": 1.0, "b": 0.0}
    with pytest.raises(ValueError, match="every arm"):
        drop_arms({"a": 1.0}, ["a"])


@pytest.mark.parametrize("policy", ["thompson", "top_two", "fixed"])
def test_a_stopped_arm_gets_nothing_and_the_floor_holds_for_the_rest(policy: str) -> None:
    config = Allocation(policy=policy, min_share=0.05, holdout_share=0.1, champion_floor=0.2)
    decision = decide_allocation(
        config=config,
        arm_keys=ARMS,
        champion="sms",
        stats=STATS,
        configured_weights=dict.fromkeys(ARMS, 0.25),
        rng=np.random.default_rng(0),
        stopped=["agency"],
    )
    assert decision.weights["agency"] == 0.0
    assert decision.bandit["agency"] == 0.0
    assert sum(decision.weights.values()) == pytest.approx(1.0)
    assert decision.weights["sms"] >= 0.2 - 1e-12
    if policy != "fixed":
        assert min(decision.bandit[a] for a in ARMS if a != "agency") >= 0.05 - 1e-12
        assert max(decision.p_best, key=lambda a: decision.p_best[a]) == "nudge"
    assert "stopped (no traffic): agency" in decision.reason


def test_the_champion_cannot_be_stopped() -> None:
    with pytest.raises(ValueError, match="champion"):
        decide_allocation(
            config=Allocation(),
            arm_keys=ARMS,
            champion="sms",
            stats=STATS,
            configured_weights=dict.fromkeys(ARMS, 0.25),
            rng=np.random.default_rng(0),
            stopped=["sms"],
        )


def test_rebasing_keeps_a_stopped_arm_at_zero() -> None:
    config = Allocation(holdout_share=0.2, champion_floor=0.3)
    bandit = drop_arms(dict.fromkeys(ARMS, 0.25), ["agency"])
    overall, kept = rebase_on_champion(
        config=config, arm_keys=ARMS, champion="nudge", bandit=bandit
    )
    assert overall["agency"] == 0.0
    assert kept["agency"] == 0.0
    assert overall["nudge"] >= 0.3 - 1e-12
