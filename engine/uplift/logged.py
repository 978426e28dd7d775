"""Off-policy value of a deployed router on an experiment's own logs (the promotion gate).

A router arm is a *policy* challenger: before it may replace the champion for everybody, the
promotion rule asks what the router would be worth if it routed every debtor, estimated on
the logged assignments of the experiment, and how much of the log supports that estimate.

The logged action is the treatment each debtor got (the arm itself for a plain arm), with its
probability for that debtor as recorded at assignment: the weights of every arm that would
have given them this treatment (:mod:`engine.drawing`). The target policy gives each debtor
the treatment the router routes them to. The DR reward model is the router's own T-learner,
fitted on an earlier randomised phase, so it has not seen these decisions (no cross-fitting
needed). The effective sample size share tells the promotion rule how much of the log is in
effect used: about the share of debtors whose logged treatment is the router's choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine import ope
from engine.uplift.features import encode
from engine.uplift.stored import RoutingModel


@dataclass(frozen=True)
class PolicyOpe:
    """Off-policy value of a router on logs, and of the all-champion policy beside it.

    Attributes
    ----------
    arm
        The router arm evaluated.
    estimate
        DR estimate of the router's pay-on-time rate had it routed every logged debtor;
        ``estimate.ess_share`` is the effective sample size as a share of the log.
    champion
        The same estimator for "every debtor gets the champion's treatment".
    routed_share
        Share of the logged debtors the router sends to each of its treatments.
    """

    arm: str
    estimate: ope.OpeEstimate
    champion: ope.OpeEstimate
    routed_share: Mapping[str, float]

    @property
    def ess_share(self) -> float:
        """Effective sample size of the router's estimate as a share of the log."""
        return self.estimate.ess_share


def router_policy_value(
    model: RoutingModel,
    *,
    arm: str,
    champion: str,
    treatments: Sequence[str],
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    inputs: Mapping[str, npt.ArrayLike],
    rng: np.random.Generator,
    level: float = 0.95,
    n_boot: int = ope.DEFAULT_N_BOOT,
) -> PolicyOpe:
    """DR value of ``model``'s routing on logged decisions (see the module docstring).

    Parameters
    ----------
    model
        The router (``experiment.routers[arm]``).
    arm, champion
        The router arm's key; the champion's treatment (a plain arm) for the baseline.
    treatments
        The K treatment keys that can appear in the log (the experiment's plain arms).
    actions
        Shape (n,), index into ``treatments`` of the treatment each debtor got.
    rewards
        Shape (n,), 1 if paid within the window.
    propensities
        Shape (n,), probability of that treatment for that debtor at assignment, in (0, 1].
    inputs
        Column -> shape (n,) covariate inputs (segment column, ``amount_owed``).
    rng
        Bootstrap randomness.
    """
    keys = list(treatments)
    if champion not in keys:
        raise ValueError(f"champion {champion!r} is not a plain arm {keys}")
    a = np.asarray(actions, dtype=np.intp)
    n, k = a.shape[0], len(keys)
    routed = model.route(inputs, n)
    options = np.array([keys.index(t) for t in model.treatments], dtype=np.intp)
    target = ope.policy_from_actions(options[routed.choice], k)
    covariates, _ = encode(model.features, inputs, n)
    predicted = model.uplift_model().predict(covariates)
    # Reward model per logged treatment; treatments the model never saw get 0 (the router
    # never picks them, so their weight is 0 and the DR correction uses only their reward).
    q = np.zeros((n, k))
    for j, key in enumerate(keys):
        if key in model.arms:
            q[:, j] = predicted[:, model.arms.index(key)]

    def run(policy: npt.NDArray[np.float64]) -> ope.OpeEstimate:
        return ope.evaluate(
            a,
            rewards,
            propensities,
            policy,
            estimator="dr",
            rng=rng,
            reward_model=q,
            level=level,
            n_boot=n_boot,
        )

    baseline = ope.policy_from_actions(np.full(n, keys.index(champion)), k)
    return PolicyOpe(
        arm=arm,
        estimate=run(target),
        champion=run(baseline),
        routed_share={t: float(target[:, keys.index(t)].mean()) for t in model.treatments},
    )
