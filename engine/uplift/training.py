"""Fitting a stored router from a randomised log, with its off-policy evaluation on that log.

:func:`fit_routing_model` fits the T-learner (:mod:`engine.uplift.model`) on every logged
decision (the deployed model uses all the data) and estimates the routing rule's value on the
same log by cross-fitting (:func:`engine.uplift.evaluate_router`): the estimate is of a router
fitted on half the data, honest because neither the router nor the DR reward model saw the
decisions they are scored on; with tens of thousands of decisions the two fits differ little.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine import ope
from engine.uplift.evaluation import evaluate_router
from engine.uplift.features import Feature, encode
from engine.uplift.model import UpliftModel, _as_arm_indices, fit_uplift_model
from engine.uplift.routing import route
from engine.uplift.stored import (
    EstimateSummary,
    EvaluationSummary,
    RoutingModel,
    ThresholdRule,
    TrainingSummary,
)


def _summary(estimate: ope.OpeEstimate) -> EstimateSummary:
    return EstimateSummary(
        value=estimate.value,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
        ess_share=estimate.ess_share,
    )


def fit_routing_model(
    inputs: Mapping[str, npt.ArrayLike],
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    *,
    arms: Sequence[str],
    features: Sequence[Feature],
    rule: ThresholdRule,
    source: str,
    source_sha256: str,
    reward_name: str,
    rng: np.random.Generator,
    seed: int | None = None,
    n_folds: int = 2,
) -> RoutingModel:
    """Fit a stored router on a randomised log and evaluate it off-policy on that log.

    Parameters
    ----------
    inputs
        Column name -> shape (n,) values (e.g. ``debtor_type``, ``amount_owed``).
    actions, rewards, propensities
        Shape (n,): logged arm (key or index), binary reward, logging propensity.
    arms
        The K logged arm keys.
    features
        Encodings of the covariates from ``inputs`` (e.g. :func:`pair_features`).
    rule
        The routing rule (its arms must be logged arms).
    source, source_sha256
        File name and SHA-256 of the log, kept in the training summary.
    reward_name
        What the reward is, for the record (e.g. ``"paid within 14 days"``).
    rng
        Draws the cross-fitting folds and the bootstrap resamples.
    seed
        The seed ``rng`` was made from, recorded in the model file (None: not reproducible).
    n_folds
        Cross-fitting folds of the evaluation.

    Raises
    ------
    ValueError
        If a row's inputs cannot be encoded (the log must be complete), or as
        :func:`fit_uplift_model` and :func:`evaluate_router`.
    """
    arm_keys = tuple(str(a) for a in arms)
    a = _as_arm_indices(actions, arm_keys)
    n = a.shape[0]
    r = np.asarray(rewards, dtype=np.float64)
    covariates, valid = encode(features, inputs, n)
    if not np.all(valid):
        rows = np.flatnonzero(~valid)[:5].tolist()
        raise ValueError(
            f"{int((~valid).sum())} logged decision(s) have inputs the features cannot encode "
            f"(missing or unknown values), e.g. rows {rows}; columns used: "
            f"{sorted({getattr(f, 'column', '') for f in features} - {''})}"
        )
    model = fit_uplift_model(covariates, a, r, arms=arm_keys)

    def router(m: UpliftModel, x: pd.DataFrame) -> npt.NDArray[np.float64]:
        return route(
            m, x, champion=rule.default_arm, soft_arm=rule.soft_arm, threshold=rule.threshold
        )

    evaluation = evaluate_router(
        covariates,
        a,
        r,
        propensities,
        arms=arm_keys,
        router=router,
        rng=rng,
        baselines=arm_keys,
        n_folds=n_folds,
    )
    training = TrainingSummary(
        source=source,
        source_sha256=source_sha256,
        reward=reward_name,
        n=n,
        n_per_arm={arm: int((a == k).sum()) for k, arm in enumerate(arm_keys)},
        pay_rate_per_arm={
            arm: float(r[a == k].mean()) if np.any(a == k) else float("nan")
            for k, arm in enumerate(arm_keys)
        },
    )
    return RoutingModel(
        arms=arm_keys,
        features=tuple(features),
        coef={arm: tuple(float(c) for c in model.coef[k]) for k, arm in enumerate(arm_keys)},
        rule=rule,
        training=training,
        evaluation=EvaluationSummary(
            estimator=evaluation.estimate.estimator,
            level=evaluation.estimate.level,
            n_folds=n_folds,
            seed=seed,
            router=_summary(evaluation.estimate),
            baselines={k: _summary(v) for k, v in evaluation.baselines.items()},
            routed_share={
                arm: float(evaluation.target[:, k].mean()) for k, arm in enumerate(arm_keys)
            },
        ),
    )
