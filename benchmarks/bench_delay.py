"""Late outcomes: the naive "not paid yet = did not pay" update against matured-only learning.

Dunning scenario of :mod:`benchmarks._dunning` (90 days, 2,000 debtors a day, 4 arms, reward
"paid within 14 days"), our shipped policy (batch Thompson sampling, floor 0.05) fed two ways:

* matured-only (the project's approach): on day ``d`` the posterior sees cohorts assigned on or
  before ``d - 14`` with their 14-day outcome;
* naive: every debtor assigned before ``d`` counts as a trial and only the payers known so far
  (paid within ``min(14, d - c)`` days) as successes, so every recent assignment is a failure.

The naive estimate is biased downwards, most for the arm used most recently, i.e. the bandit's
favourite, and for slow arms (``direct_collection`` pays around its 14-day deadline). Chapelle
& Li (2011, sec. 4) study delayed feedback in Thompson sampling; the delay must be waited out,
not read as failure. Rows (``ours`` / ``peer`` are absolute biases, then regrets, not times):

* |bias| naive / |bias| matured-only of the favourite arm's estimated pay-within-14 rate at the
  end of the 90 days (>= 5: the naive bias is at least five times the matured-only one);
* regret naive / regret matured-only (no limit: what the bias costs here, reported as is).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._dunning import MU, make_world, run_batched
from benchmarks.bench_dunning import thompson_policy
from benchmarks.harness import Comparison
from engine.simulate import ARMS

REPLICATES = 10
SEED = 7_000


def run() -> list[Comparison]:
    start = time.perf_counter()
    bias: dict[str, list[float]] = {"matured": [], "naive": []}
    estimate: dict[str, list[float]] = {"matured": [], "naive": []}
    truth: list[float] = []
    regret = {"matured": 0.0, "naive": 0.0}
    favourites: list[str] = []
    for rep in range(REPLICATES):
        world = make_world(SEED + rep)
        salt = f"bench-delay-{rep}"
        runs = {
            "matured": run_batched(world, thompson_policy(0.05, rep), salt=salt),
            "naive": run_batched(world, thompson_policy(0.05, rep), salt=salt, naive=True),
        }
        for key, result in runs.items():
            fav = int(np.argmax(result.weights))
            n = result.successes[fav] + result.failures[fav]
            rate = float(result.successes[fav] / n)
            estimate[key].append(rate)
            bias[key].append(abs(rate - MU[fav]))
            regret[key] += result.regret
            if key == "naive":
                truth.append(float(MU[fav]))
                favourites.append(ARMS[fav])
    seconds = time.perf_counter() - start
    top = max(set(favourites), key=favourites.count)
    label = (
        f"late outcomes, {REPLICATES} reps [{seconds:.0f} s]: favourite arm ({top} in "
        f"{favourites.count(top)}/{REPLICATES}) pay-14 truth {np.mean(truth):.3f}, naive "
        f"{np.mean(estimate['naive']):.3f}, matured-only {np.mean(estimate['matured']):.3f}"
    )
    return [
        Comparison(
            f"{label}: |bias| naive / matured-only >= 5",
            float(np.mean(bias["matured"])),
            "naive 'not paid yet = did not pay'",
            float(np.mean(bias["naive"])),
            limit=5.0,
            unit="|bias|",
        ),
        Comparison(
            f"late outcomes: regret naive / matured-only (TS, floor 0.05), {REPLICATES} reps",
            regret["matured"] / REPLICATES,
            "naive 'not paid yet = did not pay'",
            regret["naive"] / REPLICATES,
            unit="regret",
        ),
    ]
