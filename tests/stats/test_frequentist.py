"""Tests for engine.stats.frequentist: stratified z / Welch tests and the Holm correction.

With one stratum the tests must equal statsmodels' Wald two-proportion test and scipy's Welch
test to 1e-9 (relative); Holm must equal statsmodels' ``multipletests(method="holm")``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats import proportion as smp  # its test_* names would be collected
from statsmodels.stats.multitest import multipletests

from engine.stats.frequentist import compare_to_champion, holm
from engine.stats.strata import MetricCells

TOL = 1e-9


def cells_from_samples(samples: list[np.ndarray]) -> MetricCells:
    """One-stratum mean cells from raw samples, one array per arm."""
    return MetricCells(
        n=[[float(x.size)] for x in samples],
        total=[[float(x.sum())] for x in samples],
        total_sq=[[float((x**2).sum())] for x in samples],
        binary=False,
    )


@given(
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.floats(0, 1),
    st.floats(0, 1),
    st.sampled_from([0.9, 0.95, 0.99]),
)
@settings(max_examples=150, deadline=None)
def test_one_stratum_binary_equals_statsmodels_wald(
    n0: int, n1: int, f0: float, f1: float, level: float
) -> None:
    s0, s1 = math.floor(f0 * n0), math.floor(f1 * n1)
    p0, p1 = s0 / n0, s1 / n1
    if p0 * (1 - p0) + p1 * (1 - p1) == 0:
        return  # zero variance: statsmodels divides by zero; we return a reason instead
    cells = MetricCells.from_counts([[n0], [n1]], [[s0], [s1]])
    row = compare_to_champion(cells, champion=0, level=level)[1]
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels' ratio with p0 = 0
        ref = smp.test_proportions_2indep(s1, n1, s0, n0, compare="diff", method="wald")
    low, high = smp.confint_proportions_2indep(
        s1, n1, s0, n0, compare="diff", method="wald", alpha=1 - level
    )
    assert row.diff == pytest.approx(float(ref.diff), rel=TOL, abs=1e-15)
    assert row.statistic == pytest.approx(float(ref.statistic), rel=TOL)
    assert row.p_value == pytest.approx(float(ref.pvalue), rel=TOL, abs=1e-300)
    assert row.ci_low == pytest.approx(float(low), rel=TOL, abs=1e-12)
    assert row.ci_high == pytest.approx(float(high), rel=TOL, abs=1e-12)
    assert row.df == math.inf


@given(st.integers(0, 2**32 - 1), st.integers(2, 60), st.integers(2, 60))
@settings(max_examples=100, deadline=None)
def test_one_stratum_means_equal_scipy_welch(seed: int, n0: int, n1: int) -> None:
    gen = np.random.default_rng(seed)
    x0 = gen.gamma(2.0, 30.0, size=n0)
    x1 = gen.normal(70.0, 40.0, size=n1)
    row = compare_to_champion(cells_from_samples([x0, x1]), champion=0, small_cell=2)[1]
    ref = sps.ttest_ind(x1, x0, equal_var=False)
    ref_stats = sps.ttest_ind_from_stats(
        x1.mean(), x1.std(ddof=1), n1, x0.mean(), x0.std(ddof=1), n0, equal_var=False
    )
    ci = ref.confidence_interval(0.95)
    assert row.statistic == pytest.approx(float(ref_stats.statistic), rel=TOL)
    assert row.p_value == pytest.approx(float(ref_stats.pvalue), rel=TOL, abs=1e-300)
    assert row.df == pytest.approx(float(ref.df), rel=TOL)
    assert row.ci_low == pytest.approx(float(ci.low), rel=TOL, abs=1e-9)
    assert row.ci_high == pytest.approx(float(ci.high), rel=TOL, abs=1e-9)


def test_default_small_cell_rule_keeps_welch_in_one_stratum() -> None:
    """With one stratum the pooled within-period variance is the cell's own: still Welch."""
    x0 = np.array([1.0, 2.0, 3.0, 4.0])
    x1 = np.array([2.0, 5.0, 6.0, 9.0, 1.0])
    row = compare_to_champion(cells_from_samples([x0, x1]), champion=0)[1]
    ref = sps.ttest_ind(x1, x0, equal_var=False)
    assert row.p_value == pytest.approx(float(ref.pvalue), rel=TOL)
    assert row.df == pytest.approx(float(ref.df), rel=TOL)


