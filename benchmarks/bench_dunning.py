"""Regret on the dunning scenario: batched Thompson sampling vs an equal split vs MABWiser.

Scenario (see :mod:`benchmarks._dunning`): 90 days, 2,000 debtors a day, 4 arms, reward "paid
within 14 days", daily updates from matured outcomes only, truth from :mod:`engine.simulate`.
Policies, on the same debtors and the same potential outcomes in each replicate:

* ours, as shipped: batch Thompson sampling (weights = P(best), 20,000 draws; Thompson 1933,
  Chapelle & Li 2011 for batched, delayed updates) with an additive floor of 0.05 per arm;
* ours without floor (the same policy class as MABWiser's);
* a fixed equal split;
* MABWiser's ``ThompsonSampling``: ``partial_fit`` on the cohort that matured that day,
  ``predict`` for every debtor of the day.

Rows (``ours`` / ``peer`` hold total regret in expected pay-within-14 units, not times):

* equal split / ours (floor 0.05) >= 1 / 0.35, i.e. ours <= 0.35 of the equal split;
* MABWiser / ours (no floor) >= 0.97: non-inferiority with a 3% margin. Both are probability
  matching on the same information, so their expected regret is the same; the margin keeps the
  verdict from flipping on replicate noise. The next row is the test proper: the lower end of
  a 95% paired bootstrap interval of that ratio (replicates resampled with their debtors and
  potential outcomes) must clear the margin. A row without limit shows the floor's price.

Per-type policies (16 debtor types, regret against the best arm of each type): our per-segment
Thompson sampling with empirical-Bayes shrinkage towards the pooled posterior vs one MABWiser
model per type, and vs our global policy.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._dunning import (
    DAYS,
    PER_DAY,
    Decide,
    DecideSegments,
    FloatArray,
    K,
    Run,
    World,
    make_world,
    run_batched,
    run_mabwiser,
    run_mabwiser_segmented,
    run_segmented,
)
from benchmarks.harness import Comparison
from engine.policy.holdout import apply_constraints
from engine.policy.segments import segment_weights
from engine.policy.thompson import thompson_weights

REPLICATES = 40
SEGMENT_REPLICATES = 6
SEED = 5_000
DRAWS = 20_000
SEGMENT_DRAWS = 4_000


def _ratio_lower_bound(paired: FloatArray, *, resamples: int = 4_000) -> float:
    """2.5% quantile of mean(peer) / mean(ours) over replicates resampled in pairs."""
    rng = np.random.default_rng(SEED)
    index = rng.integers(0, len(paired), size=(resamples, len(paired)))
    ratios = paired[index, 1].mean(axis=1) / paired[index, 0].mean(axis=1)
    return float(np.quantile(ratios, 0.025))


def thompson_policy(floor: float, seed: int) -> Decide:
    """Our shipped policy: P(best) by Monte Carlo, then the additive floor."""
    rng = np.random.default_rng(seed)

    def decide(day: int, s: FloatArray, f: FloatArray) -> FloatArray:
        p = thompson_weights(s, f, draws=DRAWS, rng=rng).weights
        return apply_constraints(p, min_share=floor).bandit

    return decide


def equal_split(day: int, s: FloatArray, f: FloatArray) -> FloatArray:
    return np.full(K, 1.0 / K)


def segment_policy(seed: int) -> DecideSegments:
    """Per-type Thompson sampling, shrinkage with empirical-Bayes kappa, no floor."""
    rng = np.random.default_rng(seed)

    def decide(day: int, s: FloatArray, f: FloatArray) -> FloatArray:
        return segment_weights(s, f, draws=SEGMENT_DRAWS, rng=rng).weights

    return decide


def global_as_segments(seed: int) -> DecideSegments:
    """Our global policy (no floor) seen as 16 identical rows."""
    rng = np.random.default_rng(seed)

    def decide(day: int, s: FloatArray, f: FloatArray) -> FloatArray:
        p = thompson_weights(s.sum(axis=0), f.sum(axis=0), draws=DRAWS, rng=rng).weights
        return np.broadcast_to(p, s.shape).copy()

    return decide


def global_runs(world: World, rep: int) -> dict[str, Run]:
    salt = f"bench-dunning-{rep}"
    return {
        "shipped": run_batched(world, thompson_policy(0.05, rep), salt=salt),
        "nofloor": run_batched(world, thompson_policy(0.0, rep), salt=salt),
        "equal": run_batched(world, equal_split, salt=salt),
        "mabwiser": run_mabwiser(world, seed=rep),
    }


def run() -> list[Comparison]:
    start = time.perf_counter()
    total = dict.fromkeys(("shipped", "nofloor", "equal", "mabwiser"), 0.0)
    paired = np.zeros((REPLICATES, 2))  # (ours without floor, MABWiser) per replicate
    for rep in range(REPLICATES):
        runs = global_runs(make_world(SEED + rep), rep)
        for key, result in runs.items():
            total[key] += result.regret
        paired[rep] = runs["nofloor"].regret, runs["mabwiser"].regret
    seconds = time.perf_counter() - start

    seg_start = time.perf_counter()
    seg = dict.fromkeys(("segments", "mabwiser16", "global"), 0.0)
    for rep in range(SEGMENT_REPLICATES):
        world = make_world(SEED + 1_000 + rep)
        salt = f"bench-segments-{rep}"
        seg["segments"] += run_segmented(world, segment_policy(rep), salt=salt)
        seg["global"] += run_segmented(world, global_as_segments(rep), salt=salt)
        seg["mabwiser16"] += run_mabwiser_segmented(world, seed=rep)
    seg_seconds = time.perf_counter() - seg_start

    scenario = f"dunning {DAYS} d x {PER_DAY:,}/d, 14-d window, {REPLICATES} reps [{seconds:.0f} s]"
    per_type = (
        f"dunning per-type regret, 16 types x {K} arms, {SEGMENT_REPLICATES} reps "
        f"[{seg_seconds:.0f} s]"
    )
    r = REPLICATES
    s = SEGMENT_REPLICATES
    return [
        Comparison(
            f"{scenario}: regret equal split / ours (TS, floor 0.05) >= 1/0.35",
            total["shipped"] / r,
            "fixed equal split",
            total["equal"] / r,
            limit=1 / 0.35,
            unit="regret",
        ),
        Comparison(
            f"{scenario}: regret MABWiser TS / ours (TS, no floor) >= 0.97 (non-inferiority)",
            total["nofloor"] / r,
            "MABWiser ThompsonSampling",
            total["mabwiser"] / r,
            limit=0.97,
            unit="regret",
        ),
        Comparison(
            f"{scenario}: lower end of the 95% paired bootstrap interval of regret MABWiser TS / "
            "ours (TS, no floor) >= 0.97",
            1.0,
            "MABWiser ThompsonSampling",
            _ratio_lower_bound(paired),
            limit=0.97,
            unit="ratio",
        ),
        Comparison(
            f"{scenario}: regret MABWiser TS / ours (TS, floor 0.05): the floor's price",
            total["shipped"] / r,
            "MABWiser ThompsonSampling",
            total["mabwiser"] / r,
            unit="regret",
        ),
        Comparison(
            f"{per_type}: regret 16 MABWiser models / ours (per-type TS, EB shrinkage)",
            seg["segments"] / s,
            "MABWiser TS, one model per type",
            seg["mabwiser16"] / s,
            limit=0.97,
            unit="regret",
        ),
        Comparison(
            f"{per_type}: regret ours global TS / ours per-type TS",
            seg["segments"] / s,
            "ours, one global TS",
            seg["global"] / s,
            limit=1.0,
            unit="regret",
        ),
    ]
