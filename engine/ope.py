"""Off-policy evaluation: the value a *target* policy would have had, estimated from logs of
another (*logging*) policy, before a single debtor gets the target policy.

Setting and notation (Open Bandit Pipeline's conventions, Saito et al. 2021)
------------------------------------------------------------------------------
``n`` logged decisions ``i``, ``K`` actions (arms, indexed ``0 .. K-1``). Decision ``i`` took
action ``a_i`` with probability ``p_i = pi_0(a_i | x_i)`` under the logging policy (the
*propensity* stored at assignment) and earned reward ``r_i``. The target policy is given as a
matrix ``target[i, a] = pi(a | x_i)`` (rows sum to 1); a deterministic policy is a one-hot
matrix (:func:`policy_from_actions`). The importance weight of a decision is
``w_i = pi(a_i | x_i) / p_i``.

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

Clipping
--------
``clip`` caps every importance weight at ``min(w_i, clip)`` (Ionides 2008, "truncated importance
sampling"; OBP's ``lambda_``). It trades variance for bias: a few decisions whose target
probability is far above their logging probability can dominate IPS; capping them shrinks the
variance (and the interval) but biases the estimate towards the rewards of decisions the
logging policy already favoured (downwards for non-negative rewards under IPS). With ``clip``
at or above the largest weight nothing changes. The number of clipped weights is reported so
a reader sees how much of the estimate rests on the cap.

Uncertainty
-----------
``std_error`` is the analytic (influence-function) standard error: the sample standard deviation
of the per-decision terms over ``sqrt(n)`` for IPS and DR, and the delta-method (linearised ratio)
standard error for SNIPS. The interval is the bootstrap percentile interval (Efron & Tibshirani
1993) over ``n_boot`` resamples of the decisions, drawn with the injected generator in batches
that bound the memory (OBP's ``estimate_confidence_interval_by_bootstrap``). The effective sample
size of the (clipped) weights is Kish's ``(sum w)^2 / sum w^2`` (Kish 1965): ``n`` when all weights
are equal, small when a few decisions carry the estimate; it is the number to gate a promotion
on (a share of the log).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

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

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

Estimator = Literal["ipw", "snips", "dr"]
ESTIMATORS: tuple[Estimator, ...] = ("ipw", "snips", "dr")

ROW_SUM_TOLERANCE = 1e-6
"""Largest accepted ``|sum_a target[i, a] - 1|``."""

DEFAULT_N_BOOT = 1000

# Bootstrap indices held at once (n_boot_batch * n); 4 million int64 = 32 MB.
_MAX_BOOT_CELLS = 4_000_000


@dataclass(frozen=True)
class OpeEstimate:
    """An off-policy (or on-policy) estimate of a policy's mean reward per decision.

    Attributes
    ----------
    estimator
        ``"ipw"``, ``"snips"``, ``"dr"`` or ``"on_policy"``.
    value
        Estimated mean reward per decision under the target policy.
    std_error
        Analytic standard error (see the module docstring).
    ci_low, ci_high
        Bootstrap percentile interval at ``level``.
    level
        Coverage level of the interval, e.g. 0.95.
    ess
        Kish effective sample size of the (clipped) importance weights.
    n_clipped
        Number of weights above ``clip`` (replaced by ``clip``).
    clip
        The weight cap, ``None`` for no clipping.
    n
        Number of logged decisions.
    """

    estimator: str
    value: float
    std_error: float
    ci_low: float
    ci_high: float
    level: float
    ess: float
    n_clipped: int
    clip: float | None
    n: int

    @property
    def ess_share(self) -> float:
        """Effective sample size as a share of the log, in [0, 1]."""
        return self.ess / self.n if self.n else 0.0


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def policy_from_actions(actions_chosen: npt.ArrayLike, n_actions: int) -> FloatArray:
    """One-hot target matrix of a deterministic policy.

    Parameters
    ----------
    actions_chosen
        Shape (n,), the action index the policy takes for each decision, in [0, n_actions).
    n_actions
        Number of actions K.

    Returns
    -------
    numpy.ndarray
        Shape (n, K), ``1.0`` at the chosen action, ``0.0`` elsewhere.
    """
    if n_actions < 1:
        raise ValueError(f"n_actions must be >= 1, got {n_actions}")
    chosen = _as_actions(actions_chosen, n_actions, name="actions_chosen")
    out = np.zeros((chosen.shape[0], n_actions), dtype=np.float64)
    out[np.arange(chosen.shape[0]), chosen] = 1.0
    return out


def effective_sample_size(weights: npt.ArrayLike) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2`` of weights (n,); 0 if all are 0."""
    w = np.asarray(weights, dtype=np.float64)
    sq = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / sq if sq > 0.0 else 0.0


