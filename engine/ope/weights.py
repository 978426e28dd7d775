"""Target policies as matrices, importance weights with clipping, and the effective sample size.

Setting and notation (Open Bandit Pipeline's conventions, Saito et al. 2021)
------------------------------------------------------------------------------
``n`` logged decisions ``i``, ``K`` actions (arms, indexed ``0 .. K-1``). Decision ``i`` took
action ``a_i`` with probability ``p_i = pi_0(a_i | x_i)`` under the logging policy (the
*propensity* stored at assignment) and earned reward ``r_i``. The target policy is given as a
matrix ``target[i, a] = pi(a | x_i)`` (rows sum to 1); a deterministic policy is a one-hot
matrix (:func:`policy_from_actions`). The importance weight of a decision is
``w_i = pi(a_i | x_i) / p_i``.

Clipping
--------
``clip`` caps every importance weight at ``min(w_i, clip)`` (Ionides 2008, "truncated importance
sampling"; OBP's ``lambda_``). It trades variance for bias: a few decisions whose target
probability is far above their logging probability can dominate IPS; capping them shrinks the
variance (and the interval) but biases the estimate towards the rewards of decisions the
logging policy already favoured (downwards for non-negative rewards under IPS). With ``clip``
at or above the largest weight nothing changes. The number of clipped weights is reported so
a reader sees how much of the estimate rests on the cap.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.ope.estimate import FloatArray, IntArray
from engine.ope.validation import _as_actions, _check_clip, _validate


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
