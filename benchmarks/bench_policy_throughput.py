"""Throughput of the bandit: assignment of 1,000,000 debtors, and a per-segment day.

* 1,000,000 debtors x 4 arms. Ours: Thompson weights from the posterior (20,000 draws), the
  floor, then :func:`engine.assignment.assign` (salted hash -> uniform -> arm), which also
  returns each debtor's propensity. Peer: MABWiser's ``ThompsonSampling`` fitted on the same
  counts, batch ``predict`` on 1,000,000 contexts (one posterior draw per debtor and arm).
* 16 segments (debtor types) x 4 arms, one day: the update from the matured cells and the
  assignment of a day's batch of 2,000 debtors. Ours: :func:`engine.policy.segments.segment_weights`
  (shrinkage, empirical-Bayes kappa, 20,000 draws per segment) and
  :func:`engine.policy.segments.assign_segments`. Peer: 16 MABWiser models, each
  ``partial_fit`` on its segment's matured cohort and ``predict`` for its debtors.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from benchmarks.harness import Comparison, best_of
from engine.assignment import assign
from engine.policy.holdout import apply_constraints
from engine.policy.segments import assign_segments, segment_weights
from engine.policy.thompson import thompson_weights

N = 1_000_000
ARMS = ("direct_collection", "friendly_sms", "no_action", "discount_nudge")
SEGMENTS = 16
DAY_BATCHES = (2_000, 200_000)
SALT = "bench-policy"
SUCCESSES = np.array([3_890.0, 5_950.0, 5_430.0, 6_180.0])
TRIALS = np.full(4, 10_000.0)


def ours_global(ids: npt.NDArray[np.object_]) -> None:
    rng = np.random.default_rng(0)
    tw = thompson_weights(SUCCESSES, TRIALS - SUCCESSES, draws=20_000, rng=rng)
    w = apply_constraints(tw.weights, min_share=0.05).bandit
    assign(ids, salt=SALT, arm_keys=ARMS, weights=w)


def segment_day(ids: npt.NDArray[np.object_], batch: int, rng: np.random.Generator) -> Comparison:
    """Time one day of 16 segments: update from matured cells and assignment of ``batch``."""
    from mabwiser.mab import MAB, LearningPolicy  # type: ignore[import-untyped]

    # Matured cells as 30 days of a 2,000-a-day file would hold them.
    n_cells = rng.integers(50, 2_000, size=(SEGMENTS, 4)).astype(np.float64)
    s_cells = rng.binomial(n_cells.astype(np.int64), 0.55).astype(np.float64)
    seg_of_debtor = rng.integers(0, SEGMENTS, size=batch)
    day_ids = ids[:batch]
    cohort_arm = rng.integers(0, 4, size=batch)
    cohort_reward = (rng.random(batch) < 0.55).astype(np.float64)

    def ours() -> None:
        sw = segment_weights(s_cells, n_cells - s_cells, draws=20_000, rng=np.random.default_rng(2))
        table = apply_constraints(sw.weights, min_share=0.05)
        assign_segments(day_ids, seg_of_debtor, salt=SALT, constrained=table)

    models = []
    for t in range(SEGMENTS):
        m = MAB(list(range(4)), LearningPolicy.ThompsonSampling(), seed=t)
        m.fit(decisions=cohort_arm[:10], rewards=cohort_reward[:10])
        models.append(m)
    masks = [np.flatnonzero(seg_of_debtor == t) for t in range(SEGMENTS)]

    def peer() -> None:
        for t, m in enumerate(models):
            here = masks[t]
            m.partial_fit(decisions=cohort_arm[here], rewards=cohort_reward[here])
            m.predict(np.zeros((here.size, 1)))

    return Comparison(
        f"per-segment TS day, {SEGMENTS} segments x 4 arms: update (20,000 draws per segment) "
        f"+ assign {batch:,} debtors",
        best_of(ours, repeat=5),
        f"{SEGMENTS} MABWiser models (partial_fit + predict)",
        best_of(peer, repeat=3),
    )


def run() -> list[Comparison]:
    from mabwiser.mab import MAB, LearningPolicy

    rng = np.random.default_rng(1)
    ids = np.array([f"D{i:010d}" for i in range(N)], dtype=object)

    decisions = np.repeat(np.arange(4), TRIALS.astype(int))
    rewards = np.concatenate(
        [np.arange(int(t)) < s for s, t in zip(SUCCESSES, TRIALS, strict=True)]
    )
    mab = MAB(list(range(4)), LearningPolicy.ThompsonSampling(), seed=1)
    mab.fit(decisions=decisions, rewards=rewards.astype(np.float64))
    contexts = np.zeros((N, 1))
    ours = best_of(lambda: ours_global(ids), repeat=5)
    peer = best_of(lambda: mab.predict(contexts), repeat=2)

    seg_rows = [segment_day(ids, batch, rng) for batch in DAY_BATCHES]
    return [
        Comparison(
            f"bandit assignment, {N:,} debtors x 4 arms (TS weights + floor + hash) >= 5x",
            ours,
            "MABWiser TS batch predict",
            peer,
            limit=5.0,
        ),
        *seg_rows,
    ]
