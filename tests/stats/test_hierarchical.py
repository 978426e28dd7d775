"""Tests for engine.stats.hierarchical: the exact path, its validation against MCMC, refusal.

Tolerances: the exact path against an independent brute-force quadrature 1e-4; against NUTS on
the same model (the model of record is the exact path) ``MEAN_TOLERANCE`` = 0.005 on posterior
means and ``INTERVAL_TOLERANCE`` = 0.01 on 95% interval endpoints of every cell with data, P(best)
within 0.05 (both sides are Monte Carlo there); a cell without data, whose posterior is nearly
as wide as the population, within 0.01 (mean) and 0.04 (endpoints), because there the MCMC's
own Monte Carlo error of a tail quantile is about 0.01.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import numpy.typing as npt
import pytest
from scipy import special

from engine.simulate import ARMS, DEBTOR_TYPES, DEFAULT_SCENARIO, true_pay_rate
from engine.stats.hierarchical import (
    ESS_MIN,
    INTERVAL_TOLERANCE,
    MEAN_TOLERANCE,
    RHAT_MAX,
    NotConvergedError,
    SegmentFit,
    fit_segments,
)

EMPTY_MEAN_TOLERANCE = 0.01
EMPTY_INTERVAL_TOLERANCE = 0.04
P_BEST_TOLERANCE = 0.05

TRUTH = np.array(
    [[true_pay_rate(a, window_days=14.0, debtor_type=t) for a in ARMS] for t in DEBTOR_TYPES]
)


def simulated(units_per_arm: int, seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(successes, n), shape (16, 4): type shares x units per arm, binomial successes."""
    rng = np.random.default_rng(seed)
    n = np.rint(np.outer(DEFAULT_SCENARIO.shares(), np.full(len(ARMS), units_per_arm)))
    n = n.astype(np.int64)
    return rng.binomial(n, TRUTH).astype(np.int64), n


def fit(successes: npt.ArrayLike, n: npt.ArrayLike, **kwargs: object) -> SegmentFit:
    y = np.asarray(successes)
    segments = kwargs.pop("segments", [f"s{i}" for i in range(y.shape[0])])
    arms = kwargs.pop("arms", [f"a{j}" for j in range(y.shape[1])])
    return fit_segments(y, n, segments=segments, arms=arms, seed=7, **kwargs)


# --- exact path ------------------------------------------------------------------------------


def test_shapes_labels_and_invariants() -> None:
    successes, n = simulated(2_000, seed=1)
    result = fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=3)
    for array in (result.means, result.low, result.high, result.p_best):
        assert array.shape == (16, 4)
    assert result.pooled_means.shape == (4,)
    assert result.method == "exact"
    assert result.converged
    assert result.reason is None
    assert result.seed == 3
    assert result.segments == DEBTOR_TYPES
    assert result.arms == ARMS
    assert np.all(result.low < result.means)
    assert np.all(result.means < result.high)
    np.testing.assert_allclose(result.p_best.sum(axis=1), 1.0, atol=1e-12)
    assert result.best_arm == tuple(ARMS[i] for i in result.p_best.argmax(axis=1))
    assert result.diagnostics["max_edge_density"] <= 1e-9
    assert result.seconds > 0


def test_same_seed_same_result() -> None:
    successes, n = simulated(2_000, seed=1)
    a = fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=5)
    b = fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=5)
    np.testing.assert_array_equal(a.p_best, b.p_best)
    np.testing.assert_array_equal(a.low, b.low)


