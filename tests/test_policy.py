"""Tests for engine.policy.allocation: the floor, Thompson sampling, the fixed split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.config import Allocation
from engine.policy import apply_floor, decide_allocation
from engine.stats import BinomialStat

ARMS = ("friendly_sms", "direct_collection", "no_action", "discount_nudge")
HYPOTHESIS = settings(max_examples=200, deadline=None, derandomize=True, database=None)


def thompson(
    stats: dict[str, BinomialStat], *, seed: int, arms: tuple[str, ...] = ARMS, **config: float
) -> tuple[dict[str, float], dict[str, float], str]:
    allocation = Allocation(policy="thompson", **config)
    decision = decide_allocation(
        config=allocation,
        arm_keys=arms,
        champion=arms[0],
        stats=stats,
        configured_weights=dict.fromkeys(arms, 1 / len(arms)),
        rng=np.random.default_rng(seed),
    )
    return dict(decision.weights), dict(decision.p_best), decision.reason


# --- apply_floor ---------------------------------------------------------------------------------

probabilities = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=10).filter(
    lambda p: sum(p) > 0
)


@HYPOTHESIS
@given(probabilities, st.floats(min_value=0.0, max_value=1.0))
def test_apply_floor_properties(raw: list[float], share: float) -> None:
    p = np.array(raw) / sum(raw)
    floor = share / len(p)  # any floor with floor * k <= 1
    w = apply_floor(p, floor)
    assert w.shape == p.shape
    assert np.all(w >= floor - 1e-12)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    # Order preserved: a more probable arm never gets less traffic (up to round-off).
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(w[order]) >= -1e-12)


def test_apply_floor_closed_form() -> None:
    # w = floor + (1 - k * floor) * p
    w = apply_floor([0.7, 0.2, 0.1, 0.0], 0.05)
    np.testing.assert_allclose(
        w, [0.05 + 0.8 * 0.7, 0.05 + 0.8 * 0.2, 0.05 + 0.08, 0.05], rtol=1e-14
    )
    np.testing.assert_allclose(apply_floor([1.0, 0.0], 0.5), [0.5, 0.5], rtol=1e-15)
    np.testing.assert_allclose(apply_floor([0.3, 0.7], 0.0), [0.3, 0.7], rtol=1e-15)


@pytest.mark.parametrize(
    ("p", "floor"),
    [([0.25] * 4, 0.3), ([0.5, 0.5], 0.51), ([0.5, 0.5], -0.01)],
    ids=["4x0.3", "2x0.51", "negative"],
)
def test_apply_floor_rejects_floors_that_do_not_fit(p: list[float], floor: float) -> None:
    with pytest.raises(ValueError, match="arms must be within"):
        apply_floor(p, floor)


# --- Thompson sampling ---------------------------------------------------------------------------


def test_thompson_same_seed_same_weights() -> None:
    stats = {"friendly_sms": BinomialStat(300, 160), "no_action": BinomialStat(280, 150)}
    first = thompson(stats, seed=42)
    again = thompson(stats, seed=42)
    other = thompson(stats, seed=43)
    assert first == again
    assert first[0] != other[0]


def test_thompson_strong_evidence_sends_the_rest_to_the_winner() -> None:
    arms = ("champion", "challenger")
    stats = {"champion": BinomialStat(1000, 500), "challenger": BinomialStat(1000, 600)}
    weights, p_best, reason = thompson(stats, seed=3, arms=arms, min_share=0.05)
    # 10 pp apart with n = 1000 each is z ~ 4.5: P(champion best) ~ 3e-6, so the challenger
    # gets floor + (1 - k * floor) * P(best) within 1e-3.
    assert weights["challenger"] == pytest.approx((1 - 2 * 0.05) + 0.05, abs=1e-3)
    assert weights["champion"] == pytest.approx(0.05, abs=1e-3)
    assert p_best["challenger"] > 0.999
    assert "leader challenger" in reason


def test_thompson_without_data_splits_evenly() -> None:
    weights, p_best, reason = thompson({}, seed=0, draws=20_000)
    assert set(weights) == set(ARMS)
    for arm in ARMS:
        # P(best) SE with 20,000 draws is ~0.003; 0.02 is over 6 standard errors.
        assert abs(weights[arm] - 0.25) < 0.02
        assert abs(p_best[arm] - 0.25) < 0.02
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert sum(p_best.values()) == pytest.approx(1.0, abs=1e-12)
    assert "over 0 matured units" in reason


def test_thompson_weights_respect_floor_and_mention_leader() -> None:
    stats = {
        "friendly_sms": BinomialStat(400, 220),
        "direct_collection": BinomialStat(400, 170),
        "no_action": BinomialStat(400, 150),
        "discount_nudge": BinomialStat(400, 260),
    }
    weights, p_best, reason = thompson(stats, seed=5, min_share=0.1, draws=5_000)
    assert min(weights.values()) >= 0.1 - 1e-12
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-12)
    leader = max(p_best, key=p_best.__getitem__)
    assert leader == "discount_nudge"
    assert max(weights, key=weights.__getitem__) == leader
    assert f"leader {leader} (P(best)={p_best[leader]:.3f})" in reason
    assert "5000 posterior draws over 1600 matured units" in reason
    assert "minimum share 0.1 per arm" in reason


def test_thompson_ignores_stats_of_arms_outside_the_experiment() -> None:
    stats = {"friendly_sms": BinomialStat(10, 5), "retired_arm": BinomialStat(10_000, 9_999)}
    weights, _, reason = thompson(stats, seed=1)
    assert set(weights) == set(ARMS)
    assert "over 10 matured units" in reason


@HYPOTHESIS
@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=2, max_size=6),
    st.floats(min_value=0.0, max_value=0.2),
    st.integers(0, 2**32 - 1),
)
def test_thompson_weights_are_valid_for_any_counts(
    counts: list[tuple[int, int]], floor: float, seed: int
) -> None:
    assume(floor * len(counts) < 1)
    arms = tuple(f"arm{i}" for i in range(len(counts)))
    stats = {a: BinomialStat(n + s, s) for a, (n, s) in zip(arms, counts, strict=True)}
    weights, p_best, _ = thompson(stats, seed=seed, arms=arms, min_share=floor, draws=1_000)
    w = np.array([weights[a] for a in arms])
    assert np.all(w >= floor - 1e-12)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert sum(p_best.values()) == pytest.approx(1.0, abs=1e-12)


# --- Fixed split ---------------------------------------------------------------------------------


def test_fixed_policy_returns_configured_weights() -> None:
    configured = {
        "friendly_sms": 0.7,
        "direct_collection": 0.1,
        "no_action": 0.1,
        "discount_nudge": 0.1,
    }
    decision = decide_allocation(
        config=Allocation(policy="fixed", weights=configured),
        arm_keys=ARMS,
        champion=ARMS[0],
        stats={"friendly_sms": BinomialStat(1000, 100), "no_action": BinomialStat(1000, 900)},
        configured_weights=configured,
        rng=np.random.default_rng(0),
    )
    assert dict(decision.weights) == configured
    assert list(decision.weights) == list(ARMS)
    assert dict(decision.p_best) == {}
    assert decision.reason == "fixed split from the experiment file"