def importance_weights(
    actions: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    clip: float | None = None,
) -> tuple[FloatArray, int]:
    """Importance weights ``w_i = target[i, a_i] / p_i``, capped at ``clip``.

    Returns
    -------
    tuple
        The (n,) weights after clipping and the number of weights that were clipped.
    """
    a, _, p, pi, _ = _validate(actions, np.zeros(np.shape(actions)), propensities, target, None)
    _check_clip(clip)
    return _weights(a, p, pi, clip)


def _weights(
    a: IntArray, p: FloatArray, pi: FloatArray, clip: float | None
) -> tuple[FloatArray, int]:
    w = pi[np.arange(a.shape[0]), a] / p
    if clip is None:
        return w, 0
    n_clipped = int(np.count_nonzero(w > clip))
    return np.minimum(w, clip), n_clipped


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _as_actions(actions: npt.ArrayLike, n_actions: int, *, name: str) -> IntArray:
    raw = np.asarray(actions)
    if raw.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {raw.shape}")
    if raw.size and not np.issubdtype(raw.dtype, np.integer):
        # Floats that are whole numbers are accepted (arrays read from files), others are not.
        as_float = raw.astype(np.float64)
        if not np.all(np.isfinite(as_float) & (as_float == np.round(as_float))):
            raise ValueError(f"{name} must be integer action indices")
    a = raw.astype(np.intp)
    bad = (a < 0) | (a >= n_actions)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} out of range [0, {n_actions}): {int(bad.sum())} value(s), "
            f"first at index {first} ({a[first]})"
        )
    return a


def _check_clip(clip: float | None) -> None:
    if clip is not None and not (np.isfinite(clip) and clip > 0.0):
        raise ValueError(f"clip must be a finite number > 0 or None, got {clip}")


def _validate(
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    propensities: npt.ArrayLike,
    target: npt.ArrayLike,
    reward_model: npt.ArrayLike | None,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray | None]:
    pi = np.asarray(target, dtype=np.float64)
    if pi.ndim != 2 or pi.shape[1] < 1:
        raise ValueError(f"target must have shape (n, K) with K >= 1, got {pi.shape}")
    n, k = pi.shape
    if n == 0:
        raise ValueError("no logged decisions: n must be >= 1")
    r = np.asarray(rewards, dtype=np.float64)
    p = np.asarray(propensities, dtype=np.float64)
    raw_actions = np.asarray(actions)
    for name, shape in (
        ("actions", raw_actions.shape),
        ("rewards", r.shape),
        ("propensities", p.shape),
    ):
        if shape != (n,):
            raise ValueError(f"{name} must have shape ({n},) like target's rows, got {shape}")
    a = _as_actions(raw_actions, k, name="actions")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards must be finite")
    bad_p = ~((p > 0.0) & (p <= 1.0))  # also catches NaN
    if np.any(bad_p):
        first = int(np.flatnonzero(bad_p)[0])
        raise ValueError(
            f"propensities must be in (0, 1]: {int(bad_p.sum())} value(s) outside, "
            f"first at index {first} ({p[first]})"
        )
    if not np.all(np.isfinite(pi) & (pi >= 0.0)):
        raise ValueError("target probabilities must be finite and >= 0")
    off = np.abs(pi.sum(axis=1) - 1.0) > ROW_SUM_TOLERANCE
    if np.any(off):
        first = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"target rows must sum to 1 (within {ROW_SUM_TOLERANCE:g}): {int(off.sum())} row(s) "
            f"do not, first at index {first} (sum {pi[first].sum():.9g})"
        )
    q: FloatArray | None = None
    if reward_model is not None:
        q = np.asarray(reward_model, dtype=np.float64)
        if q.shape != (n, k):
            raise ValueError(f"reward_model must have shape ({n}, {k}) like target, got {q.shape}")
        if not np.all(np.isfinite(q)):
            raise ValueError("reward_model must be finite")
    return a, r, p, pi, q


