"""The one challenger-vs-champion estimand (engine.stats.comparison): reference values,
identities, support, reasons and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from engine.ope import snips
from engine.stats.comparison import (
    NO_DATA,
    NO_OVERLAP,
    NOT_ESTIMABLE,
    OK,
    Cells,
    compare,
    holm,
    holm_adjusted,
    prob_best,
)

TOL = 1e-10


def _one_cell(y0: np.ndarray, y1: np.ndarray, *, binary: bool) -> Cells:
    n = [[y0.size, y1.size]]
    total = [[y0.sum(), y1.sum()]]
    if binary:
        return Cells.rate(n, total, [[0.5, 0.5]])
    return Cells.mean(n, total, [[(y0**2).sum(), (y1**2).sum()]], [[0.5, 0.5]])


@pytest.mark.parametrize(("binary", "seed"), [(True, 1), (True, 2), (False, 3), (False, 4)])
def test_one_cell_equals_statsmodels_unequal_variance_z(binary: bool, seed: int) -> None:
    """With one allocation period the estimate is the difference of means and its interval the
    unequal-variance z interval of statsmodels (sample variances, ddof 1)."""
    rng = np.random.default_rng(seed)
    if binary:
        y0, y1 = rng.binomial(1, 0.55, 400).astype(float), rng.binomial(1, 0.6, 300).astype(float)
    else:
        y0, y1 = rng.gamma(2.0, 20.0, 250), rng.gamma(2.2, 20.0, 180)
    result = compare(_one_cell(y0, y1, binary=binary), champion=0)
    reference = CompareMeans(DescrStatsW(y1), DescrStatsW(y0))
    low, high = reference.zconfint_diff(usevar="unequal")
    _, p_value = reference.ztest_ind(usevar="unequal")
    assert result.estimate[1] == pytest.approx(y1.mean() - y0.mean(), rel=TOL)
    assert result.interval()[0][1] == pytest.approx(low, rel=TOL)
    assert result.interval()[1][1] == pytest.approx(high, rel=TOL)
    assert result.p_value()[1] == pytest.approx(p_value, rel=1e-8)
    assert result.coverage[1] == 1.0
    assert result.reason.tolist() == [1, OK]


def test_textbook_example_physicians_health_study() -> None:
    """Agresti (2007), *An Introduction to Categorical Data Analysis*, 2nd ed., sec. 2.2.

    Myocardial infarction: placebo 189 of 11,034, aspirin 104 of 11,037. Difference of
    proportions 0.0077, 95% Wald interval (0.005, 0.011) as printed (rounded).
    """
    result = compare(Cells.rate([[11037, 11034]], [[104, 189]], [[0.5, 0.5]]), champion=0)
    low, high = result.interval()
    assert result.estimate[1] == pytest.approx(0.0077, abs=5e-5)
    assert result.standard_error()[1] == pytest.approx(0.0015, abs=5e-5)
    assert low[1] == pytest.approx(0.005, abs=5e-4)
    assert high[1] == pytest.approx(0.011, abs=5e-4)
    assert result.p_value()[1] < 1e-6


def test_hajek_within_a_stratum_equals_the_per_unit_formula_and_snips() -> None:
    """Across allocation periods with different splits, an arm's mean is the self-normalised
    inverse-propensity mean (= SNIPS of "always this arm") and its variance the linearised
    variance of that ratio, computed here from the units themselves."""
    rng = np.random.default_rng(7)
    probs = rng.uniform(0.1, 0.9, 6)
    n, total, squares, prob = [], [], [], []
    units: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
    for p1 in probs:
        row_n, row_t, row_s = [], [], []
        for arm, p in ((0, 1 - p1), (1, p1)):
            k = int(rng.binomial(60, p))
            y = rng.gamma(2.0, 10.0 + 5 * arm + 3 * p1, k)  # the outcome drifts with the split
            units[arm] += [(v, 1 / p) for v in y]
            row_n.append(k), row_t.append(y.sum()), row_s.append((y**2).sum())
        n.append(row_n), total.append(row_t), squares.append(row_s), prob.append([1 - p1, p1])
    result = compare(Cells.mean(n, total, squares, prob), champion=0, small_stratum=2)

    def hajek(arm: int) -> tuple[float, float]:
        y, w = (np.array(v) for v in zip(*units[arm], strict=True))
        m = float((w * y).sum() / w.sum())
        var = y.size / (y.size - 1) * float((w**2 * (y - m) ** 2).sum()) / w.sum() ** 2
        return m, var

    (m0, v0), (m1, v1) = hajek(0), hajek(1)
    assert result.level[0] == pytest.approx(m0, rel=TOL)
    assert result.level[1] == pytest.approx(m1, rel=TOL)
    assert result.estimate[1] == pytest.approx(m1 - m0, rel=TOL)
    assert result.variance[1] == pytest.approx(v0 + v1, rel=TOL)
    assert result.level_variance[1] == pytest.approx(v1, rel=TOL)
    # The same number as the off-policy estimator SNIPS for the policy "always arm 1".
    actions = np.concatenate([np.zeros(len(units[0])), np.ones(len(units[1]))]).astype(int)
    rewards = np.array([y for y, _ in units[0]] + [y for y, _ in units[1]])
    propensity = np.array([1 / w for _, w in units[0]] + [1 / w for _, w in units[1]])
    target = np.column_stack([np.zeros(actions.size), np.ones(actions.size)])
    ope = snips(actions, rewards, propensity, target, rng=np.random.default_rng(0), n_boot=10)
    assert ope.value == pytest.approx(m1, rel=TOL)


def test_strata_are_weighted_by_population_not_by_traffic() -> None:
    """A per-segment bandit gave the challenger 90% of a good segment and 10% of a bad one.
    The estimand weights each segment by its share of all randomised debtors (here 40/60);
    the Cochran-Mantel-Haenszel weights n_c n_k / (n_c + n_k) would not."""
    n = np.array([[40.0, 360.0], [570.0, 30.0]])  # (segment, arm): champion, challenger
    s = np.array([[20.0, 198.0], [342.0, 16.5]])  # challenger +5 pp in 0, -5 pp in 1
    s[1, 1] = 0.55 * 30
    prob = np.array([[0.1, 0.9], [0.95, 0.05]])
    result = compare(Cells.rate(n, s, prob, stratum=[0, 1]), champion=0)
    rates = s / n
    population = n.sum(axis=1) / n.sum()
    truth = float(population @ (rates[:, 1] - rates[:, 0]))
    assert result.estimate[1] == pytest.approx(truth, rel=TOL)
    h = n[:, 0] * n[:, 1] / n.sum(axis=1)
    cmh = float(h @ (rates[:, 1] - rates[:, 0]) / h.sum())
    assert abs(cmh - truth) > 0.01  # the weighting this replaced answers another question


def test_a_stopped_arm_does_not_freeze_the_other_comparisons() -> None:
    """Arm 1 stops after two periods: its comparison uses those periods; arm 2's uses all."""
    n = np.array([[100.0, 100, 100], [100, 100, 100], [150, 0, 150], [150, 0, 150]])
    s = np.round(n * np.array([0.5, 0.52, 0.56]))
    prob = np.array([[1 / 3, 1 / 3, 1 / 3]] * 2 + [[0.5, 0.0, 0.5]] * 2)
    cells = Cells.rate(n, s, prob)
    full = compare(cells, champion=0)
    early = compare(Cells.rate(n[:2], s[:2], prob[:2]), champion=0)
    assert full.estimate[1] == pytest.approx(early.estimate[1])
    assert full.pair_units[2] == 500
    assert full.pair_units[1] == 200
    later = n.copy()
    later[3] = [300, 0, 300]
    grown = compare(Cells.rate(later, np.round(later * [0.5, 0.52, 0.6]), prob), champion=0)
    assert grown.estimate[2] != pytest.approx(full.estimate[2])  # keeps moving with new data
    assert full.coverage[1] == pytest.approx(600 / 1200)  # the stopped pair covers its periods