def test_textbook_example_physicians_health_study() -> None:
    """Agresti (2007), *An Introduction to Categorical Data Analysis*, 2nd ed., sec. 2.2.

    Myocardial infarction: placebo 189 of 11,034, aspirin 104 of 11,037. Difference of
    proportions 0.0077, 95% Wald interval (0.005, 0.011) as printed (rounded).
    """
    cells = MetricCells.from_counts([[11037], [11034]], [[104], [189]])
    row = compare_to_champion(cells, champion=0)[1]  # placebo - aspirin
    assert row.diff == pytest.approx(0.0077, abs=5e-5)
    assert row.se == pytest.approx(0.0015, abs=5e-5)
    assert row.ci_low == pytest.approx(0.005, abs=5e-4)
    assert row.ci_high == pytest.approx(0.011, abs=5e-4)
    assert row.p_value < 1e-6


def test_stratified_z_test_by_hand() -> None:
    n = np.array([[300.0, 100.0], [100.0, 300.0]])
    s = np.array([[180.0, 40.0], [65.0, 135.0]])
    row = compare_to_champion(MetricCells.from_counts(n, s), champion=0)[1]
    w = np.array([0.5, 0.5])
    diff = float(w @ (s[1] / n[1] - s[0] / n[0]))
    p = s / n
    var = float(w**2 @ (p[0] * (1 - p[0]) / n[0] + p[1] * (1 - p[1]) / n[1]))
    assert row.diff == pytest.approx(diff, rel=1e-12)
    assert row.se == pytest.approx(math.sqrt(var), rel=1e-12)
    assert row.p_value == pytest.approx(2 * sps.norm.sf(abs(diff) / math.sqrt(var)), rel=1e-9)


def test_holm_across_challengers_equals_multipletests() -> None:
    n = np.full((5, 1), 2000.0)
    s = np.array([[1000.0], [1040.0], [1090.0], [1010.0], [1120.0]])
    rows = compare_to_champion(MetricCells.from_counts(n, s), champion=0)
    raw = [r.p_value for r in rows[1:]]
    expected = multipletests(raw, alpha=0.05, method="holm")[1]
    np.testing.assert_allclose([r.p_holm for r in rows[1:]], expected, rtol=1e-15)
    assert all(math.isnan(getattr(rows[0], f)) for f in ("diff", "p_value", "p_holm"))
    assert rows[0].reason == "champion"


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
@settings(max_examples=10, deadline=None)  # each multipletests("holm") call runs gc.collect()
def test_holm_equals_multipletests(p: list[float]) -> None:
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=0)


def test_holm_rejects_bad_p_values() -> None:
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        holm([0.5, 1.5])


def test_untestable_pairs_return_a_reason() -> None:
    n = np.array([[100.0, 0.0], [0.0, 100.0], [100.0, 100.0], [50.0, 0.0]])
    s = np.array([[0.0, 0.0], [0.0, 0.0], [50.0, 50.0], [0.0, 0.0]])
    rows = compare_to_champion(MetricCells.from_counts(n, s), champion=0)
    assert rows[1].reason == "no period with units in both arms"
    assert math.isnan(rows[1].p_value)
    assert rows[2].reason == ""
    assert rows[3].reason.startswith("zero standard error")
    assert rows[3].diff == 0.0
    # Holm runs over the one real test only.
    assert rows[2].p_holm == rows[2].p_value


def test_mean_with_single_units_is_not_estimable() -> None:
    cells = MetricCells(
        n=[[1.0], [1.0]], total=[[3.0], [5.0]], total_sq=[[9.0], [25.0]], binary=False
    )
    row = compare_to_champion(cells, champion=0)[1]
    assert row.diff == 2.0
    assert math.isnan(row.se)
    assert row.reason.startswith("variance not estimable")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"champion": 2}, "champion must be an arm index in 0..1"),
        ({"champion": -1}, "champion must be an arm index"),
        ({"champion": 0, "level": 0.0}, "level must be in \\(0, 1\\)"),
    ],
)
def test_compare_to_champion_rejects_bad_input(kwargs: dict[str, float], message: str) -> None:
    cells = MetricCells.from_counts([[10], [10]], [[5], [6]])
    with pytest.raises(ValueError, match=message):
        compare_to_champion(cells, **kwargs)  # type: ignore[arg-type]
