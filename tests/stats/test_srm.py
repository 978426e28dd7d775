"""Tests for engine.stats.srm: the bandit-aware sample-ratio mismatch check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from engine.stats.srm import expected_counts, srm_check


def test_expected_counts_sum_period_units_times_weights() -> None:
    assigned = np.array([[50.0, 10.0], [50.0, 90.0]])
    weights = np.array([[0.5, 0.1], [0.5, 0.9]])
    np.testing.assert_allclose(expected_counts(assigned, weights), [60.0, 140.0])


def test_healthy_split_with_changing_weights_is_not_flagged() -> None:
    gen = np.random.default_rng(11)
    weights = np.array([[1 / 3, 0.2, 0.1, 0.1], [1 / 3, 0.5, 0.7, 0.8], [1 / 3, 0.3, 0.2, 0.1]])
    assigned = np.column_stack([gen.multinomial(25_000, w) for w in weights.T])
    for method in ("pearson", "multinomial"):
        result = srm_check(assigned, weights, method=method)
        assert not result.flagged
        assert result.p_value > 0.001
        assert result.dof == 2


def test_three_percent_of_one_arm_dropped_in_100k_units_flags() -> None:
    """50/50 split, 100,000 units, exact expectations; then 3% of arm 0's rows are lost."""
    assigned = np.array([[50_000.0 * 0.97], [50_000.0]])
    result = srm_check(assigned, np.array([[0.5], [0.5]]))
    # Total 98,500: expected 49,250 each, deviations -/+750: chi2 = 2 * 750**2 / 49,250.
    assert result.chi2 == pytest.approx(2 * 750**2 / 49_250, rel=1e-12)
    assert result.p_value == pytest.approx(sps.chi2.sf(result.chi2, 1), rel=1e-12)
    assert result.p_value < 0.001
    assert result.flagged
    assert "p = " in result.reason


def test_zero_weight_arm_with_units_flags() -> None:
    assigned = np.array([[500.0, 480.0], [500.0, 515.0], [0.0, 5.0]])
    weights = np.array([[0.5, 0.5], [0.5, 0.5], [0.0, 0.0]])
    result = srm_check(assigned, weights)
    assert result.flagged
    assert result.p_value == 0.0
    assert math.isinf(result.chi2)
    assert "arms [2]" in result.reason


def test_units_in_a_period_where_the_arm_had_no_weight_flag() -> None:
    # Arm 1 had traffic in period 1 only; units in period 0 cannot come from the weights.
    assigned = np.array([[1000.0, 500.0], [3.0, 500.0]])
    weights = np.array([[1.0, 0.5], [0.0, 0.5]])
    result = srm_check(assigned, weights)
    assert result.flagged
    assert "periods [0]" in result.reason


def test_zero_weight_arm_without_units_is_left_out() -> None:
    assigned = np.array([[500.0], [500.0], [0.0]])
    weights = np.array([[0.5], [0.5], [0.0]])
    result = srm_check(assigned, weights)
    assert not result.flagged
    assert result.dof == 1
    assert result.chi2 == 0.0


@pytest.mark.parametrize(
    ("assigned", "weights"),
    [
        (np.zeros((2, 3)), np.full((2, 3), 0.5)),
        (np.array([[10.0], [0.0]]), np.array([[1.0], [0.0]])),
    ],
)
def test_nothing_to_test_is_a_reason_not_an_error(
    assigned: np.ndarray, weights: np.ndarray
) -> None:
    result = srm_check(assigned, weights)
    assert not result.flagged
    assert math.isnan(result.p_value)
    assert result.reason.startswith("nothing to test")


@given(
    st.lists(st.integers(1, 10_000), min_size=2, max_size=5),
    st.lists(st.floats(0.05, 1.0), min_size=5, max_size=5),
)
@settings(max_examples=80, deadline=None)
def test_one_period_pearson_equals_scipy_and_the_multinomial_wald(
    counts: list[int], raw_weights: list[float]
) -> None:
    k = len(counts)
    w = np.array(raw_weights[:k])
    w = w / w.sum()
    assigned = np.array(counts, dtype=float)[:, None]
    pearson = srm_check(assigned, w[:, None])
    ref = sps.chisquare(assigned[:, 0], assigned.sum() * w)
    assert pearson.chi2 == pytest.approx(float(ref.statistic), rel=1e-9)
    assert pearson.p_value == pytest.approx(float(ref.pvalue), rel=1e-9, abs=1e-300)
    # The Wald form with the multinomial covariance's pseudo-inverse is Pearson's statistic.
    wald = srm_check(assigned, w[:, None], method="multinomial")
    assert wald.chi2 == pytest.approx(pearson.chi2, rel=1e-6, abs=1e-9)
    assert wald.dof == pearson.dof == k - 1


@pytest.mark.parametrize(
    ("assigned", "weights", "kwargs", "message"),
    [
        ([[1, 2]], [[1.0, 1.0], [0.0, 0.0]], {}, "share one shape"),
        ([1, 2], [[0.5], [0.5]], {}, "shape \\(arms, periods\\)"),
        ([[-1], [2]], [[0.5], [0.5]], {}, "non-negative"),
        ([[1.5], [2]], [[0.5], [0.5]], {}, "whole"),
        ([[1], [2]], [[0.5], [0.6]], {}, "sum to 1"),
        ([[1], [2]], [[0.5], [0.5]], {"threshold": 0.0}, "threshold"),
        ([[1], [2]], [[0.5], [0.5]], {"method": "exact"}, "method"),
    ],
)
def test_srm_rejects_bad_input(
    assigned: object, weights: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        srm_check(assigned, weights, **kwargs)  # type: ignore[arg-type]