def test_reasons_instead_of_numbers() -> None:
    nothing = compare(Cells.rate([[0, 0, 10]], [[0, 0, 5]], [[0.4, 0.3, 0.3]]), champion=2)
    assert nothing.reason.tolist() == [NO_DATA, NO_DATA, 1]
    assert np.isnan(nothing.estimate[0])
    assert np.isfinite(nothing.level[2])
    apart = compare(Cells.rate([[10, 0], [0, 10]], [[5, 0], [0, 5]], [[1, 0], [0, 1]]), champion=0)
    assert apart.reason[1] == NO_OVERLAP  # never live in the same cell
    strata = Cells.rate([[10, 0], [0, 10]], [[5, 0], [0, 5]], [[0.5, 0.5], [0.5, 0.5]], [0, 1])
    assert compare(strata, champion=0).reason[1] == NO_OVERLAP
    single = Cells.mean([[1, 1]], [[3.0, 4.0]], [[9.0, 16.0]], [[0.5, 0.5]])
    assert compare(single, champion=0).reason[1] == NOT_ESTIMABLE


def test_small_pure_strata_borrow_the_pooled_variance() -> None:
    """Three debtors who all paid: the stratum's variance is the arm's pooled within-stratum
    one, not zero, so the interval does not collapse."""
    n = np.array([[200.0, 200.0], [3.0, 3.0]])
    s = np.array([[110.0, 120.0], [3.0, 3.0]])
    result = compare(Cells.rate(n, s, [[0.5, 0.5]] * 2, stratum=[0, 1]), champion=0)
    w = n.sum(axis=1) / n.sum()
    # Each arm's s^2 (ddof 1) pooled over its strata by degrees of freedom: 199 in the big one,
    # 2 (with s^2 = 0) in the pure one.
    own = np.array([110 * 90 / 200 / 199, 120 * 80 / 200 / 199])
    pooled = own * 199 / 201
    expected = w[0] ** 2 * (own / 200).sum() + w[1] ** 2 * (pooled / 3).sum()
    assert result.variance[1] == pytest.approx(expected, rel=1e-9)


