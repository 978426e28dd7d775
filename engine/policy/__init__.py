"""Allocation policies: turn per-arm evidence into traffic weights. Pure functions."""

from engine.policy.allocation import (
    AllocationDecision,
    SegmentDecision,
    apply_floor,
    decide_allocation,
    decide_segment_allocation,
    drop_arms,
    rebase_on_champion,
)
from engine.policy.cadence import period_of, update_due
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