def brute_force(y: npt.NDArray[np.float64], n: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Posterior mean of theta_0 and E[mu] by a dense grid directly on (mu, v), no transforms."""
    grid = (np.arange(1200) + 0.5) / 1200
    mu, v = np.meshgrid(grid, grid, indexing="ij")
    kappa = v**-2.0
    a, b = (mu * kappa)[..., None], ((1 - mu) * kappa)[..., None]
    logp = (special.betaln(a + y, b + n - y) - special.betaln(a, b)).sum(axis=-1)
    w = np.exp(logp - logp.max())
    w /= w.sum()
    theta0 = (w * (a[..., 0] + y[0]) / (kappa + n[0])).sum()
    return float(theta0), float((w * mu).sum())


def test_exact_path_matches_brute_force_quadrature() -> None:
    y = np.array([3.0, 12.0, 40.0, 7.0])
    n = np.array([10.0, 30.0, 80.0, 25.0])
    result = fit(y[:, None], n[:, None])
    theta0, mu = brute_force(y, n)
    assert result.means[0, 0] == pytest.approx(theta0, abs=1e-4)
    assert result.pooled_means[0] == pytest.approx(mu, abs=1e-4)


def test_partial_pooling_shrinks_small_segments_towards_the_arm_mean() -> None:
    rng = np.random.default_rng(2)
    rates = rng.uniform(0.45, 0.55, size=16)
    n = np.full(16, 1_000)
    y = np.rint(rates * n)
    n[0], y[0] = 10, 10  # a tiny segment: every one of 10 debtors paid (raw rate 1.0)
    n[1], y[1] = 5_000, 3_500  # a large segment, also far from the others (raw rate 0.7)
    result = fit(y[:, None], n[:, None])
    pooled = result.pooled_means[0]
    small, large = result.means[0, 0], result.means[1, 0]
    assert pooled == pytest.approx(0.5, abs=0.03)
    # The small segment moves most of the way to the pool, the large one barely moves.
    assert (1.0 - small) / (1.0 - pooled) > 0.5
    assert abs(large - 0.7) < 0.005
    # Shrinkage never overshoots the pooled mean.
    raw = y / n
    assert np.all((result.means[:, 0] - pooled) * (raw - pooled) >= -1e-12)


def test_segment_without_data_gets_the_pooled_estimate_with_a_wide_interval() -> None:
    successes, n = simulated(2_000, seed=4)
    successes[5, :], n[5, :] = 0, 0
    result = fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=1)
    # E[theta_s | y] = E[mu | y] when segment s has no data (the population mean).
    np.testing.assert_allclose(result.means[5], result.pooled_means, atol=1e-6)
    widths = result.high - result.low
    assert np.all(widths[5] > np.delete(widths, 5, axis=0).max(axis=0))
    assert np.all(widths[5] > 0.3)


def test_recovers_simulated_truths() -> None:
    successes, n = simulated(20_000, seed=6)
    result = fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=1)
    covered = (result.low <= TRUTH) & (result.high >= TRUTH)
    assert covered.mean() >= 0.85
    assert np.abs(result.means - TRUTH).mean() < 0.015
    # The chosen champion per type is within 2.5 pp of the truly best arm (ties are common; a
    # small type has ~600 units per arm) and the truly best arms are never ruled out.
    chosen = TRUTH[np.arange(16), result.p_best.argmax(axis=1)]
    assert np.all(TRUTH.max(axis=1) - chosen < 0.025)
    truly_best = np.isclose(TRUTH, TRUTH.max(axis=1, keepdims=True))
    assert np.all((result.p_best * truly_best).sum(axis=1) >= 0.05)


@pytest.mark.parametrize(
    ("successes", "n", "message"),
    [
        (np.zeros((2, 3)), np.ones((2, 2)), "shape"),
        (np.full((2, 2), 3), np.full((2, 2), 2), "successes <= n"),
        (np.full((2, 2), -1), np.full((2, 2), 2), "successes <= n"),
        (np.full((2, 2), 0.5), np.full((2, 2), 2), "whole numbers"),
        (np.full((2, 2), np.nan), np.full((2, 2), 2), "finite"),
    ],
)
def test_invalid_counts_are_rejected(
    successes: npt.NDArray[np.float64], n: npt.NDArray[np.float64], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit_segments(successes, n, segments=["a", "b"], arms=["x", "y"], seed=0)


def test_invalid_settings_are_rejected() -> None:
    y, n = np.zeros((2, 2)), np.ones((2, 2))
    with pytest.raises(ValueError, match="unique"):
        fit_segments(y, n, segments=["a", "a"], arms=["x", "y"], seed=0)
    with pytest.raises(ValueError, match="unknown method"):
        fit_segments(y, n, segments=["a", "b"], arms=["x", "y"], seed=0, method="vi")
    with pytest.raises(ValueError, match="level"):
        fit_segments(y, n, segments=["a", "b"], arms=["x", "y"], seed=0, level=1.0)


def test_importing_the_module_does_not_import_pymc() -> None:
    code = (
        "import sys, engine.stats.hierarchical; "
        "bad = [m for m in ('pymc', 'pytensor', 'arviz', 'nutpie') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- MCMC (slow: PyTensor compiles C code on first use) -------------------------------------


@pytest.fixture(scope="module")
def validation_data() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Small cells (about 70 units) and one empty cell, where pooling matters most."""
    successes, n = simulated(2_000, seed=11)
    successes[5, 2], n[5, 2] = 0, 0
    return successes, n


@pytest.fixture(scope="module")
def nuts_fit(
    validation_data: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> SegmentFit:
    successes, n = validation_data
    # 4 x 2,500 draws: the quantile Monte Carlo error (~0.002) stays well inside the tolerance.
    return fit_segments(
        successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=1, method="nuts", draws=2_500
    )


def assert_agree(exact: SegmentFit, mcmc: SegmentFit, *, has_data: npt.NDArray[np.bool_]) -> None:
    """The stated tolerances; the empty cell's looser ones are the MCMC's own error there."""
    mean_err = np.abs(exact.means - mcmc.means)
    end_err = np.maximum(np.abs(exact.low - mcmc.low), np.abs(exact.high - mcmc.high))
    assert mean_err[has_data].max() <= MEAN_TOLERANCE
    assert end_err[has_data].max() <= INTERVAL_TOLERANCE
    # Without data a cell's posterior is about as wide as the population (interval ~0.87 wide):
    # the Monte Carlo error of its 2.5% / 97.5% quantiles is ~0.01 at 1,600 tail-ESS.
    assert mean_err[~has_data].max(initial=0.0) <= EMPTY_MEAN_TOLERANCE
    assert end_err[~has_data].max(initial=0.0) <= EMPTY_INTERVAL_TOLERANCE
    assert np.abs(exact.pooled_means - mcmc.pooled_means).max() <= MEAN_TOLERANCE
    assert np.abs(exact.p_best - mcmc.p_best).max() <= P_BEST_TOLERANCE


@pytest.mark.slow
def test_nuts_converges_and_reports_its_diagnostics(nuts_fit: SegmentFit) -> None:
    d = nuts_fit.diagnostics
    assert nuts_fit.converged
    assert nuts_fit.method == "nuts"
    assert d["max_rhat"] <= RHAT_MAX
    assert d["min_ess_bulk"] >= ESS_MIN
    assert d["min_ess_tail"] >= ESS_MIN
    assert d["divergences"] == 0
    assert d["chains"] == 4


@pytest.mark.slow
def test_exact_path_agrees_with_nuts_on_the_same_model(
    validation_data: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]], nuts_fit: SegmentFit
) -> None:
    successes, n = validation_data
    exact = fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=1)
    assert_agree(exact, nuts_fit, has_data=n > 0)


