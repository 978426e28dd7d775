"""Thompson and top-two Thompson weights: reference values and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as sps

from engine.policy.holdout import apply_constraints
from engine.policy.thompson import (
    bernoulli_kl,
    lai_robbins_constant,
    thompson_weights,
    top_two_play_probabilities,
    top_two_weights,
)

HYPOTHESIS = settings(max_examples=60, deadline=None, derandomize=True, database=None)

counts = st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=2, max_size=6).map(
    lambda rows: (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
)


def exact_p_first_beats_second(a1: float, b1: float, a2: float, b2: float) -> float:
    """P(theta_1 > theta_2) for independent Betas, by quadrature."""

    def integrand(x: float) -> float:
        return float(sps.beta.pdf(x, a1, b1) * sps.beta.cdf(x, a2, b2))

    value, _ = integrate.quad(integrand, 0.0, 1.0)
    return float(value)


def test_thompson_weights_match_exact_two_arm_probability() -> None:
    # Reference: P(best) of two Beta posteriors by quadrature; MC error 0.5/sqrt(200k) ~ 0.0011.
    result = thompson_weights([30, 40], [70, 60], draws=200_000, rng=np.random.default_rng(1))
    exact = exact_p_first_beats_second(41, 61, 31, 71)
    assert result.weights[1] == pytest.approx(exact, abs=0.005)
    assert result.alpha.tolist() == [31, 41]
    assert result.beta.tolist() == [71, 61]


def test_top_two_two_arms_closed_form() -> None:
    # With two arms the challenger is the other arm: psi_0 = beta * pi_0 + (1 - beta) * pi_1.
    res = top_two_weights([30, 40], [70, 60], beta=0.5, draws=200_000, rng=np.random.default_rng(2))
    pi = res.p_best
    assert res.weights[0] == pytest.approx(0.5 * pi[0] + 0.5 * pi[1], abs=1e-9)
    assert res.weights[0] == pytest.approx(0.5, abs=1e-9)


def test_top_two_plays_leader_with_probability_beta_when_certain() -> None:
    res = top_two_weights(
        [5_000, 100, 120],
        [5_000, 9_900, 9_880],
        beta=0.5,
        draws=20_000,
        rng=np.random.default_rng(3),
    )
    assert res.p_best[0] == 1.0
    assert res.weights[0] == pytest.approx(0.5)
    # The challenger is the runner-up of the same draws: arm 2 (higher rate) more often.
    assert res.weights[2] > res.weights[1]
    assert res.weights.sum() == pytest.approx(1.0)


def test_top_two_matches_resampling_definition() -> None:
    # Brute force Russo's rule: leader = argmax of one draw; with prob 1 - beta redraw until
    # the argmax differs. Compare play frequencies with the closed form on the same posterior.
    rng = np.random.default_rng(4)
    a, b = np.array([12.0, 10.0, 8.0]), np.array([20.0, 20.0, 20.0])
    samples = rng.beta(a, b, size=(400_000, 3))
    psi, _ = top_two_play_probabilities(samples, beta=0.5)
    winners = np.argmax(rng.beta(a, b, size=(200_000, 3)), axis=1)
    leaders, challengers = winners[:100_000], winners[100_000:]
    # The first later draw whose winner differs from the leader plays as the challenger:
    # equivalent in distribution to drawing from the winners not equal to the leader.
    pool = {i: challengers[challengers != i] for i in range(3)}
    coin = rng.random(100_000) < 0.5
    played = np.where(
        coin,
        leaders,
        [pool[i][j % pool[i].size] for j, i in enumerate(leaders)],
    )
    freq = np.bincount(played, minlength=3) / played.size
    np.testing.assert_allclose(freq, psi, atol=0.01)


@HYPOTHESIS
@given(counts, st.floats(0.0, 0.25), st.integers(0, 2**32 - 1))
def test_thompson_weights_invariants(
    c: tuple[np.ndarray, np.ndarray], share: float, seed: int
) -> None:
    s, f = c
    floor = share / s.size * 4 / 4  # k * floor <= 1
    w = thompson_weights(s, f, draws=2_000, rng=np.random.default_rng(seed))
    constrained = apply_constraints(w.weights, min_share=floor)
    assert np.all(constrained.bandit >= floor - 1e-12)
    assert constrained.bandit.sum() == pytest.approx(1.0, abs=1e-12)
    again = thompson_weights(s, f, draws=2_000, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(w.weights, again.weights)  # same seed, same allocation


@HYPOTHESIS
@given(counts, st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_top_two_invariants(c: tuple[np.ndarray, np.ndarray], beta: float, seed: int) -> None:
    s, f = c
    w = top_two_weights(s, f, beta=beta, draws=2_000, rng=np.random.default_rng(seed))
    assert np.all(w.weights >= 0)
    assert w.weights.sum() == pytest.approx(1.0, abs=1e-12)
    # The leader is played at least beta * P(best) of the time.
    lead = int(np.argmax(w.p_best))
    assert w.weights[lead] >= beta * w.p_best[lead] - 1e-12
    again = top_two_weights(s, f, beta=beta, draws=2_000, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(w.weights, again.weights)


def test_lai_robbins_constant_reference() -> None:
    # Hand computation: KL(0.10||0.15) = 0.0108959, KL(0.12||0.15) = 0.0037456.
    assert bernoulli_kl(0.10, 0.15) == pytest.approx(0.0108959, rel=1e-4)
    expected = 0.05 / 0.0108959 + 0.03 / 0.0037456
    assert lai_robbins_constant([0.10, 0.12, 0.15]) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"successes": [1, 2], "failures": [1]}, "one shape"),
        ({"successes": [-1, 2], "failures": [1, 1]}, ">= 0"),
        ({"successes": [1, 2], "failures": [1, 1], "prior": (0.0, 1.0)}, "prior"),
        ({"successes": [1, 2], "failures": [1, 1], "draws": 0}, "draws"),
    ],
)
def test_invalid_inputs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        thompson_weights(rng=np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]
