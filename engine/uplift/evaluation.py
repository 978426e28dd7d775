"""Cross-fitted off-policy evaluation of a routing rule.


Evaluation
----------
:func:`evaluate_router` cross-fits (Chernozhukov et al. 2018, "Double/debiased machine learning";
Dudik, Langford & Li 2011 for DR): the logs are split into folds at random; for each fold the
uplift model is fitted on the other folds, routes the fold's debtors and serves as the DR reward
model on the fold. Neither the policy nor the reward model has seen the decisions it is
evaluated on, so their overfitting does not bias the estimate. The estimate is the value of the
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine import ope
from engine.uplift.covariates import FloatArray, IntArray
from engine.uplift.model import _as_arm_indices, fit_uplift_model
from engine.uplift.routing import Router


@dataclass(frozen=True)
class RouterEvaluation:
    """Cross-fitted off-policy evaluation of a routing rule.

    Attributes
    ----------
    estimate
        The router's estimated value (mean reward per debtor).
    baselines
        Estimate of each requested "every debtor gets this arm" policy, with the same
        cross-fitted reward model and folds (e.g. the champion).
    target
        Shape (n, K): out-of-fold routing probabilities of each logged debtor.
    reward_model
        Shape (n, K): out-of-fold predicted P(pay) per arm.
    fold
        Shape (n,): fold of each decision.
    """

    estimate: ope.OpeEstimate
    baselines: Mapping[str, ope.OpeEstimate] = field(default_factory=dict)
    target: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    reward_model: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    fold: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.intp))

    def __post_init__(self) -> None:
        object.__setattr__(self, "baselines", MappingProxyType(dict(self.baselines)))


def evaluate_router(
    covariates: pd.DataFrame,
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    *,
    arms: Sequence[str],
    router: Router,
    rng: np.random.Generator,
    baselines: Sequence[str] = (),
    estimator: ope.Estimator = "dr",
    n_folds: int = 2,
    clip: float | None = None,
    level: float = 0.95,
    n_boot: int = ope.DEFAULT_N_BOOT,
) -> RouterEvaluation:
    """Estimate a routing rule's value on logs by cross-fitting (see the module docstring).

    Parameters
    ----------
    covariates
        Shape (n, d), covariates of the logged debtors.
    actions
        Shape (n,), logged arm index in [0, K) or arm key.
    rewards
        Shape (n,), binary reward the uplift model predicts (paid within the window).
    propensities
        Shape (n,), logging probability of the logged arm, in (0, 1].
    arms
        The K arm keys.
    router
        ``router(model, covariates_of_fold) -> (m, K)``, e.g.
        ``lambda m, x: route(m, x, champion="direct_collection", soft_arm="friendly_sms",
        threshold=0.5)``. The covariates passed keep their index, so a closure can look up
        per-debtor values (amounts) by it.
    rng
        Draws the folds, then the bootstrap resamples.
    baselines
        Arms whose "always this arm" policy is evaluated alongside.
    estimator
        ``"dr"`` (default; reward model = out-of-fold predictions), ``"ipw"`` or ``"snips"``.
    n_folds
        Number of cross-fitting folds, >= 2.
    clip, level, n_boot
        As in :func:`engine.ope.evaluate`.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2 for cross-fitting, got {n_folds}")
    arm_keys = tuple(str(a) for a in arms)
    a = _as_arm_indices(actions, arm_keys)
    n, k = a.shape[0], len(arm_keys)
    if len(covariates) != n:
        raise ValueError(f"covariates have {len(covariates)} rows, actions {n}")
    r = np.asarray(rewards, dtype=np.float64)
    unknown = set(baselines) - set(arm_keys)
    if unknown:
        raise ValueError(f"baselines: unknown arm(s) {sorted(unknown)}; known {list(arm_keys)}")
    # Balanced random folds: a permutation cut in n_folds interleaved parts.
    fold = np.empty(n, dtype=np.intp)
    fold[rng.permutation(n)] = np.arange(n) % n_folds
    target = np.empty((n, k), dtype=np.float64)
    q = np.empty((n, k), dtype=np.float64)
    for f in range(n_folds):  # a handful of folds; each fit and prediction is vectorised
        held_out = fold == f
        model = fit_uplift_model(
            covariates.loc[~held_out], a[~held_out], r[~held_out], arms=arm_keys
        )
        held = covariates.loc[held_out]
        routed = np.asarray(router(model, held), dtype=np.float64)
        if routed.shape != (int(held_out.sum()), k):
            raise ValueError(
                f"router returned shape {routed.shape}, expected ({int(held_out.sum())}, {k})"
            )
        target[held_out] = routed
        q[held_out] = model.predict(held)

    def run(policy: FloatArray) -> ope.OpeEstimate:
        return ope.evaluate(
            a,
            r,
            propensities,
            policy,
            estimator=estimator,
            rng=rng,
            reward_model=q,
            clip=clip,
            level=level,
            n_boot=n_boot,
        )

    base = {
        arm: run(ope.policy_from_actions(np.full(n, arm_keys.index(arm)), k)) for arm in baselines
    }
    return RouterEvaluation(
        estimate=run(target), baselines=base, target=target, reward_model=q, fold=fold
    )