@pytest.mark.slow
def test_a_fit_that_did_not_converge_is_refused_with_a_reason(
    validation_data: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> None:
    successes, n = validation_data
    kwargs = {"method": "nuts", "draws": 20, "tune": 0, "chains": 2}
    with pytest.raises(NotConvergedError) as info:
        fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=1, **kwargs)
    assert "R-hat" in info.value.reason or "ESS" in info.value.reason
    assert info.value.diagnostics["min_ess_bulk"] < ESS_MIN
    assert not info.value.fit.converged
    # A batch job may ask for the flagged result instead; it carries the same reason.
    flagged = fit_segments(
        successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=1, on_failure="return", **kwargs
    )
    assert not flagged.converged
    assert flagged.reason == info.value.reason


@pytest.mark.slow
def test_nutpie_path_converges_and_agrees(
    validation_data: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> None:
    pytest.importorskip("nutpie")
    successes, n = validation_data
    # 4 x 3,000 draws: the tolerance applies to the max over 128 interval endpoints, and with the
    # default 1,000 draws per chain the Monte Carlo error of a 2.5% quantile (~0.004 in the
    # widest cells) alone reaches 0.01 at about 3 standard errors.
    result = fit_segments(
        successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=1, method="nutpie", draws=3_000
    )
    exact = fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=1)
    assert result.converged
    assert result.diagnostics["divergences"] == 0
    assert_agree(exact, result, has_data=n > 0)
