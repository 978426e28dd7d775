"""The off-policy estimators (IPS, SNIPS, DR), their dispatch by name and the on-policy baseline.

Notation as in :mod:`engine.ope.weights` (clipping too); the uncertainty as in
:mod:`engine.ope.bootstrap`.

Estimators
----------
``ipw``  Inverse propensity weighting, the Horvitz-Thompson estimator (Horvitz & Thompson 1952;
         in bandits Precup, Sutton & Singh 2000; Strehl et al. 2010):
         ``V = 1/n sum_i w_i r_i``. Unbiased when every action the target can take had
         ``p > 0`` under logging, but its variance grows with the weights.
``snips`` Self-normalised IPS (Swaminathan & Joachims 2015, "The self-normalized estimator for
         counterfactual learning"): ``V = sum_i w_i r_i / sum_i w_i``. Slightly biased (a ratio
         estimator, bias O(1/n)), much lower variance, and always inside the range of the
         observed rewards; invariant to adding a constant to all rewards.
``dr``   Doubly robust (Dudik, Langford & Li 2011, "Doubly robust policy evaluation and
         learning"): with a reward model ``q[i, a]`` (predicted reward of action ``a`` for
         decision ``i``),
         ``V = 1/n sum_i [ sum_a pi(a|x_i) q[i, a] + w_i (r_i - q[i, a_i]) ]``.
         Unbiased if either the propensities or the reward model are right; the better the
         reward model, the smaller the variance. Fit the reward model on other data than it
         is evaluated on (cross-fitting, :mod:`engine.uplift`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.ope.bootstrap import DEFAULT_N_BOOT, _bootstrap_ratio, _mean_se
from engine.ope.estimate import ESTIMATORS, Estimator, FloatArray, IntArray, OpeEstimate
from engine.ope.validation import _check_clip, _check_interval, _validate
from engine.ope.weights import _weights, effective_sample_size


def _prepare(
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target: npt.ArrayLike,
    reward_model: npt.ArrayLike | None,
    *,
    clip: float | None,
    level: float,
    n_boot: int,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray | None, FloatArray, int]:
    """The checks and (clipped) weights every importance-weighted estimator starts with.

    Returns
    -------
    tuple
        Validated ``(actions, rewards, target, reward_model, weights, n_clipped)``.
    """
    _check_clip(clip)
    _check_interval(level, n_boot)
    a, r, p, pi, q = _validate(actions, rewards, propensities, target, reward_model)
    w, n_clipped = _weights(a, p, pi, clip)
    return a, r, pi, q, w, n_clipped


def _weighted_estimate(
    name: str,
    value: float,
    std_error: float,
    interval: tuple[float, float],
    weights: FloatArray,
    *,
    n_clipped: int,
    clip: float | None,
    level: float,
) -> OpeEstimate:
    """The estimate of an importance-weighted estimator over the n decisions of ``weights``."""
    low, high = interval
    return OpeEstimate(
        estimator=name,
        value=value,
        std_error=std_error,
        ci_low=low,
        ci_high=high,
        level=level,
        ess=effective_sample_size(weights),
        n_clipped=n_clipped,
        clip=clip,
        n=int(weights.shape[0]),
    )


def ipw(
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    rng: np.random.Generator,
    clip: float | None = None,
    level: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
) -> OpeEstimate:
    """Inverse propensity weighting (Horvitz-Thompson) estimate ``1/n sum_i w_i r_i``.

    Parameters
    ----------
    actions
        Shape (n,), logged action indices in [0, K).
    rewards
        Shape (n,), observed rewards (finite).
    propensities
        Shape (n,), logging probability of the logged action, in (0, 1].
    target
        Shape (n, K), target policy's probability of each action per decision; rows sum to 1.
    rng
        Source of the bootstrap resamples.
    clip
        Cap on the importance weights (``None``: no cap); see :mod:`engine.ope.weights`.
    level, n_boot
        Interval level and number of bootstrap resamples.
    """
    _, r, _, _, w, n_clipped = _prepare(
        actions, rewards, propensities, target, None, clip=clip, level=level, n_boot=n_boot
    )
    terms = w * r
    return _mean_estimate(
        "ipw", terms, w, n_clipped=n_clipped, clip=clip, rng=rng, level=level, n_boot=n_boot
    )


def _mean_estimate(
    name: str,
    terms: FloatArray,
    weights: FloatArray,
    *,
    n_clipped: int,
    clip: float | None,
    rng: np.random.Generator,
    level: float,
    n_boot: int,
) -> OpeEstimate:
    """An estimator that is the mean of per-decision ``terms`` (IPS, DR), shape (n,)."""
    interval = _bootstrap_ratio(terms, None, rng=rng, n_boot=n_boot, level=level)
    return _weighted_estimate(
        name,
        float(np.mean(terms)),
        _mean_se(terms),
        interval,
        weights,
        n_clipped=n_clipped,
        clip=clip,
        level=level,
    )


def snips(
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    rng: np.random.Generator,
    clip: float | None = None,
    level: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
) -> OpeEstimate:
    """Self-normalised IPS (Swaminathan & Joachims 2015): ``sum_i w_i r_i / sum_i w_i``.

    Parameters as :func:`ipw`. Raises ``ValueError`` when the target policy gives probability 0
    to every logged action (no overlap: nothing in the log says anything about the target).
    The standard error is the delta-method one of a ratio estimator,
    ``sqrt(n / (n - 1) * sum_i w_i^2 (r_i - V)^2) / sum_i w_i``.
    """
    a, r, _, _, w, n_clipped = _prepare(
        actions, rewards, propensities, target, None, clip=clip, level=level, n_boot=n_boot
    )
    total = float(np.sum(w))
    if total <= 0.0:
        raise ValueError(
            "the target policy gives probability 0 to every logged action: "
            "the log has no overlap with the target, SNIPS is undefined"
        )
    terms = w * r
    value = float(np.sum(terms)) / total
    n = int(a.shape[0])
    resid = w * (r - value)
    se = float(np.sqrt(np.sum(resid * resid) * n / (n - 1)) / total) if n > 1 else float("nan")
    interval = _bootstrap_ratio(terms, w, rng=rng, n_boot=n_boot, level=level)
    return _weighted_estimate(
        "snips", value, se, interval, w, n_clipped=n_clipped, clip=clip, level=level
    )


def doubly_robust(
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target: npt.ArrayLike,
    reward_model: npt.ArrayLike,
    *,
    rng: np.random.Generator,
    clip: float | None = None,
    level: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
) -> OpeEstimate:
    """Doubly robust estimate (Dudik, Langford & Li 2011).

    ``V = 1/n sum_i [ sum_a target[i, a] q[i, a] + w_i (r_i - q[i, a_i]) ]``: the direct-method
    prediction of the reward model ``q``, corrected by the importance-weighted residual of the
    logged action. Clipping applies to the correction's weight, as in OBP.

    Parameters
    ----------
    reward_model
        Shape (n, K), predicted reward of each action for each decision. It must not have been
        fitted on these decisions (cross-fit it), or its overfitting biases the estimate.

    Other parameters as :func:`ipw`.
    """
    a, r, pi, q, w, n_clipped = _prepare(
        actions, rewards, propensities, target, reward_model, clip=clip, level=level, n_boot=n_boot
    )
    assert q is not None  # reward_model is a required argument here
    rows = np.arange(a.shape[0])
    terms = np.sum(pi * q, axis=1) + w * (r - q[rows, a])
    return _mean_estimate(
        "dr", terms, w, n_clipped=n_clipped, clip=clip, rng=rng, level=level, n_boot=n_boot
    )


def evaluate(
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    estimator: Estimator,
    rng: np.random.Generator,
    reward_model: npt.ArrayLike | None = None,
    clip: float | None = None,
    level: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
) -> OpeEstimate:
    """Dispatch to :func:`ipw`, :func:`snips` or :func:`doubly_robust` by name.

    ``reward_model`` (n, K) is required for ``"dr"`` and ignored otherwise.
    """
    if estimator == "ipw":
        return ipw(
            actions, rewards, propensities, target, rng=rng, clip=clip, level=level, n_boot=n_boot
        )
    if estimator == "snips":
        return snips(
            actions, rewards, propensities, target, rng=rng, clip=clip, level=level, n_boot=n_boot
        )
    if estimator == "dr":
        if reward_model is None:
            raise ValueError(
                "the dr estimator needs a reward_model of shape (n, K) "
                "(predicted reward of each action per decision)"
            )
        return doubly_robust(
            actions,
            rewards,
            propensities,
            target,
            reward_model,
            rng=rng,
            clip=clip,
            level=level,
            n_boot=n_boot,
        )
    raise ValueError(f"unknown estimator {estimator!r}; expected one of {', '.join(ESTIMATORS)}")


def value_of_logging_policy(
    rewards: npt.ArrayLike,
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_boot: int = DEFAULT_N_BOOT,
) -> OpeEstimate:
    """On-policy value of the logging policy: the mean observed reward, with its standard error
    and bootstrap interval; the baseline an off-policy estimate is compared with.

    Parameters
    ----------
    rewards
        Shape (n,), observed rewards.
    """
    _check_interval(level, n_boot)
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] == 0:
        raise ValueError(f"rewards must be 1-D and non-empty, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards must be finite")
    low, high = _bootstrap_ratio(r, None, rng=rng, n_boot=n_boot, level=level)
    n = int(r.shape[0])
    return OpeEstimate(
        estimator="on_policy",
        value=float(np.mean(r)),
        std_error=_mean_se(r),
        ci_low=low,
        ci_high=high,
        level=level,
        ess=float(n),
        n_clipped=0,
        clip=None,
        n=n,
    )
