"""Tests for engine.stats.binomial: sufficient statistics, Beta posteriors, P(best), P(beat)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from engine.stats import BetaPosterior, BinomialStat, posterior_draws, prob_beat, prob_best

DRAWS = 200_000


def mc_se(p: float, draws: int = DRAWS) -> float:
    """Monte Carlo standard error of a probability estimated from ``draws`` draws."""
    return math.sqrt(p * (1.0 - p) / draws)


def exact_prob_best(alpha: list[float], beta: list[float]) -> list[float]:
    """P(arm i has the highest rate) = int f_i(x) prod_{j != i} F_j(x) dx, by quadrature."""
    result = []
    for i in range(len(alpha)):

        def integrand(x: float, i: int = i) -> float:
            value = sps.beta.pdf(x, alpha[i], beta[i])
            for j in range(len(alpha)):
                if j != i:
                    value *= sps.beta.cdf(x, alpha[j], beta[j])
            return float(value)

        value, error = integrate.quad(integrand, 0.0, 1.0, limit=200, epsabs=1e-12)
        assert error < 1e-8
        result.append(value)
    return result


# --- BinomialStat --------------------------------------------------------------------------------


def test_binomial_stat_arithmetic() -> None:
    total = BinomialStat(100, 30) + BinomialStat(50, 20) + BinomialStat(0, 0)
    assert total == BinomialStat(150, 50)
    assert total.failures == 100
    assert total.rate == pytest.approx(1 / 3, rel=1e-15)
    assert math.isnan(BinomialStat(0, 0).rate)
    assert BinomialStat(7, 7).rate == 1.0


@pytest.mark.parametrize(
    ("n", "successes"),
    [(-1, 0), (10, -1), (10, 11), (0, 1)],
    ids=["negative-n", "negative-successes", "more-successes-than-n", "success-without-unit"],
)
def test_binomial_stat_rejects_impossible_counts(n: int, successes: int) -> None:
    with pytest.raises(ValueError, match=rf"need 0 <= successes <= n, got successes={successes}"):
        BinomialStat(n, successes)


# --- BetaPosterior -------------------------------------------------------------------------------


def test_posterior_from_stat_is_conjugate_update() -> None:
    post = BetaPosterior.from_stat(BinomialStat(1000, 600), prior_alpha=2.0, prior_beta=3.0)
    assert post == BetaPosterior(602.0, 403.0)
    assert post.mean == pytest.approx(602 / 1005, rel=1e-15)
    assert BetaPosterior.from_stat(BinomialStat(0, 0)) == BetaPosterior(1.0, 1.0)


@pytest.mark.parametrize(
    ("alpha", "beta", "level"),
    [(1.0, 1.0, 0.95), (601.0, 401.0, 0.95), (3.5, 120.0, 0.9), (0.5, 0.5, 0.99)],
)
def test_interval_matches_scipy_beta_ppf(alpha: float, beta: float, level: float) -> None:
    low, high = BetaPosterior(alpha, beta).interval(level)
    tail = (1 - level) / 2
    # Same algorithm (Boost ibeta_inv) on both sides: agreement to 1e-12 relative.
    assert low == pytest.approx(sps.beta.ppf(tail, alpha, beta), rel=1e-12)
    assert high == pytest.approx(sps.beta.ppf(1 - tail, alpha, beta), rel=1e-12)
    assert 0.0 <= low < high <= 1.0


@pytest.mark.parametrize("b", [1.0, 3.0, 101.0, 1000.5])
def test_interval_matches_closed_form_for_beta_1_b(b: float) -> None:
    # Beta(1, b) has CDF 1 - (1 - x)^b, so its q-quantile is 1 - (1 - q)^(1/b), computed
    # with expm1/log1p to avoid cancellation. 1e-11 relative: ppf is a numerical inversion.
    low, high = BetaPosterior(1.0, b).interval(0.95)
    assert low == pytest.approx(-math.expm1(math.log1p(-0.025) / b), rel=1e-11)
    assert high == pytest.approx(-math.expm1(math.log1p(-0.975) / b), rel=1e-11)
    # And Beta(a, 1), quantile q^(1/a), by symmetry.
    low, high = BetaPosterior(b, 1.0).interval(0.95)
    assert low == pytest.approx(0.025 ** (1 / b), rel=1e-11)
    assert high == pytest.approx(0.975 ** (1 / b), rel=1e-11)


# --- Posterior draws, P(beat), P(best) -----------------------------------------------------------


def test_posterior_draws_shape_and_moments() -> None:
    draws = posterior_draws([61.0, 2.0], [41.0, 8.0], draws=DRAWS, rng=np.random.default_rng(1))
    assert draws.shape == (DRAWS, 2)
    assert np.all((draws > 0) & (draws < 1))
    for column, (a, b) in enumerate([(61.0, 41.0), (2.0, 8.0)]):
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        # 4 Monte Carlo standard errors of a sample mean.
        assert abs(draws[:, column].mean() - a / (a + b)) < 4 * sd / math.sqrt(DRAWS)


@pytest.mark.parametrize(
    ("alpha", "beta", "message"),
    [
        ([1.0, 2.0], [1.0], "same length"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-D"),
        ([1.0, 0.0], [1.0, 1.0], "must be positive"),
        ([1.0, 1.0], [-1.0, 1.0], "must be positive"),
    ],
)
def test_posterior_draws_rejects_bad_parameters(
    alpha: list[float], beta: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        posterior_draws(alpha, beta, draws=10, rng=np.random.default_rng(0))


@pytest.mark.parametrize(
    ("x", "y"),
    [((61.0, 41.0), (56.0, 46.0)), ((601.0, 401.0), (581.0, 421.0)), ((3.0, 9.0), (2.0, 2.0))],
)
def test_prob_beat_matches_numerical_integration(
    x: tuple[float, float], y: tuple[float, float]
) -> None:
    # P(X > Y) = int f_X(t) F_Y(t) dt for independent X ~ Beta(x), Y ~ Beta(y).
    exact = exact_prob_best([x[0], y[0]], [x[1], y[1]])[0]
    samples = posterior_draws(
        [x[0], y[0]], [x[1], y[1]], draws=DRAWS, rng=np.random.default_rng(2024)
    )
    estimate = prob_beat(samples, reference=1)
    assert estimate[1] == 0.0  # the reference never beats itself
    assert abs(estimate[0] - exact) < 3 * mc_se(exact)  # 3 Monte Carlo standard errors
    # With the roles swapped the probabilities are complementary (ties have probability 0).
    assert prob_beat(samples, reference=0)[1] == pytest.approx(1 - estimate[0], abs=1e-12)


def test_prob_best_matches_numerical_integration_for_three_arms() -> None:
    alpha, beta = [61.0, 56.0, 58.0], [41.0, 46.0, 44.0]
    exact = exact_prob_best(alpha, beta)
    assert sum(exact) == pytest.approx(1.0, abs=1e-8)  # the reference itself is coherent
    estimate = prob_best(posterior_draws(alpha, beta, draws=DRAWS, rng=np.random.default_rng(7)))
    for p_hat, p in zip(estimate, exact, strict=True):
        assert abs(p_hat - p) < 3 * mc_se(p)  # 3 Monte Carlo standard errors


def test_prob_best_sums_to_one_and_is_reproducible() -> None:
    alpha, beta = [1.0, 5.0, 20.0, 2.0], [1.0, 5.0, 30.0, 9.0]
    first = prob_best(posterior_draws(alpha, beta, draws=5_000, rng=np.random.default_rng(11)))
    again = prob_best(posterior_draws(alpha, beta, draws=5_000, rng=np.random.default_rng(11)))
    other = prob_best(posterior_draws(alpha, beta, draws=5_000, rng=np.random.default_rng(12)))
    assert first.shape == (4,)
    assert first.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_prob_best_ties_go_to_the_lowest_index() -> None:
    samples = np.array([[0.5, 0.5, 0.1], [0.2, 0.9, 0.9], [0.3, 0.3, 0.3]])
    np.testing.assert_array_equal(prob_best(samples), [2 / 3, 1 / 3, 0.0])
    np.testing.assert_array_equal(prob_beat(samples, reference=0), [0.0, 1 / 3, 1 / 3])