def test_relative_uplift_and_expected_loss_by_hand() -> None:
    result = compare(Cells.rate([[5000, 5000]], [[2500, 2650]], [[0.5, 0.5]]), champion=0)
    est, se = result.estimate[1], result.standard_error()[1]
    z = est / se
    assert result.prob_positive()[1] == pytest.approx(sps.norm.cdf(z))
    loss = se * sps.norm.pdf(z) - est * sps.norm.cdf(-z)
    assert result.expected_loss()[1] == pytest.approx(loss)
    assert result.expected_loss(higher_is_better=False)[1] == pytest.approx(loss + est)
    rel, low, high = result.relative()
    assert rel[1] == pytest.approx(0.03 / 0.5)
    assert low[1] < rel[1] < high[1]


def test_prob_best_of_two_is_the_posterior_of_the_difference() -> None:
    result = compare(Cells.rate([[4000, 4000]], [[2000, 2060]], [[0.5, 0.5]]), champion=0)
    best = prob_best(result, champion=0, rng=np.random.default_rng(1), draws=200_000)
    p = result.prob_positive()[1]
    assert best == pytest.approx([1 - p, p], abs=0.005)
    twins = compare(
        Cells.rate([[4000, 4000, 4000]], [[2000, 2100, 2100]], [[1 / 3] * 3]), champion=0
    )
    even = prob_best(twins, champion=0, rng=np.random.default_rng(2), draws=200_000)
    assert even[1] == pytest.approx(even[2], abs=0.01)
    assert even.sum() == pytest.approx(1.0)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_equals_multipletests(p: list[float]) -> None:
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])


def test_holm_adjusted_skips_rows_without_figures() -> None:
    result = compare(Cells.rate([[500, 500, 0]], [[250, 280, 0]], [[0.4, 0.3, 0.3]]), champion=0)
    adjusted = holm_adjusted(result)
    assert np.isnan(adjusted[0])
    assert np.isnan(adjusted[2])
    assert adjusted[1] == pytest.approx(result.p_value()[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": [[1.0, -1.0]]}, "whole, non-negative"),
        ({"prob": [[1.5, 0.5]]}, "prob must lie in"),
        ({"total": [[5.0, 1.0]], "total_sq": [[5.0, 1.0]], "n": [[3.0, 2.0]]}, "0 <= total <= n"),
        ({"stratum": [0, 1]}, "stratum must have shape"),
        ({"prob": [[0.5, 0.5, 0.5]]}, "does not broadcast"),
        ({"n": [[np.nan, 1.0]]}, "must be finite"),
    ],
)
def test_cells_reject_bad_input(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "n": [[4.0, 2.0]],
        "total": [[1.0, 1.0]],
        "total_sq": [[1.0, 1.0]],
        "prob": [[0.5, 0.5]],
        "stratum": [0],
        "binary": True,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Cells(**args)  # type: ignore[arg-type]


cells_strategy = st.integers(1, 6).flatmap(
    lambda c: st.tuples(
        st.lists(st.lists(st.integers(0, 40), min_size=3, max_size=3), min_size=c, max_size=c),
        st.lists(st.floats(0.05, 1.0), min_size=c * 3, max_size=c * 3),
        st.lists(st.integers(0, 2), min_size=c, max_size=c),
        st.integers(0, 2**31),
    )
)


@settings(max_examples=150, deadline=None)
@given(cells_strategy)
def test_invariants(data: tuple[list[list[int]], list[float], list[int], int]) -> None:
    """Weights are a distribution over the covered strata, the estimate is a convex combination
    of stratum differences, and rescaling one arm's probabilities in a cell changes nothing a
    Hajek mean depends on."""
    counts, raw, labels, seed = data
    n = np.array(counts, dtype=float)
    s = np.floor(n * np.random.default_rng(seed).uniform(0, 1, n.shape))
    prob = np.array(raw).reshape(n.shape)
    prob = prob / prob.sum(axis=1, keepdims=True)
    stratum = np.unique(labels, return_inverse=True)[1]
    result = compare(Cells.rate(n, s, prob, stratum), champion=0)
    for k in (1, 2):
        w = result.weights[:, k]
        if result.reason[k] == OK:
            assert w.sum() == pytest.approx(1.0)
            assert np.all(w >= 0)
            assert 0 < result.coverage[k] <= 1 + 1e-12
            assert -1 - 1e-9 <= result.estimate[k] <= 1 + 1e-9
            assert result.variance[k] >= 0
        else:
            assert math.isnan(result.estimate[k])
    same = compare(Cells.rate(n, s, prob * 0.5, stratum), champion=0)
    np.testing.assert_allclose(same.estimate, result.estimate, rtol=1e-9, atol=1e-12)
