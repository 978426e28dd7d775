"""Traffic weights from matured outcomes: fixed split or Thompson sampling.

Thompson sampling in batch form (probability matching): each arm's weight is the posterior
probability that it is the best arm (Thompson 1933; Scott 2010, "A modern Bayesian look at the
multi-armed bandit", sec. 3). Batched daily updates are how dunning runs: debtors arrive in daily
files, outcomes mature days later, so the policy is refreshed once per cycle, not per debtor.

A floor keeps every arm learning: ``w = floor + (1 - k * floor) * p_best``. The floor is added,
not clipped, so the weights still sum to one and stay proportional to P(best) above it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.config import Allocation
from engine.policy.holdout import apply_constraints, burn_in_active
from engine.policy.segments import segment_weights
from engine.policy.thompson import top_two_play_probabilities
from engine.stats.binomial import BinomialStat, posterior_draws, prob_best


@dataclass(frozen=True)
class AllocationDecision:
    """New weights and the evidence behind them.

    Attributes
    ----------
    weights
        Arm key -> probability that a new debtor gets the arm (holdout included): the
        propensity stored with each assignment. Sums to 1.
    p_best
        Arm key -> posterior probability of being the best arm (empty for a fixed split).
    reason
        Why these weights, in words a manager can read in the audit trail.
    bandit
        Arm key -> split of the debtors outside the holdout (the bandit's own traffic).
    holdout_share
        Share of debtors in the randomized holdout (they get the champion).
    """

    weights: Mapping[str, float]
    p_best: Mapping[str, float]
    reason: str
    bandit: Mapping[str, float] = field(default_factory=dict)
    holdout_share: float = 0.0
    burn_in: bool = False


@dataclass(frozen=True)
class SegmentDecision:
    """Per-segment weights: segment -> arm -> overall probability (the propensity) and the
    bandit's split, with the reason for the audit trail."""

    weights: Mapping[str, Mapping[str, float]]
    bandit: Mapping[str, Mapping[str, float]]
    reason: str


def rebase_on_champion(
    *,
    config: Allocation,
    arm_keys: Sequence[str],
    champion: str,
    bandit: Mapping[str, float],
) -> tuple[dict[str, float], dict[str, float]]:
    """(overall, bandit) weights after the champion changed, the bandit's split kept.

    The holdout gets the champion and the champion floor protects it: both follow the new
    champion at once, otherwise the stored propensities would describe the old holdout.
    """
    keys = list(arm_keys)
    constrained = apply_constraints(
        [bandit[k] for k in keys],
        champion=keys.index(champion),
        champion_floor=config.champion_floor,
        holdout_share=config.holdout_share,
        holdout_split=[1.0 if k == champion else 0.0 for k in keys],
    )
    return (
        {k: float(w) for k, w in zip(keys, constrained.overall, strict=True)},
        {k: float(w) for k, w in zip(keys, constrained.bandit, strict=True)},
    )


def decide_segment_allocation(
    *,
    config: Allocation,
    arm_keys: Sequence[str],
    champion: str,
    segments: Sequence[str],
    successes: npt.NDArray[np.float64],
    failures: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> SegmentDecision:
    """Thompson sampling per segment, shrunk towards the pooled posterior, then the same
    floors and holdout as the pooled weights (:func:`engine.policy.segments.segment_weights`).

    ``successes``/``failures`` have shape (s, k): matured outcomes per segment and arm.
    """
    fit = segment_weights(
        successes,
        failures,
        prior=(config.prior_alpha, config.prior_beta),
        kappa=config.segment_strength,
        draws=config.draws,
        rng=rng,
    )
    constrained = apply_constraints(
        fit.weights,
        min_share=config.min_share,
        champion=list(arm_keys).index(champion),
        champion_floor=config.champion_floor,
        holdout_share=config.holdout_share,
        holdout_split=[1.0 if k == champion else 0.0 for k in arm_keys],
    )

    def table(values: npt.NDArray[np.float64]) -> dict[str, dict[str, float]]:
        return {
            segment: {arm: float(w) for arm, w in zip(arm_keys, row, strict=True)}
            for segment, row in zip(segments, values, strict=True)
        }

    return SegmentDecision(
        weights=table(constrained.overall),
        bandit=table(constrained.bandit),
        reason=f"per segment: {fit.reason}",
    )


def drop_arms(split: Mapping[str, float], stopped: Collection[str]) -> dict[str, float]:
    """``split`` with the ``stopped`` arms at 0 and the others rescaled to sum to 1 (their
    ratios kept): a stopped arm's traffic goes to the others at once."""
    kept = {k: (0.0 if k in stopped else float(w)) for k, w in split.items()}
    total = sum(kept.values())
    if total <= 0:
        active = [k for k in split if k not in stopped]
        if not active:
            raise ValueError("every arm is stopped")
        return {k: (1.0 / len(active) if k in active else 0.0) for k in split}
    return {k: w / total for k, w in kept.items()}


def _with_stopped(
    decision: AllocationDecision, arm_keys: Sequence[str], stopped: Collection[str]
) -> AllocationDecision:
    """A decision made over the active arms, written out over all arms (stopped ones at 0)."""

    def full(values: Mapping[str, float]) -> dict[str, float]:
        return {k: float(values.get(k, 0.0)) for k in arm_keys}

    reason = decision.reason + f"; stopped (no traffic): {', '.join(sorted(stopped))}"
    return AllocationDecision(
        weights=full(decision.weights),
        p_best=full(decision.p_best) if decision.p_best else {},
        reason=reason,
        bandit=full(decision.bandit),
        holdout_share=decision.holdout_share,
        burn_in=decision.burn_in,
    )


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
    champion: str,
    stats: Mapping[str, BinomialStat],
    configured_weights: Mapping[str, float],
    rng: np.random.Generator,
    days_elapsed: float = float("inf"),
    reward_draws: npt.NDArray[np.float64] | None = None,
    stopped: Collection[str] = (),
    reward_name: str = "net_value",
) -> AllocationDecision:
    """Weights for the next period from matured outcomes (holdout units excluded by the caller).

    Parameters
    ----------
    config
        The experiment's allocation settings (policy, floors, burn-in, holdout, prior, draws).
    arm_keys
        Arms in a fixed order.
    champion
        The current champion: the holdout gets it, and ``champion_floor`` protects it.
    stats
        Matured outcomes of the primary metric per arm; arms with no entry count as no data.
    configured_weights
        The fixed split (``policy: fixed``) or the starting split (during the burn-in).
    rng
        Generator seeded by the caller; the caller stores the seed with the allocation.
    days_elapsed
        Days since the experiment started (for ``burn_in_days``).
    reward_draws
        Shape (draws, k): posterior draws of each arm's reward when the reward is not the
        binary primary metric (``objective: net_value`` or ``late_again``, named by
        ``reward_name`` in the reason); P(best) is then taken from them.
    stopped
        Arms stopped by a guardrail breach: they get no traffic, now or later, and the bandit,
        its floors and the starting split are computed over the other arms only.
    """
    stopped = [k for k in arm_keys if k in stopped]
    if stopped:
        if champion in stopped:
            raise ValueError(f"the champion {champion!r} cannot be stopped")
        active = [k for k in arm_keys if k not in stopped]
        inner = decide_allocation(
            config=config,
            arm_keys=active,
            champion=champion,
            stats=stats,
            configured_weights=drop_arms(configured_weights, stopped),
            rng=rng,
            days_elapsed=days_elapsed,
            reward_draws=(
                None
                if reward_draws is None
                else reward_draws[:, [list(arm_keys).index(k) for k in active]]
            ),
            reward_name=reward_name,
        )
        return _with_stopped(inner, arm_keys, stopped)
    zero = BinomialStat(0, 0)
    counts = [stats.get(k, zero) for k in arm_keys]
    matured = sum(c.n for c in counts)
    initial = np.array([configured_weights[k] for k in arm_keys], dtype=np.float64)
    burn_in = config.policy != "fixed" and burn_in_active(
        matured_units=matured,
        days_elapsed=days_elapsed,
        min_matured_units=config.burn_in_units,
        min_days=config.burn_in_days,
    )
    p_best: npt.NDArray[np.float64] | None = None
    if config.policy == "fixed":
        probs, reason = initial, "fixed split from the experiment file"
    elif burn_in:
        probs = initial
        reason = (
            f"burn-in: {matured} of {config.burn_in_units} matured units, "
            f"{min(days_elapsed, 1e9):.0f} of {config.burn_in_days} days; starting split kept"
        )
    else:
        if reward_draws is not None:
            p_best = prob_best(reward_draws)
            samples = reward_draws
        else:
            alpha = np.array([config.prior_alpha + c.successes for c in counts])
            beta = np.array([config.prior_beta + c.failures for c in counts])
            samples = posterior_draws(alpha, beta, draws=config.draws, rng=rng)
            p_best = prob_best(samples)
        if config.policy == "top_two":
            probs, _ = top_two_play_probabilities(samples, beta=config.top_two_beta)
            name = f"top-two thompson (beta {config.top_two_beta:g})"
        else:
            probs, name = p_best, "thompson"
        leader = arm_keys[int(np.argmax(p_best))]
        target = reward_name if reward_draws is not None else "pay_on_time"
        reason = (
            f"{name} on {target}: P(best) from {config.draws} posterior draws over "
            f"{matured} matured units; leader {leader} (P(best)={p_best.max():.3f})"
        )
    # A fixed split and the burn-in's starting split are used as configured.
    min_share = 0.0 if config.policy == "fixed" or burn_in else config.min_share
    if min_share == 0 and config.champion_floor == 0 and config.holdout_share == 0:
        overall = bandit = np.asarray(probs, dtype=np.float64)  # exactly as given
        holdout_share = 0.0
    else:
        constrained = apply_constraints(
            probs,
            min_share=min_share,
            champion=list(arm_keys).index(champion),
            champion_floor=config.champion_floor,
            holdout_share=config.holdout_share,
            holdout_split=[1.0 if k == champion else 0.0 for k in arm_keys],
        )
        overall, bandit = constrained.overall, constrained.bandit
        holdout_share = constrained.holdout_share
        if constrained.reasons:
            reason += "; " + "; ".join(constrained.reasons)
    return AllocationDecision(
        weights={k: float(w) for k, w in zip(arm_keys, overall, strict=True)},
        p_best=(
            {} if p_best is None else {k: float(p) for k, p in zip(arm_keys, p_best, strict=True)}
        ),
        reason=reason,
        bandit={k: float(w) for k, w in zip(arm_keys, bandit, strict=True)},
        holdout_share=holdout_share,
        burn_in=burn_in,
    )
