"""Uplift routing challenger: who pays anyway, and which arm to give whom.

Billogram/Hallon (DOMAIN.md) found that about 80% of the debtors sent to collection would have
paid anyway; a model of each debtor's probability of paying under each arm let them send those
to a softer treatment. This package fits that model on randomised logs, turns it into a routing
policy and estimates the policy's value on held-out logs with :mod:`engine.ope`, before any
debtor gets it.

Modules: :mod:`~engine.uplift.covariates` (debtor covariates), :mod:`~engine.uplift.model`
(the T-learner of logistic regressions), :mod:`~engine.uplift.routing` (routing policies) and
:mod:`~engine.uplift.evaluation` (cross-fitted off-policy evaluation of a router).
"""

from __future__ import annotations

from engine.uplift.covariates import DIMENSIONS, debtor_covariates
from engine.uplift.evaluation import RouterEvaluation, evaluate_router
from engine.uplift.model import UpliftModel, fit_uplift_model
from engine.uplift.routing import Router as Router
from engine.uplift.routing import route, route_by_value

__all__ = [
    "DIMENSIONS",
    "RouterEvaluation",
    "UpliftModel",
    "debtor_covariates",
    "evaluate_router",
    "fit_uplift_model",
    "route",
    "route_by_value",
]
