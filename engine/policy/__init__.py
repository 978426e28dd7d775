"""Allocation policies: turn per-arm evidence into traffic weights. Pure functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import lazy

# Names are imported on first use (PEP 562): importing one module of the package does not
# load every other (start-up time of the CLI, benchmarks/bench_startup.py).
if TYPE_CHECKING:
    from engine.policy.allocation import (
        AllocationDecision,
        SegmentDecision,
        apply_floor,
        decide_allocation,
        decide_segment_allocation,
        drop_arms,
        rebase_on_champion,
    )
    from engine.policy.cadence import (
        period_of,
        update_due,
    )
    from engine.policy.holdout import (
        ConstrainedWeights,
        HoldoutAssignment,
        apply_constraints,
        assign_with_holdout,
        burn_in_active,
        holdout_member,
        holdout_salt,
    )
    from engine.policy.segments import (
        SegmentWeights,
        assign_segments,
        empirical_bayes_kappa,
        segment_index,
        segment_weights,
    )
    from engine.policy.thompson import (
        ArmWeights,
        bernoulli_kl,
        beta_posterior,
        lai_robbins_constant,
        thompson_weights,
        top_two_play_probabilities,
        top_two_weights,
    )

_EXPORTS: dict[str, str] = {
    "AllocationDecision": "engine.policy.allocation",
    "ArmWeights": "engine.policy.thompson",
    "ConstrainedWeights": "engine.policy.holdout",
    "HoldoutAssignment": "engine.policy.holdout",
    "SegmentDecision": "engine.policy.allocation",
    "SegmentWeights": "engine.policy.segments",
    "apply_constraints": "engine.policy.holdout",
    "apply_floor": "engine.policy.allocation",
    "assign_segments": "engine.policy.segments",
    "assign_with_holdout": "engine.policy.holdout",
    "bernoulli_kl": "engine.policy.thompson",
    "beta_posterior": "engine.policy.thompson",
    "burn_in_active": "engine.policy.holdout",
    "decide_allocation": "engine.policy.allocation",
    "decide_segment_allocation": "engine.policy.allocation",
    "drop_arms": "engine.policy.allocation",
    "empirical_bayes_kappa": "engine.policy.segments",
    "holdout_member": "engine.policy.holdout",
    "holdout_salt": "engine.policy.holdout",
    "lai_robbins_constant": "engine.policy.thompson",
    "period_of": "engine.policy.cadence",
    "rebase_on_champion": "engine.policy.allocation",
    "segment_index": "engine.policy.segments",
    "segment_weights": "engine.policy.segments",
    "thompson_weights": "engine.policy.thompson",
    "top_two_play_probabilities": "engine.policy.thompson",
    "top_two_weights": "engine.policy.thompson",
    "update_due": "engine.policy.cadence",
}

__all__ = [
    "AllocationDecision",
    "ArmWeights",
    "ConstrainedWeights",
    "HoldoutAssignment",
    "SegmentDecision",
    "SegmentWeights",
    "apply_constraints",
    "apply_floor",
    "assign_segments",
    "assign_with_holdout",
    "bernoulli_kl",
    "beta_posterior",
    "burn_in_active",
    "decide_allocation",
    "decide_segment_allocation",
    "drop_arms",
    "empirical_bayes_kappa",
    "holdout_member",
    "holdout_salt",
    "lai_robbins_constant",
    "period_of",
    "rebase_on_champion",
    "segment_index",
    "segment_weights",
    "thompson_weights",
    "top_two_play_probabilities",
    "top_two_weights",
    "update_due",
]


__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS)
