"""Per-segment Thompson sampling with shrinkage towards the pooled posterior."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.assignment import assign
from engine.policy.holdout import apply_constraints
from engine.policy.segments import (
    KAPPA_MAX,
    assign_segments,
    empirical_bayes_kappa,
    segment_index,
    segment_weights,
)
from engine.policy.thompson import thompson_weights

HYPOTHESIS = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def test_huge_kappa_gives_the_pooled_weights() -> None:
    s = np.array([[10, 30], [40, 5], [3, 3]])
    f = np.array([[90, 70], [60, 95], [7, 7]])
    seg = segment_weights(s, f, kappa=1e9, draws=50_000, rng=np.random.default_rng(0))
    pooled = thompson_weights(s.sum(0), f.sum(0), draws=50_000, rng=np.random.default_rng(1))
    # With kappa -> inf every segment posterior collapses to the pooled mean: both arms' draws
    # are then nearly constant and the leader is the pooled leader.
    assert np.all(np.argmax(seg.weights, axis=1) == np.argmax(pooled.weights))


def test_small_kappa_follows_each_segment() -> None:
    s = np.array([[900, 100], [100, 900]])
    f = np.array([[100, 900], [900, 100]])
    seg = segment_weights(s, f, kappa=2.0, draws=10_000, rng=np.random.default_rng(0))
    assert seg.weights[0, 0] > 0.99
    assert seg.weights[1, 1] > 0.99
    assert seg.kappa_source == "config"


def test_empirical_bayes_recovers_kappa() -> None:
    # Beta-binomial data with known kappa = 50 around m = 0.4, 200 segments of 400 units.
    rng = np.random.default_rng(3)
    kappa, m = 50.0, np.array([0.4, 0.6])
    theta = rng.beta(kappa * m, kappa * (1 - m), size=(200, 2))
    n = np.full((200, 2), 400)
    s = rng.binomial(n, theta)
    estimate = empirical_bayes_kappa(s, n - s)
    assert 35 < estimate < 70


def test_empirical_bayes_without_between_segment_spread_pools_fully() -> None:
    s = np.array([[50, 50], [50, 50]])
    assert empirical_bayes_kappa(s, s) == KAPPA_MAX


@HYPOTHESIS
@given(
    st.integers(1, 6),
    st.integers(2, 5),
    st.integers(0, 2**32 - 1),
    st.floats(0.0, 1.0),
    st.one_of(st.none(), st.floats(0.1, 1e4)),
)
def test_segment_invariants(
    n_seg: int, k: int, seed: int, share: float, kappa: float | None
) -> None:
    rng = np.random.default_rng(seed)
    n = rng.integers(0, 300, size=(n_seg, k))
    s = rng.binomial(n, rng.random((n_seg, k)))
    w = segment_weights(s, n - s, kappa=kappa, draws=1_000, rng=np.random.default_rng(seed))
    np.testing.assert_allclose(w.weights.sum(axis=1), 1.0, atol=1e-12)
    floor = share / k
    c = apply_constraints(w.weights, min_share=floor)
    assert np.all(c.bandit >= floor - 1e-12)
    again = segment_weights(s, n - s, kappa=kappa, draws=1_000, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(w.weights, again.weights)


def test_assign_segments_agrees_with_assign_per_segment() -> None:
    ids = np.array([f"D{i:06d}" for i in range(5_000)], dtype=object)
    table = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5], [0.2, 0.0, 0.8]])
    seg = np.arange(ids.size) % 3
    constrained = apply_constraints(table)
    arm, holdout, propensity = assign_segments(ids, seg, salt="x", constrained=constrained)
    assert not holdout.any()
    for t in range(3):
        ref = assign(ids[seg == t], salt="x", arm_keys=["a", "b", "c"], weights=table[t])
        np.testing.assert_array_equal(arm[seg == t], ref.arm_index)
        np.testing.assert_allclose(propensity[seg == t], ref.propensity)


def test_segment_index() -> None:
    np.testing.assert_array_equal(segment_index(["b", "a", "b"], ["a", "b"]), [1, 0, 1])
    with pytest.raises(ValueError, match="unknown segments"):
        segment_index(["z"], ["a", "b"])
