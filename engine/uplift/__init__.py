"""Uplift routing challenger: who pays anyway, and which arm to give whom.

Billogram/Hallon (DOMAIN.md) found that about 80% of the debtors sent to collection would have
paid anyway; a model of each debtor's probability of paying under each arm let them send those
to a softer treatment. This package fits that model on randomised logs, turns it into a routing
policy and estimates the policy's value on held-out logs with :mod:`engine.ope`, before any
debtor gets it.

Modules: :mod:`~engine.uplift.covariates` (debtor covariates), :mod:`~engine.uplift.model`
(the T-learner of logistic regressions), :mod:`~engine.uplift.routing` (routing policies) and
:mod:`~engine.uplift.evaluation` (cross-fitted off-policy evaluation of a router),
:mod:`~engine.uplift.features` (encodings of input columns), :mod:`~engine.uplift.stored` (the
persisted, versioned router a challenger arm deploys) and :mod:`~engine.uplift.training`
(fitting a stored router from a randomised log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import lazy

# Names are imported on first use (PEP 562): importing one module of the package does not
# load every other (start-up time of the CLI, benchmarks/bench_startup.py).
if TYPE_CHECKING:
    from engine.uplift.covariates import (
        DIMENSIONS,
        debtor_covariates,
    )
    from engine.uplift.evaluation import (
        RouterEvaluation,
        evaluate_router,
    )
    from engine.uplift.features import (
        pair_features,
    )
    from engine.uplift.model import (
        UpliftModel,
        fit_uplift_model,
    )
    from engine.uplift.routing import (
        Router,
        route,
        route_by_value,
    )
    from engine.uplift.stored import (
        RoutingModel,
        ThresholdRule,
        dump_routing_model,
        parse_routing_model,
    )
    from engine.uplift.training import (
        fit_routing_model,
    )

_EXPORTS: dict[str, str] = {
    "DIMENSIONS": "engine.uplift.covariates",
    "Router": "engine.uplift.routing",
    "RouterEvaluation": "engine.uplift.evaluation",
    "RoutingModel": "engine.uplift.stored",
    "ThresholdRule": "engine.uplift.stored",
    "UpliftModel": "engine.uplift.model",
    "debtor_covariates": "engine.uplift.covariates",
    "dump_routing_model": "engine.uplift.stored",
    "evaluate_router": "engine.uplift.evaluation",
    "fit_routing_model": "engine.uplift.training",
    "fit_uplift_model": "engine.uplift.model",
    "pair_features": "engine.uplift.features",
    "parse_routing_model": "engine.uplift.stored",
    "route": "engine.uplift.routing",
    "route_by_value": "engine.uplift.routing",
}

__all__ = [
    "DIMENSIONS",
    "Router",
    "RouterEvaluation",
    "RoutingModel",
    "ThresholdRule",
    "UpliftModel",
    "debtor_covariates",
    "dump_routing_model",
    "evaluate_router",
    "fit_routing_model",
    "fit_uplift_model",
    "pair_features",
    "parse_routing_model",
    "route",
    "route_by_value",
]


__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS)
