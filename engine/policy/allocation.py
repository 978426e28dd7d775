"""Traffic weights from matured outcomes: fixed split or Thompson sampling.

Thompson sampling in batch form (probability matching): each arm's weight is the posterior
probability that it is the best arm (Thompson 1933; Scott 2010, "A modern Bayesian look at the
multi-armed bandit", sec. 3). Batched daily updates are how dunning runs: debtors arrive in daily
files, outcomes mature days later, so the policy is refreshed once per cycle, not per debtor.

A floor keeps every arm learning: ``w = floor + (1 - k * floor) * p_best``. The floor is added,
not clipped, so the weights still sum to one and stay proportional to P(best) above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.config import Allocation
from engine.stats.binomial import BinomialStat, posterior_draws, prob_best


@dataclass(frozen=True)
class AllocationDecision:
    """New weights and the evidence behind them.

    Attributes
    ----------
    weights
        Arm key -> share of new debtors; each >= the floor, summing to 1.
    p_best
        Arm key -> posterior probability of being the best arm (empty for a fixed split).
    reason
        Why these weights, in words a manager can read in the audit trail.
    """

    weights: Mapping[str, float]
    p_best: Mapping[str, float]
    reason: str


def apply_floor(p: npt.ArrayLike, floor: float) -> npt.NDArray[np.float64]:
    """Mix probabilities ``p`` (shape (k,), sum 1) with a uniform floor.

    Returns shape (k,) weights with ``w >= floor`` and ``sum(w) == 1``.
    """
    probs = np.asarray(p, dtype=np.float64)
    k = probs.size
    if not 0.0 <= floor * k <= 1.0 + 1e-12:
        raise ValueError(f"floor {floor:g} x {k} arms must be within [0, 1]")
    weights = floor + (1.0 - k * floor) * probs
    result: npt.NDArray[np.float64] = weights / weights.sum()
    return result


def decide_allocation(
    *,
    config: Allocation,
    arm_keys: Sequence[str],
    stats: Mapping[str, BinomialStat],
    configured_weights: Mapping[str, float],
    rng: np.random.Generator,
) -> AllocationDecision:
    """Weights for the next period from the matured outcomes in ``stats``.

    Parameters
    ----------
    config
        The experiment's allocation settings (policy, floor, prior, draws).
    arm_keys
        Arms in a fixed order.
    stats
        Matured outcomes of the primary metric per arm; arms with no entry count as no data.
    configured_weights
        The fixed split (used as-is by ``policy: fixed``).
    rng
        Generator seeded by the caller; the caller stores the seed with the allocation.
    """
    if config.policy == "fixed":
        fixed = {k: float(configured_weights[k]) for k in arm_keys}
        return AllocationDecision(fixed, {}, "fixed split from the experiment file")

    zero = BinomialStat(0, 0)
    counts = [stats.get(k, zero) for k in arm_keys]
    alpha = np.array([config.prior_alpha + c.successes for c in counts])
    beta = np.array([config.prior_beta + c.failures for c in counts])
    p_best = prob_best(posterior_draws(alpha, beta, draws=config.draws, rng=rng))
    weights = apply_floor(p_best, config.min_share)
    matured = sum(c.n for c in counts)
    leader = arm_keys[int(np.argmax(p_best))]
    reason = (
        f"thompson: P(best) from {config.draws} posterior draws over {matured} matured units; "
        f"leader {leader} (P(best)={p_best.max():.3f}); floor {config.min_share:g} per arm"
    )
    return AllocationDecision(
        weights={k: float(w) for k, w in zip(arm_keys, weights, strict=True)},
        p_best={k: float(p) for k, p in zip(arm_keys, p_best, strict=True)},
        reason=reason,
    )