def _check_interval(level: float, n_boot: int) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 2:
        raise ValueError(f"n_boot must be >= 2, got {n_boot}")


# ---------------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------------


def _bootstrap_ratio(
    num: FloatArray,
    den: FloatArray | None,
    *,
    rng: np.random.Generator,
    n_boot: int,
    level: float,
) -> tuple[float, float]:
    """Percentile interval of ``sum(num[idx]) / sum(den[idx])`` (``mean(num[idx])`` without
    ``den``) over ``n_boot`` resamples of the n decisions with replacement.

    All three estimators are a mean or a ratio of sums of per-decision terms, so resampling the
    terms is resampling the decisions. Batches of resamples bound the memory; the loop runs over
    batches, not decisions.
    """
    n = num.shape[0]
    batch = max(1, _MAX_BOOT_CELLS // n)
    stats = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, batch):
        stop = min(n_boot, start + batch)
        idx = rng.integers(0, n, size=(stop - start, n))
        top = num[idx].sum(axis=1)
        if den is None:
            stats[start:stop] = top / n
        else:
            bottom = den[idx].sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                # A resample without any positive weight has no SNIPS value: NaN, skipped below.
                stats[start:stop] = np.where(bottom > 0.0, top / bottom, np.nan)
    tail = (1.0 - level) / 2.0
    if np.all(np.isnan(stats)):
        return float("nan"), float("nan")
    low, high = np.nanquantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)


def _mean_se(terms: FloatArray) -> float:
    n = terms.shape[0]
    return float(np.std(terms, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


# ---------------------------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------------------------


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
        Cap on the importance weights (``None``: no cap); see the module docstring.
    level, n_boot
        Interval level and number of bootstrap resamples.
    """
    _check_clip(clip)
    _check_interval(level, n_boot)
    a, r, p, pi, _ = _validate(actions, rewards, propensities, target, None)
    w, n_clipped = _weights(a, p, pi, clip)
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
    low, high = _bootstrap_ratio(terms, None, rng=rng, n_boot=n_boot, level=level)
    return OpeEstimate(
        estimator=name,
        value=float(np.mean(terms)),
        std_error=_mean_se(terms),
        ci_low=low,
        ci_high=high,
        level=level,
        ess=effective_sample_size(weights),
        n_clipped=n_clipped,
        clip=clip,
        n=int(terms.shape[0]),
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
    _check_clip(clip)
    _check_interval(level, n_boot)
    a, r, p, pi, _ = _validate(actions, rewards, propensities, target, None)
    w, n_clipped = _weights(a, p, pi, clip)
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
    low, high = _bootstrap_ratio(terms, w, rng=rng, n_boot=n_boot, level=level)
    return OpeEstimate(
        estimator="snips",
        value=value,
        std_error=se,
        ci_low=low,
        ci_high=high,
        level=level,
        ess=effective_sample_size(w),
        n_clipped=n_clipped,
        clip=clip,
        n=n,
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
    _check_clip(clip)
    _check_interval(level, n_boot)
    a, r, p, pi, q = _validate(actions, rewards, propensities, target, reward_model)
    assert q is not None  # reward_model is a required argument here
    w, n_clipped = _weights(a, p, pi, clip)
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
