"""Tests for engine.stats.bayes: stratified posteriors and the Bayesian comparison.

Monte Carlo figures are checked against exact values (scipy distributions, numerical
integration) within 3 Monte Carlo standard errors, computed from the exact moments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate
from scipy import stats as sps

from engine.stats.bayes import (
    PRIOR_SD_SCALE,
    compare,
    default_mean_prior,
    mean_draws,
    metric_draws,
    rate_draws,
)
from engine.stats.strata import MetricCells, stratified_estimate

DRAWS = 200_000


def rng(seed: int = 20240601) -> np.random.Generator:
    return np.random.default_rng(seed)


def one_stratum(n: list[int], s: list[int]) -> MetricCells:
    return MetricCells.from_counts(np.array(n, float)[:, None], np.array(s, float)[:, None])


# --- posteriors -----------------------------------------------------------------------------------


def test_one_stratum_uniform_prior_matches_beta_moments() -> None:
    cells = one_stratum([120, 80], [70, 20])
    draws = rate_draws(cells, rng=rng(), draws=DRAWS)
    assert draws.shape == (DRAWS, 2)
    for arm, (s, n) in enumerate([(70, 120), (20, 80)]):
        mean, var, _, kurt = sps.beta.stats(1 + s, 1 + n - s, moments="mvsk")
        se_mean = math.sqrt(var / DRAWS)
        se_var = math.sqrt((kurt + 2.0) * var**2 / DRAWS)  # Var(s^2) ~ (mu4 - sigma^4) / n
        assert abs(draws[:, arm].mean() - mean) < 3 * se_mean
        assert abs(draws[:, arm].var() - var) < 3 * se_var


def test_split_prior_and_stratum_weights_give_the_exact_mean() -> None:
    # Three strata; prior Beta(2, 3) split as Beta(2/3, 1) per cell.
    n = np.array([[100.0, 300.0, 50.0]])
    s = np.array([[60.0, 150.0, 20.0]])
    cells = MetricCells.from_counts(n, s)
    w = stratified_estimate(cells).weights
    a, b = 2.0 / 3.0, 3.0 / 3.0
    cell_mean = (a + s) / (a + b + n)
    cell_var = cell_mean * (1 - cell_mean) / (a + b + n + 1)
    exact_mean = float((w * cell_mean).sum())
    exact_sd = math.sqrt(float((w**2 * cell_var).sum()))
    draws = rate_draws(cells, rng=rng(), draws=DRAWS, prior_alpha=2.0, prior_beta=3.0)
    assert abs(draws.mean() - exact_mean) < 3 * exact_sd / math.sqrt(DRAWS)
    assert draws.std() == pytest.approx(exact_sd, rel=0.01)


def test_arm_without_data_is_drawn_from_the_prior() -> None:
    cells = one_stratum([100, 0], [40, 0])
    draws = rate_draws(cells, rng=rng(), draws=DRAWS, prior_alpha=2.0, prior_beta=2.0)
    assert abs(draws[:, 1].mean() - 0.5) < 3 * math.sqrt(0.05 / DRAWS)  # Beta(2,2) var = 0.05
    no_data = one_stratum([0, 0], [0, 0])
    assert rate_draws(no_data, rng=rng(), draws=10).shape == (10, 2)


def test_mean_posterior_is_the_conjugate_normal() -> None:
    cells = MetricCells(
        n=[[50.0], [40.0]], total=[[100.0], [60.0]], total_sq=[[300.0], [150.0]], binary=False
    )
    est = stratified_estimate(cells)
    draws = mean_draws(cells, rng=rng(), draws=DRAWS, prior_mean=1.0, prior_sd=0.5)
    prec = 1 / est.variance + 1 / 0.25
    post_mean = (est.mean / est.variance + 1.0 / 0.25) / prec
    post_sd = np.sqrt(1 / prec)
    assert np.all(np.abs(draws.mean(axis=0) - post_mean) < 3 * post_sd / math.sqrt(DRAWS))
    np.testing.assert_allclose(draws.std(axis=0), post_sd, rtol=0.01)


def test_default_mean_prior_is_weak() -> None:
    cells = MetricCells(
        n=[[50.0], [40.0]], total=[[100.0], [60.0]], total_sq=[[300.0], [150.0]], binary=False
    )
    mu0, sd0 = default_mean_prior(cells)
    assert mu0 == pytest.approx(160 / 90)
    assert sd0 == pytest.approx(PRIOR_SD_SCALE * math.sqrt(450 / 90 - (160 / 90) ** 2))
    est = stratified_estimate(cells)
    draws = metric_draws(cells, rng=rng(), draws=DRAWS)
    # Shrinkage V / (V + sd0^2) is below 1e-3 of the distance to the prior mean.
    np.testing.assert_allclose(
        draws.mean(axis=0), est.mean, atol=4 * np.sqrt(est.variance.max()) / 400
    )
    np.testing.assert_allclose(draws.std(axis=0), np.sqrt(est.variance), rtol=0.01)


def test_same_seed_same_draws_other_seed_other_draws() -> None:
    cells = MetricCells.from_counts([[100, 50], [80, 90]], [[40, 20], [50, 30]])
    a = rate_draws(cells, rng=rng(7), draws=1000)
    b = rate_draws(cells, rng=rng(7), draws=1000)
    c = rate_draws(cells, rng=rng(8), draws=1000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert repr(compare(a, champion=0)) == repr(compare(b, champion=0))  # NaN != NaN


# --- compare --------------------------------------------------------------------------------------


def beta_prob_greater(a1: float, b1: float, a0: float, b0: float) -> float:
    """P(theta1 > theta0) = int f1(x) F0(x) dx."""
    value, _ = integrate.quad(
        lambda x: sps.beta.pdf(x, a1, b1) * sps.beta.cdf(x, a0, b0), 0, 1, limit=200
    )
    return float(value)


def beta_expected_shortfall(a1: float, b1: float, a0: float, b0: float) -> float:
    """E[max(theta0 - theta1, 0)] = int f1(x) E[(theta0 - x)+] dx.

    The inner expectation is closed-form: E[theta0 1{theta0 > x}] - x P(theta0 > x), with
    E[theta 1{theta > x}] = a / (a + b) * P(Beta(a + 1, b) > x).
    """

    def inner(x: float) -> float:
        upper = a0 / (a0 + b0) * sps.beta.sf(x, a0 + 1, b0)
        return float(upper - x * sps.beta.sf(x, a0, b0))

    value, _ = integrate.quad(lambda x: sps.beta.pdf(x, a1, b1) * inner(x), 0, 1, limit=200)
    return float(value)


def test_p_beat_and_expected_loss_match_numerical_integration() -> None:
    cells = one_stratum([400, 380], [200, 205])
    draws = rate_draws(cells, rng=rng(), draws=DRAWS)
    champion_ab = (201.0, 201.0)
    arm_ab = (206.0, 176.0)
    rows = compare(draws, champion=0)
    exact_beat = beta_prob_greater(*arm_ab, *champion_ab)
    assert abs(rows[1].p_beat - exact_beat) < 3 * math.sqrt(exact_beat * (1 - exact_beat) / DRAWS)
    exact_loss = beta_expected_shortfall(*arm_ab, *champion_ab)
    loss_sd = float(np.maximum(draws[:, 0] - draws[:, 1], 0).std())
    assert abs(rows[1].expected_loss - exact_loss) < 3 * loss_sd / math.sqrt(DRAWS)
    # Two arms: P(best) of the challenger is P(beat).
    assert rows[1].p_best == pytest.approx(rows[1].p_beat, abs=1e-12)
    # Champion row conventions.
    assert rows[0].uplift == 0.0
    assert math.isnan(rows[0].p_beat)
    assert rows[0].expected_loss == 0.0
    assert rows[0].expected_loss_vs_best > 0


def test_intervals_and_relative_uplift_are_sane() -> None:
    cells = one_stratum([2000, 2000], [1200, 1300])
    draws = rate_draws(cells, rng=rng(), draws=DRAWS)
    row = compare(draws, champion=0, level=0.9)[1]
    a1, b1, a0, b0 = 1301, 701, 1201, 801
    low, high = sps.beta.ppf([0.05, 0.95], a1, b1)
    assert row.low == pytest.approx(low, abs=2e-3)
    assert row.high == pytest.approx(high, abs=2e-3)
    sd = math.sqrt(sps.beta.var(a1, b1) + sps.beta.var(a0, b0))
    assert row.uplift == pytest.approx(a1 / (a1 + b1) - a0 / (a0 + b0), abs=3 * sd / 400)
    assert row.uplift_low < row.uplift < row.uplift_high
    assert row.rel_uplift_low < row.rel_uplift < row.rel_uplift_high
    # Relative uplift is about absolute uplift over the champion's rate (delta method).
    assert row.rel_uplift == pytest.approx(row.uplift / (a0 / (a0 + b0)), rel=0.01)
    assert row.rel_uplift_low == pytest.approx(row.uplift_low / 0.6, rel=0.05)


def test_relative_uplift_is_nan_when_the_champion_can_be_zero() -> None:
    draws = np.column_stack([np.linspace(-1, 1, 101), np.linspace(0, 2, 101)])
    row = compare(draws, champion=0)[1]
    assert math.isnan(row.rel_uplift)
    assert math.isnan(row.rel_uplift_low)
    assert row.uplift == pytest.approx(1.0)


def test_lower_is_better_flips_the_decision_figures() -> None:
    draws = rate_draws(one_stratum([500, 500, 500], [100, 80, 130]), rng=rng(), draws=50_000)
    up = compare(draws, champion=0)
    down = compare(draws, champion=0, higher_is_better=False)
    assert down[1].p_beat == pytest.approx(1 - up[1].p_beat)
    assert down[1].uplift == up[1].uplift  # uplift is always arm - champion
    assert int(np.argmax([r.p_best for r in down])) == 1
    assert int(np.argmax([r.p_best for r in up])) == 2
    assert down[2].expected_loss == pytest.approx(
        float(np.maximum(draws[:, 2] - draws[:, 0], 0).mean())
    )


def test_p_best_of_three_arms_matches_integration() -> None:
    cells = one_stratum([300, 300, 300], [150, 160, 155])
    draws = rate_draws(cells, rng=rng(), draws=DRAWS)
    ab = [(151.0, 151.0), (161.0, 141.0), (156.0, 146.0)]
    rows = compare(draws, champion=0)
    for i, row in enumerate(rows):

        def integrand(x: float, i: int = i) -> float:
            value = sps.beta.pdf(x, *ab[i])
            for j, (a, b) in enumerate(ab):
                if j != i:
                    value *= sps.beta.cdf(x, a, b)
            return float(value)

        exact, _ = integrate.quad(integrand, 0, 1, limit=200)
        assert abs(row.p_best - exact) < 3 * math.sqrt(exact * (1 - exact) / DRAWS) + 1e-12


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 50), st.integers(1, 4)),
        elements=st.floats(-100, 100, allow_nan=False),
    ),
    st.booleans(),
)
@settings(max_examples=80, deadline=None)
def test_compare_invariants(draws: np.ndarray, higher: bool) -> None:
    k = draws.shape[1]
    rows = compare(draws, champion=k - 1, higher_is_better=higher)
    assert sum(r.p_best for r in rows) == pytest.approx(1.0)
    sign = 1.0 if higher else -1.0
    for r in rows:
        assert r.expected_loss >= 0
        assert r.expected_loss_vs_best >= -1e-12
        assert r.low <= r.high  # an equal-tailed interval need not contain a skewed mean
        if r.arm != k - 1:
            assert 0 <= r.p_beat <= 1
            # E[(c - a)+] - E[(a - c)+] = E[c - a], signed by the direction of "better".
            gain = float(np.maximum(sign * (draws[:, r.arm] - draws[:, -1]), 0).mean())
            assert r.expected_loss - gain == pytest.approx(-sign * r.uplift, abs=1e-9)


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draws", "kwargs", "message"),
    [
        (np.zeros(5), {"champion": 0}, "shape \\(draws >= 2, arms >= 1\\)"),
        (np.zeros((1, 2)), {"champion": 0}, "shape"),
        (np.full((3, 2), np.nan), {"champion": 0}, "finite"),
        (np.zeros((3, 2)), {"champion": 2}, "champion must be an arm index in 0..1"),
        (np.zeros((3, 2)), {"champion": 0, "level": 1.0}, "level"),
    ],
)
def test_compare_rejects_bad_input(draws: np.ndarray, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare(draws, **kwargs)  # type: ignore[arg-type]


def test_posterior_functions_reject_bad_input() -> None:
    rates = one_stratum([10], [5])
    means = MetricCells(n=[[10.0]], total=[[5.0]], total_sq=[[5.0]], binary=False)
    with pytest.raises(ValueError, match="binary metric"):
        rate_draws(means, rng=rng())
    with pytest.raises(ValueError, match="prior Beta parameters"):
        rate_draws(rates, rng=rng(), prior_alpha=0.0)
    with pytest.raises(ValueError, match="at least 2 draws"):
        rate_draws(rates, rng=rng(), draws=1)
    with pytest.raises(ValueError, match="sd > 0"):
        mean_draws(means, rng=rng(), prior_sd=0.0)


def test_p_best_shares_ties_equally() -> None:
    # Three arms that never open a collection case (exactly 0 in every draw) and one that does:
    # lower is better, so the three tie for best and must share it, not crown the first.
    draws = np.zeros((1_000, 4))
    draws[:, 1] = 990.0
    rows = compare(draws, champion=0, higher_is_better=False)
    assert [r.p_best for r in rows] == pytest.approx([1 / 3, 0.0, 1 / 3, 1 / 3])
    assert rows[2].p_beat == 0.0, "equal is not better"
