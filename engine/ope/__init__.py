"""Off-policy evaluation: the value a *target* policy would have had, estimated from logs of
another (*logging*) policy, before a single debtor gets the target policy.

Modules: :mod:`~engine.ope.weights` (notation, importance weights, clipping, effective sample
size), :mod:`~engine.ope.estimators` (IPS, SNIPS, DR), :mod:`~engine.ope.bootstrap` (standard
errors and intervals), :mod:`~engine.ope.validation` (argument checks) and
:mod:`~engine.ope.estimate` (the :class:`OpeEstimate` value type).
"""

from __future__ import annotations

from engine.ope.bootstrap import DEFAULT_N_BOOT as DEFAULT_N_BOOT
from engine.ope.estimate import ESTIMATORS, Estimator, OpeEstimate
from engine.ope.estimators import (
    doubly_robust,
    evaluate,
    ipw,
    snips,
    value_of_logging_policy,
)
from engine.ope.validation import ROW_SUM_TOLERANCE as ROW_SUM_TOLERANCE
from engine.ope.weights import effective_sample_size, importance_weights, policy_from_actions

__all__ = [
    "ESTIMATORS",
    "Estimator",
    "OpeEstimate",
    "doubly_robust",
    "effective_sample_size",
    "evaluate",
    "importance_weights",
    "ipw",
    "policy_from_actions",
    "snips",
    "value_of_logging_policy",
]
