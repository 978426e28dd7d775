"""Simulation study: coverage, bias and SRM behaviour under a fixed split and under a bandit.

Scenario (DOMAIN.md: real effects are a few points on rates around 50-80%):

* 3 arms: champion (0), a challenger with a constant additive effect of +3 pp (1), and a
  challenger with no effect (2);
* 90 daily allocation periods of 2,000 debtors; the champion's pay-on-time rate drifts
  linearly from 0.65 to 0.50 over the experiment (a worsening economy);
* fixed split 60/20/20, or batch Thompson sampling refreshed daily on *matured* outcomes
  only (14-day outcome window: day ``t`` sees the outcomes of days ``< t - 14``), weights
  ``apply_floor(P(best), 0.1)`` as in :mod:`engine.policy.allocation`;
* the analysis runs once every outcome has matured.

Simulated at the cell level (multinomial assignment, binomial outcomes per arm x day), vectorised
over runs, so 1,000 bandit experiments take seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest

from engine.policy.allocation import apply_floor
from engine.stats.bayes import compare, rate_draws
from engine.stats.frequentist import compare_to_champion
from engine.stats.srm import srm_check
from engine.stats.strata import MetricCells, group_periods, stratified_estimate

pytestmark = pytest.mark.slow

DAYS = 90
UNITS_PER_DAY = 2_000
LAG = 14
FLOOR = 0.1
EFFECT = np.array([0.0, 0.03, 0.0])
BASELINE = np.linspace(0.65, 0.50, DAYS)
FIXED_SPLIT = np.array([0.6, 0.2, 0.2])
TRUE_UPLIFT = 0.03
K = EFFECT.size

COVERAGE_RUNS = 500
SRM_RUNS = 1_000
POLICY_DRAWS = 300
ANALYSIS_DRAWS = 4_000
DROP = 0.03


@dataclass(frozen=True)
class Runs:
    """Simulated experiments: arrays of shape (runs, arms, days)."""

    assigned: np.ndarray
    paid: np.ndarray
    weights: np.ndarray


def simulate(gen: np.random.Generator, runs: int, *, bandit: bool) -> Runs:
    """Cell-level simulation of ``runs`` experiments (loops over days, vectorised over runs)."""
    assigned = np.zeros((runs, K, DAYS))
    paid = np.zeros((runs, K, DAYS))
    weights = np.zeros((runs, K, DAYS))
    for day in range(DAYS):
        if not bandit:
            w = np.broadcast_to(FIXED_SPLIT, (runs, K))
        elif day <= LAG:
            w = np.full((runs, K), 1.0 / K)  # nothing matured yet: uniform
        else:
            matured_n = assigned[:, :, : day - LAG].sum(axis=2)
            matured_s = paid[:, :, : day - LAG].sum(axis=2)
            theta = gen.beta(1 + matured_s, 1 + matured_n - matured_s, (POLICY_DRAWS, runs, K))
            best = theta.argmax(axis=2)
            p_best = (best[..., None] == np.arange(K)).mean(axis=0)  # (runs, K)
            w = FLOOR + (1 - K * FLOOR) * p_best  # apply_floor, vectorised over runs
            if day == LAG + 1:
                np.testing.assert_allclose(w[0], apply_floor(p_best[0], FLOOR), rtol=1e-12)
        weights[:, :, day] = w
        assigned[:, :, day] = gen.multinomial(UNITS_PER_DAY, w)
        paid[:, :, day] = gen.binomial(assigned[:, :, day].astype(np.int64), BASELINE[day] + EFFECT)
    return Runs(assigned, paid, weights)


@dataclass(frozen=True)
class Study:
    bayes_coverage: float
    freq_coverage: float
    bias: float
    naive_bias: float
    seconds: float


def analyse(runs: Runs, gen: np.random.Generator, count: int) -> Study:
    """Stratified analysis of the first ``count`` runs (loop over experiments, not units)."""
    start = time.perf_counter()
    bayes_hits = freq_hits = 0
    estimates = np.empty(count)
    naive = np.empty(count)
    for r in range(count):
        cells = MetricCells.from_counts(runs.assigned[r], runs.paid[r])
        strata = cells.take_periods(group_periods(runs.weights[r]))
        est = stratified_estimate(strata)
        estimates[r] = est.mean[1] - est.mean[0]
        pooled = cells.pooled().cell_means()[:, 0]
        naive[r] = pooled[1] - pooled[0]
        freq = compare_to_champion(strata, champion=0)[1]
        freq_hits += freq.ci_low <= TRUE_UPLIFT <= freq.ci_high
        bayes = compare(rate_draws(strata, rng=gen, draws=ANALYSIS_DRAWS), champion=0)[1]
        bayes_hits += bayes.uplift_low <= TRUE_UPLIFT <= bayes.uplift_high
    return Study(
        bayes_coverage=bayes_hits / count,
        freq_coverage=freq_hits / count,
        bias=float(estimates.mean() - TRUE_UPLIFT),
        naive_bias=float(naive.mean() - TRUE_UPLIFT),
        seconds=time.perf_counter() - start,
    )


@pytest.fixture(scope="module")
def bandit_runs() -> Runs:
    return simulate(np.random.default_rng(20240601), SRM_RUNS, bandit=True)


@pytest.fixture(scope="module")
def fixed_runs() -> Runs:
    return simulate(np.random.default_rng(20240602), COVERAGE_RUNS, bandit=False)


@pytest.fixture(scope="module")
def bandit_study(bandit_runs: Runs) -> Study:
    return analyse(bandit_runs, np.random.default_rng(1), COVERAGE_RUNS)


@pytest.fixture(scope="module")
def fixed_study(fixed_runs: Runs) -> Study:
    return analyse(fixed_runs, np.random.default_rng(2), COVERAGE_RUNS)


def report(name: str, study: Study) -> None:
    print(
        f"\n[{name}] {COVERAGE_RUNS} runs: 95% coverage of the +3 pp uplift: "
        f"credible {study.bayes_coverage:.1%}, confidence {study.freq_coverage:.1%}; "
        f"bias stratified {100 * study.bias:+.3f} pp, "
        f"naive pooled {100 * study.naive_bias:+.3f} pp ({study.seconds:.1f} s)"
    )


def test_fixed_split_intervals_cover_and_are_unbiased(fixed_study: Study) -> None:
    report("fixed split + drift", fixed_study)
    assert 0.93 <= fixed_study.bayes_coverage <= 0.97
    assert 0.93 <= fixed_study.freq_coverage <= 0.97
    assert abs(fixed_study.bias) < 0.002


def test_bandit_intervals_cover_and_stratification_removes_the_bias(bandit_study: Study) -> None:
    report("bandit + drift", bandit_study)
    assert 0.93 <= bandit_study.bayes_coverage <= 0.97
    assert 0.93 <= bandit_study.freq_coverage <= 0.97
    assert abs(bandit_study.bias) < 0.002  # below 0.2 pp
    assert abs(bandit_study.naive_bias) > 0.01  # the naive pooled estimate is off by > 1 pp


def test_srm_false_alarms_and_power_on_bandit_runs(bandit_runs: Runs) -> None:
    gen = np.random.default_rng(3)
    start = time.perf_counter()
    lines = []
    for method in ("pearson", "multinomial"):
        alarms = np.mean(
            [
                srm_check(bandit_runs.assigned[r], bandit_runs.weights[r], method=method).flagged
                for r in range(SRM_RUNS)
            ]
        )
        power = []
        for arm in range(K):
            broken = bandit_runs.assigned.copy()
            broken[:, arm] = gen.binomial(broken[:, arm].astype(np.int64), 1 - DROP)
            power.append(
                np.mean(
                    [
                        srm_check(broken[r], bandit_runs.weights[r], method=method).flagged
                        for r in range(SRM_RUNS)
                    ]
                )
            )
        lines.append((method, float(alarms), power))
    seconds = time.perf_counter() - start
    share = bandit_runs.assigned.sum(axis=(0, 2)) / bandit_runs.assigned.sum()
    print(f"\n[SRM, bandit + drift] {SRM_RUNS} runs, traffic shares {np.round(share, 3)}")
    for method, alarms, power in lines:
        print(
            f"  {method:11s} false alarms {alarms:.2%} (nominal 0.1%); detection of 3% of rows "
            f"dropped from arm 0/1/2: {' / '.join(f'{p:.1%}' for p in power)}"
        )
    print(f"  ({seconds:.1f} s)")
    for method, alarms, power in lines:
        assert alarms <= 0.01, method
        # Arm 1 (the winner) carries most rows: 3% of its rows is the largest, most visible loss.
        assert power[1] >= 0.90, method
