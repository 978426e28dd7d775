"""Allocation policies: turn per-arm evidence into traffic weights. Pure functions."""

from engine.policy.allocation import AllocationDecision, apply_floor, decide_allocation

__all__ = ["AllocationDecision", "apply_floor", "decide_allocation"]
