"""Tests for engine.stats.strata: MetricCells, period grouping, post-stratified estimates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.stats.strata import (
    MetricCells,
    cell_variances,
    comparison_support,
    group_periods,
    period_weights,
    stratified_difference,
    stratified_estimate,
)


def binary_cells(n: list[list[float]], s: list[list[float]]) -> MetricCells:
    return MetricCells.from_counts(np.array(n, dtype=float), np.array(s, dtype=float))


@st.composite
def count_cells(draw: st.DrawFn) -> MetricCells:
    """Binary cells of 1-4 arms x 1-6 periods with at least one unit per cell."""
    k = draw(st.integers(1, 4))
    p = draw(st.integers(1, 6))
    n = draw(st.lists(st.integers(1, 500), min_size=k * p, max_size=k * p))
    frac = draw(st.lists(st.floats(0, 1), min_size=k * p, max_size=k * p))
    n_arr = np.array(n, dtype=float).reshape(k, p)
    s_arr = np.floor(np.array(frac).reshape(k, p) * n_arr)
    return MetricCells.from_counts(n_arr, s_arr)


# --- MetricCells ----------------------------------------------------------------------------------


def test_cells_are_copied_and_read_only() -> None:
    n = np.array([[10.0, 20.0]])
    cells = MetricCells.from_counts(n, [[5.0, 5.0]])
    n[0, 0] = 99
    assert cells.n[0, 0] == 10
    with pytest.raises(ValueError, match="read-only"):
        cells.n[0, 0] = 1


def test_add_pools_segments_and_pooled_sums_periods() -> None:
    a = binary_cells([[10, 20], [5, 5]], [[3, 4], [1, 2]])
    b = binary_cells([[1, 2], [3, 4]], [[1, 0], [0, 4]])
    total = a + b
    np.testing.assert_array_equal(total.n, [[11, 22], [8, 9]])
    np.testing.assert_array_equal(total.total, [[4, 4], [1, 6]])
    np.testing.assert_array_equal(a.pooled().n, [[30], [10]])
    np.testing.assert_array_equal(a.pooled().total, [[7], [3]])


def test_take_periods_merges_same_labels_in_order_of_appearance() -> None:
    cells = binary_cells([[1, 2, 4, 8]], [[0, 1, 2, 3]])
    merged = cells.take_periods(["b", "b", "a", "b"])
    np.testing.assert_array_equal(merged.n, [[11, 4]])
    np.testing.assert_array_equal(merged.total, [[4, 2]])


def test_take_arms_selects_rows() -> None:
    cells = binary_cells([[1], [2], [3]], [[0], [1], [2]])
    np.testing.assert_array_equal(cells.take_arms([2, 0]).n, [[3], [1]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": [1, 2], "total": [1, 2], "total_sq": [1, 2]}, "shape \\(arms, periods\\)"),
        ({"n": [[1, 2]], "total": [[1]], "total_sq": [[1, 2]]}, "share one shape"),
        ({"n": [[-1.0]], "total": [[0.0]], "total_sq": [[0.0]]}, "n must be >= 0"),
        ({"n": [[1.5]], "total": [[1.0]], "total_sq": [[1.0]]}, "whole numbers"),
        ({"n": [[np.nan]], "total": [[0.0]], "total_sq": [[0.0]]}, "finite"),
        ({"n": [[0.0]], "total": [[1.0]], "total_sq": [[1.0]]}, "n = 0 must have total"),
        ({"n": [[5.0]], "total": [[6.0]], "total_sq": [[6.0]]}, "0 <= total <= n"),
        ({"n": [[5.0]], "total": [[2.0]], "total_sq": [[3.0]]}, "total_sq == total"),
        ({"n": [[5.0]], "total": [[10.0]], "total_sq": [[-1.0]], "binary": False}, ">= 0"),
        ({"n": [[4.0]], "total": [[10.0]], "total_sq": [[20.0]], "binary": False}, "Cauchy"),
        ({"n": np.zeros((0, 2)), "total": np.zeros((0, 2)), "total_sq": np.zeros((0, 2))}, "least"),
    ],
)
def test_cells_validation(kwargs: dict[str, object], message: str) -> None:
    args = {"binary": True, **kwargs}
    with pytest.raises(ValueError, match=message):
        MetricCells(**args)  # type: ignore[arg-type]


def test_cells_report_all_errors_at_once() -> None:
    with pytest.raises(ValueError, match=r"n must be >= 0.*whole numbers"):
        MetricCells.from_counts([[-1.5]], [[0.0]])


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (MetricCells.from_counts([[1, 2]], [[0, 0]]), "shapes"),
        (MetricCells([[1.0]], [[0.5]], [[0.25]], binary=False), "binary"),
    ],
)
def test_add_rejects_mismatched_cells(other: MetricCells, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _ = MetricCells.from_counts([[1.0]], [[1.0]]) + other


def test_take_periods_and_arms_validate() -> None:
    cells = binary_cells([[1, 2]], [[0, 1]])
    with pytest.raises(ValueError, match="labels must have shape"):
        cells.take_periods([0])
    with pytest.raises(ValueError, match="arm indices"):
        cells.take_arms([1])


# --- group_periods --------------------------------------------------------------------------------


def test_group_periods_merges_only_consecutive_identical_columns() -> None:
    w = np.array([[0.5, 0.5, 0.2, 0.2, 0.5, 0.5], [0.5, 0.5, 0.8, 0.8, 0.5, 0.5]])
    np.testing.assert_array_equal(group_periods(w), [0, 0, 1, 1, 2, 2])


def test_fixed_split_is_one_stratum() -> None:
    w = np.tile([[0.8], [0.1], [0.1]], (1, 30))
    np.testing.assert_array_equal(group_periods(w), np.zeros(30))


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([0.5, 0.5], "shape \\(arms, periods\\)"),
        ([[0.5, 0.6], [0.5, 0.5]], "sum to 1; periods \\[1\\]"),
        ([[-0.5], [1.5]], ">= 0"),
        ([[np.nan], [1.0]], "finite"),
    ],
)
def test_group_periods_validates_weights(weights: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        group_periods(weights)  # type: ignore[arg-type]


@given(st.lists(st.integers(0, 2), min_size=1, max_size=30))
def test_group_periods_labels_count_changes(pattern: list[int]) -> None:
    """Labels start at 0, step by one exactly where the column changes."""
    choices = np.array([[0.5, 0.2, 0.1], [0.5, 0.8, 0.9]])
    w = choices[:, pattern]
    labels = group_periods(w)
    assert labels[0] == 0
    steps = np.diff(labels)
    changes = np.diff(pattern) != 0
    np.testing.assert_array_equal(steps, changes.astype(int))


# --- stratified_estimate --------------------------------------------------------------------------


@given(count_cells())
@settings(max_examples=60, deadline=None)
def test_one_period_equals_pooled_and_weights_sum_to_one(cells: MetricCells) -> None:
    est = stratified_estimate(cells)
    assert est.weights.sum() == pytest.approx(1.0, abs=1e-12)
    pooled = stratified_estimate(cells.pooled())
    assert pooled.weights.tolist() == [1.0]
    naive = cells.pooled().total[:, 0] / cells.pooled().n[:, 0]
    np.testing.assert_allclose(pooled.mean, naive, rtol=1e-12, atol=1e-15)
    # One stratum: the small-cell rule borrows the arm's pooled rate, which is the cell's rate.
    expected_var = naive * (1 - naive) / cells.pooled().n[:, 0]
    np.testing.assert_allclose(pooled.variance, expected_var, rtol=1e-12, atol=1e-18)


@given(count_cells())
@settings(max_examples=60, deadline=None)
def test_stratified_mean_is_a_convex_combination_of_cell_means(cells: MetricCells) -> None:
    est = stratified_estimate(cells)
    means = cells.cell_means()
    assert np.all(est.mean >= means.min(axis=1) - 1e-12)
    assert np.all(est.mean <= means.max(axis=1) + 1e-12)
    assert np.all(est.weights >= 0)


def test_stratified_estimate_by_hand() -> None:
    # Two periods; N_1 = 300, N_2 = 100, so w = (0.75, 0.25).
    cells = binary_cells([[100, 50], [200, 50]], [[60, 20], [130, 25]])
    est = stratified_estimate(cells)
    np.testing.assert_allclose(est.weights, [0.75, 0.25], rtol=1e-15)
    np.testing.assert_allclose(est.mean, [0.75 * 0.6 + 0.25 * 0.4, 0.75 * 0.65 + 0.25 * 0.5])
    var0 = 0.75**2 * 0.6 * 0.4 / 100 + 0.25**2 * 0.4 * 0.6 / 50
    var1 = 0.75**2 * 0.65 * 0.35 / 200 + 0.25**2 * 0.5 * 0.5 / 50
    np.testing.assert_allclose(est.variance, [var0, var1], rtol=1e-12)


def test_stratification_removes_simpsons_paradox() -> None:
    """Arm 1 is better by 5 pp in every period but got its traffic when the baseline was low."""
    n = np.array([[900.0, 100.0], [100.0, 900.0]])
    p = np.array([[0.70, 0.40], [0.75, 0.45]])
    cells = MetricCells.from_counts(n, n * p)
    pooled = cells.pooled().cell_means()[:, 0]
    assert pooled[1] - pooled[0] < -0.15  # naive: the better arm looks far worse
    est = stratified_estimate(cells)
    assert est.mean[1] - est.mean[0] == pytest.approx(0.05, abs=1e-12)


def test_empty_cells_drop_the_period_and_renormalise() -> None:
    # Arm 2 has no unit in period 0: the period is dropped for everyone.
    cells = binary_cells([[100, 100], [100, 100], [0, 100]], [[50, 40], [60, 50], [0, 45]])
    support = comparison_support(cells)
    np.testing.assert_array_equal(support, [False, True])
    est = stratified_estimate(cells)
    np.testing.assert_array_equal(est.weights, [0.0, 1.0])
    np.testing.assert_allclose(est.mean, [0.4, 0.5, 0.45])
    # The pair without arm 2 keeps both periods.
    d = stratified_difference(cells, arm=1, reference=0)
    np.testing.assert_allclose(d.weights, [0.5, 0.5])
    assert d.diff == pytest.approx(0.1)


def test_arm_without_data_gets_nan_and_does_not_erase_the_others() -> None:
    cells = binary_cells([[100, 100], [0, 0]], [[50, 40], [0, 0]])
    est = stratified_estimate(cells)
    assert est.mean[0] == pytest.approx(0.45)
    assert np.isnan(est.mean[1])
    assert np.isnan(est.variance[1])
    d = stratified_difference(cells, arm=1, reference=0)
    assert np.isnan(d.diff)


def test_no_data_at_all_gives_zero_weights() -> None:
    cells = binary_cells([[0, 0]], [[0, 0]])
    np.testing.assert_array_equal(period_weights(cells), [0.0, 0.0])
    assert np.isnan(stratified_estimate(cells).mean[0])


def test_small_binary_cells_use_the_arms_pooled_rate() -> None:
    # Period 1 of arm 0 has 5 units, all paid: p_hat (1 - p_hat) = 0 would claim certainty.
    cells = binary_cells([[95, 5]], [[45, 5]])
    var = cell_variances(cells)
    assert var.s2[0, 0] == pytest.approx(45 / 95 * 50 / 95)
    assert var.s2[0, 1] == pytest.approx(0.5 * 0.5)
    np.testing.assert_array_equal(var.pooled, [[False, True]])


def test_small_mean_cells_use_the_pooled_within_period_variance() -> None:
    # Period 0: 20 units, y in {0, 2}: mean 1, SS = 20. Period 1: one unit (no variance).
    cells = MetricCells(n=[[20.0, 1.0]], total=[[20.0, 7.0]], total_sq=[[40.0, 49.0]], binary=False)
    var = cell_variances(cells)
    assert var.s2[0, 0] == pytest.approx(20 / 19)
    assert var.s2[0, 1] == pytest.approx(20 / 19)  # pooled within-period, not the drift between
    assert var.arm_df[0] == 19


def test_welch_df_of_one_stratum_is_welch() -> None:
    cells = MetricCells(
        n=[[30.0], [40.0]], total=[[60.0], [100.0]], total_sq=[[200.0], [400.0]], binary=False
    )
    d = stratified_difference(cells, arm=1, reference=0)
    s2 = np.array([(200 - 60**2 / 30) / 29, (400 - 100**2 / 40) / 39])
    v = s2 / np.array([30, 40])
    assert d.variance == pytest.approx(v.sum(), rel=1e-12)
    assert d.df == pytest.approx(v.sum() ** 2 / (v[0] ** 2 / 29 + v[1] ** 2 / 39), rel=1e-12)
