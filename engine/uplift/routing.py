"""Routing policies: a fitted uplift model turned into target probabilities per debtor.

Routing
-------
:func:`route` is Billogram's rule: a debtor whose predicted probability of paying under the
soft arm is at least ``threshold`` gets the soft arm, everybody else the champion ("send to
collection only those unlikely to pay otherwise"). :func:`route_by_value` generalises it: each
debtor gets the arm with the highest predicted value ``P(pay | arm) * amount - cost(arm) -
churn_cost(arm)``. Both can mix in ``epsilon`` exploration: every arm keeps probability
``epsilon / K``, so the deployed challenger is stochastic, its logs keep full support and the
next policy can be evaluated off-policy on them (and the propensity stored at assignment is the
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine import ope
from engine.uplift.covariates import FloatArray, IntArray
from engine.uplift.model import UpliftModel

Router = Callable[["UpliftModel", pd.DataFrame], FloatArray]
"""A routing rule: (fitted model, covariates of m debtors) -> (m, K) target probabilities."""


def _with_exploration(chosen: IntArray, n_arms: int, epsilon: float) -> FloatArray:
    """(1 - epsilon) * one-hot(chosen) + epsilon / K, shape (m, K)."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    return (1.0 - epsilon) * ope.policy_from_actions(chosen, n_arms) + epsilon / n_arms


def route(
    model: UpliftModel,
    covariates: pd.DataFrame,
    *,
    champion: str,
    soft_arm: str,
    threshold: float,
    epsilon: float = 0.0,
) -> FloatArray:
    """Billogram's rule: the soft arm to those likely to pay under it, the champion to the rest.

    Parameters
    ----------
    model
        Fitted uplift model.
    covariates
        Shape (m, d), the debtors to route.
    champion
        Arm for debtors unlikely to pay otherwise (e.g. ``direct_collection``).
    soft_arm
        Arm for debtors whose predicted ``P(pay | soft_arm) >= threshold``.
    threshold
        Probability in [0, 1]; 0 sends everybody to the soft arm, above 1 nobody.
    epsilon
        Exploration share spread uniformly over all K arms.

    Returns
    -------
    numpy.ndarray
        Shape (m, K), target probabilities in ``model.arms`` order; rows sum to 1.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    champ, soft = model.arm_index(champion), model.arm_index(soft_arm)
    p_soft = model.predict(covariates)[:, soft]
    chosen = np.where(p_soft >= threshold, soft, champ).astype(np.intp)
    return _with_exploration(chosen, len(model.arms), epsilon)


def _per_arm(
    values: Mapping[str, float] | npt.ArrayLike | None, model: UpliftModel, m: int, name: str
) -> FloatArray:
    """A per-arm cost as an (m, K) array: a mapping arm -> cost (missing arms cost 0) or anything
    that broadcasts to (m, K) (e.g. a per-debtor, per-arm churn cost through CLV)."""
    k = len(model.arms)
    if values is None:
        return np.zeros((m, k), dtype=np.float64)
    if isinstance(values, Mapping):
        unknown = set(values) - set(model.arms)
        if unknown:
            raise ValueError(f"{name}: unknown arm(s) {sorted(unknown)}; known {list(model.arms)}")
        row = np.array([float(values.get(arm, 0.0)) for arm in model.arms], dtype=np.float64)
        out = np.broadcast_to(row, (m, k)).astype(np.float64)
    else:
        arr = np.asarray(values, dtype=np.float64)
        try:
            out = np.broadcast_to(arr, (m, k)).astype(np.float64)
        except ValueError:
            message = f"{name} must broadcast to ({m}, {k}), got shape {arr.shape}"
            raise ValueError(message) from None
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite")
    return out


def route_by_value(
    model: UpliftModel,
    covariates: pd.DataFrame,
    *,
    amount: npt.ArrayLike | float = 1.0,
    arm_cost: Mapping[str, float] | npt.ArrayLike | None = None,
    churn_cost: Mapping[str, float] | npt.ArrayLike | None = None,
    epsilon: float = 0.0,
) -> FloatArray:
    """Give each debtor the arm of highest predicted value, with optional exploration.

    ``value[i, a] = P(pay | x_i, a) * amount_i - arm_cost[a] - churn_cost[a]``; ties go to the
    first arm in ``model.arms``.

    Parameters
    ----------
    model
        Fitted uplift model.
    covariates
        Shape (m, d), the debtors to route.
    amount
        Shape (m,) amounts collected on payment, or a scalar (1.0: maximise the pay rate).
    arm_cost
        Treatment cost per arm: a mapping ``arm -> cost`` (missing arms cost 0) or an array
        broadcasting to (m, K).
    churn_cost
        Expected CLV lost through churn per arm (e.g. ``CLV * (churn rate under the arm -
        churn rate under no action)``), same forms as ``arm_cost``.
    epsilon
        Exploration share spread uniformly over all K arms.

    Returns
    -------
    numpy.ndarray
        Shape (m, K), target probabilities; rows sum to 1.
    """
    p = model.predict(covariates)
    m = p.shape[0]
    amt = np.asarray(amount, dtype=np.float64)
    if amt.ndim == 1 and amt.shape != (m,):
        raise ValueError(f"amount must be a scalar or have shape ({m},), got {amt.shape}")
    if amt.ndim > 1 or not np.all(np.isfinite(amt)):
        raise ValueError("amount must be a finite scalar or a 1-D array")
    value = (
        p * (amt[:, None] if amt.ndim == 1 else amt)
        - _per_arm(arm_cost, model, m, "arm_cost")
        - _per_arm(churn_cost, model, m, "churn_cost")
    )
    chosen = np.argmax(value, axis=1).astype(np.intp)
    return _with_exploration(chosen, len(model.arms), epsilon)
