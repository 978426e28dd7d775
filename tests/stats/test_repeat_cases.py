"""Repeat dunning cases: the customer, not the case, is the independent draw.

A customer late three times gives three cases whose outcomes are correlated (the same person
pays, or does not, for the same reasons). ``Cells.clustered`` carries the per-customer sums the
estimator needs; these tests hold it to statsmodels' cluster-robust OLS, to the one-case-per-unit
formula when every customer has one case, and, by simulation, to its nominal coverage where
treating cases as independent draws does not reach it.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from engine.stats.comparison import OK, Cells, compare

TOL = 1e-10


def _customers(
    rng: np.random.Generator, size: int, mean: float, icc: float
) -> tuple[np.ndarray, np.ndarray]:
    """Case counts ``M`` (1-3) and late-again totals ``Y`` of ``size`` customers whose own
    probability is Beta with the given mean and intra-customer correlation ``icc``."""
    strength = 1.0 / icc - 1.0
    p = rng.beta(mean * strength, (1.0 - mean) * strength, size)
    m = rng.choice([1, 2, 3], size=size, p=[0.4, 0.3, 0.3])
    return m.astype(float), rng.binomial(m, p).astype(float)


def _cell(m: np.ndarray, y: np.ndarray) -> tuple[float, ...]:
    return (m.size, m.sum(), (m**2).sum(), y.sum(), (y**2).sum(), (y * m).sum())


def _clustered(columns: list[tuple[float, ...]], prob: list[float]) -> Cells:
    n, cases, cases_sq, total, total_sq, cross = ([[c[i] for c in columns]] for i in range(6))
    return Cells.clustered(n, cases, cases_sq, total, total_sq, cross, [prob], binary=True)


def test_one_case_per_customer_is_the_per_unit_estimator() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(20, 60, size=(6, 3)).astype(float)
    successes = rng.binomial(n.astype(int), 0.4).astype(float)
    prob = np.array([[0.2, 0.3, 0.5]] * 3 + [[0.6, 0.2, 0.2]] * 3)
    stratum = [0, 1, 2, 0, 1, 2]
    plain = compare(Cells.rate(n, successes, prob, stratum), champion=0)
    same = compare(
        Cells.clustered(n, n, n, successes, successes, successes, prob, stratum, binary=True),
        champion=0,
    )
    for field in ("estimate", "variance", "level", "level_variance", "coverage"):
        np.testing.assert_allclose(getattr(same, field), getattr(plain, field), rtol=TOL)


def test_variance_equals_statsmodels_cluster_robust_ols() -> None:
    """One cell: the difference of per-case means, with the cluster-robust (CR0) variance of
    each arm's mean times its ``G / (G - 1)`` correction (arms are fitted as separate dummies,
    so their clusters do not mix and the two variances add)."""
    rng = np.random.default_rng(11)
    champion, challenger = _customers(rng, 120, 0.3, 0.5), _customers(rng, 90, 0.35, 0.5)
    result = compare(_clustered([_cell(*champion), _cell(*challenger)], [0.5, 0.5]), champion=0)

    # Case-level data: one row per case, a dummy per arm, the customer as the cluster.
    rows, arms, groups = [], [], []
    for arm, (m, y) in enumerate((champion, challenger)):
        for customer, (cases, late) in enumerate(zip(m.astype(int), y.astype(int), strict=True)):
            rows += [1.0] * late + [0.0] * (cases - late)
            arms += [arm] * cases
            groups += [arm * 1000 + customer] * cases
    design = np.column_stack([np.equal(arms, 0), np.equal(arms, 1)]).astype(float)
    fit = sm.OLS(np.array(rows), design).fit(
        cov_type="cluster", cov_kwds={"groups": np.array(groups), "use_correction": False}
    )
    corrected = [
        fit.cov_params()[a, a] * size / (size - 1.0)
        for a, size in enumerate((champion[0].size, challenger[0].size))
    ]
    assert result.reason[1] == OK
    assert result.estimate[1] == pytest.approx(fit.params[1] - fit.params[0], rel=TOL)
    assert result.variance[1] == pytest.approx(sum(corrected), rel=1e-9)
    assert result.level[0] == pytest.approx(fit.params[0], rel=TOL)


def _aa_runs(replicates: int, seed: int) -> tuple[Cells, Cells]:
    """A/A experiments with repeat cases, the hard way: four segments with different rates,
    two allocation periods (50/50, then a bandit-like 80/20), 1-3 cases per customer and a
    strong intra-customer correlation. Returns the customer-level cells and the same data with
    every case counted as an independent unit."""
    rng = np.random.default_rng(seed)
    strata, periods, per_cell = 4, 2, 90
    mean = np.array([0.15, 0.3, 0.45, 0.6])
    prob = np.array([[0.5, 0.5], [0.8, 0.2]])
    cells = strata * periods
    size = replicates * cells * per_cell
    run = np.repeat(np.arange(replicates), cells * per_cell)
    cell = np.tile(np.repeat(np.arange(cells), per_cell), replicates)
    stratum, period = cell % strata, cell // strata
    strength = 1.0 / 0.5 - 1.0
    p = rng.beta(mean[stratum] * strength, (1.0 - mean[stratum]) * strength)
    m = rng.choice([1, 2, 3], size=size, p=[0.4, 0.3, 0.3]).astype(float)
    y = rng.binomial(m.astype(int), p).astype(float)
    arm = (rng.random(size) >= prob[period, 0]).astype(int)
    index = (run * cells + cell) * 2 + arm

    def summed(values: np.ndarray) -> np.ndarray:
        return np.bincount(index, values, replicates * cells * 2).reshape(replicates, cells, 2)

    ones = np.ones(size)
    sums = [summed(v) for v in (ones, m, m * m, y, y * y, y * m)]
    labels = np.arange(cells) % strata
    weights = np.repeat(prob, strata, axis=0)
    customers = Cells.clustered(*sums, weights, labels, binary=True)
    naive = Cells.rate(sums[1], sums[3], weights, labels)
    return customers, naive


@pytest.mark.slow
def test_aa_coverage_with_repeat_cases_customer_level_vs_cases_as_independent() -> None:
    """Nominal 95%: the customer-level interval covers the A/A truth (0) 93-97% of the time;
    counting cases as independent draws makes it too narrow (about 87% here)."""
    replicates = 2000
    customers, naive = _aa_runs(replicates, seed=20261202)
    coverage = {}
    for name, cells in (("customers", customers), ("cases", naive)):
        result = compare(cells, champion=0)
        low, high = result.interval()
        assert np.all(result.reason[:, 1] == OK)
        coverage[name] = float(np.mean((low[:, 1] <= 0.0) & (high[:, 1] >= 0.0)))
    print(f"A/A coverage of 95% intervals over {replicates} runs: {coverage}")
    assert 0.93 <= coverage["customers"] <= 0.97
    assert coverage["cases"] < 0.92


@pytest.mark.parametrize(
    ("cases", "cases_sq", "cross", "message"),
    [
        ([[5.0, 3.0]], [[5.0, 3.0]], None, "give all three or none"),
        ([[3.0, 3.0]], [[3.0, 3.0]], [[1.0, 1.0]], "at least one case"),
        ([[5.0, 4.0]], [[4.0, 4.0]], [[1.0, 1.0]], "cases_sq >= cases"),
        ([[5.0, 4.0]], [[5.0, 4.0]], [[1.0, np.inf]], "finite"),
    ],
)
def test_clustered_cells_reject_inconsistent_sums(
    cases: list[list[float]],
    cases_sq: list[list[float]],
    cross: list[list[float]] | None,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        Cells(
            np.array([[4.0, 4.0]]), np.array([[1.0, 1.0]]), np.array([[1.0, 1.0]]),
            np.array([[0.5, 0.5]]), np.array([0]), True, None if cases is None else
            np.array(cases), np.array(cases_sq), None if cross is None else np.array(cross),
        )  # fmt: skip
