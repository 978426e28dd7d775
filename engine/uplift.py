"""Uplift routing challenger: who pays anyway, and which arm to give whom.

Billogram/Hallon (DOMAIN.md) found that about 80% of the debtors sent to collection would have
paid anyway; a model of each debtor's probability of paying under each arm let them send those
to a softer treatment. This module fits that model on randomised logs, turns it into a routing
policy and estimates the policy's value on held-out logs with :mod:`engine.ope`, before any
debtor gets it.

Model: a T-learner of logistic regressions
------------------------------------------
One logistic regression of the binary reward (paid within the window) on the covariates per arm
(the "T-learner" of Kunzel, Sekhon, Bickel & Yu 2019), fitted by maximum likelihood with
``statsmodels.api.Logit``. It is the same model as ONE logistic regression in which every
covariate interacts with the arm (the likelihood factorises over arms), but K small fits are
cheaper and each fails, when it fails, with the name of its arm. Only coefficients are kept, so
the fitted model is a small frozen value.

Covariates (:func:`debtor_covariates`): indicators of the four PAIR Finance dimensions
(willing, able, organised, emotional; Ghaffari, Kaniewicz & Stricker 2021), optionally their six
pairwise interactions, and log amount owed. The pairwise interactions matter: "defiant AND
insolvent" debtors behave unlike either pole alone (DOMAIN.md, DICE/DICR). Any numeric frame of
covariates works; the model remembers its columns.

Routing
-------
:func:`route` is Billogram's rule: a debtor whose predicted probability of paying under the
soft arm is at least ``threshold`` gets the soft arm, everybody else the champion ("send to
collection only those unlikely to pay otherwise"). :func:`route_by_value` generalises it: each
debtor gets the arm with the highest predicted value ``P(pay | arm) * amount - cost(arm) -
churn_cost(arm)``. Both can mix in ``epsilon`` exploration: every arm keeps probability
``epsilon / K``, so the deployed challenger is stochastic, its logs keep full support and the
next policy can be evaluated off-policy on them (and the propensity stored at assignment is the
row of the returned matrix).

Evaluation
----------
:func:`evaluate_router` cross-fits (Chernozhukov et al. 2018, "Double/debiased machine learning";
Dudik, Langford & Li 2011 for DR): the logs are split into folds at random; for each fold the
uplift model is fitted on the other folds, routes the fold's debtors and serves as the DR reward
model on the fold. Neither the policy nor the reward model has seen the decisions it is
evaluated on, so their overfitting does not bias the estimate. The estimate is the value of the
fitting-and-routing procedure; the policy fitted on all data is expected to be at least as good.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd
import statsmodels.api as sm

from engine import ope
from engine.simulate import DEBTOR_TYPES

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

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DIMENSIONS: tuple[str, ...] = ("willing", "able", "organised", "emotional")
"""Covariate names of the poles W, A, O, E of the four PAIR Finance dimensions (1 = that pole)."""

Router = Callable[["UpliftModel", pd.DataFrame], FloatArray]
"""A routing rule: (fitted model, covariates of m debtors) -> (m, K) target probabilities."""


# ---------------------------------------------------------------------------------------------
# Covariates
# ---------------------------------------------------------------------------------------------


def debtor_covariates(
    debtor_type: npt.ArrayLike,
    amount_owed: npt.ArrayLike,
    *,
    interactions: bool = True,
) -> pd.DataFrame:
    """Design columns of debtors: dimension indicators, their interactions, log amount owed.

    Parameters
    ----------
    debtor_type
        Shape (m,), four-letter PAIR Finance type codes (e.g. ``"WAOE"``).
    amount_owed
        Shape (m,), amounts > 0.
    interactions
        Add the six pairwise products of the dimension indicators (``willing:able`` ...).

    Returns
    -------
    pandas.DataFrame
        Shape (m, 5) or (m, 11), float columns ``willing, able, organised, emotional,
        [pairwise], log_amount``.
    """
    types = np.asarray(debtor_type).astype(np.str_)
    amount = np.asarray(amount_owed, dtype=np.float64)
    if types.ndim != 1 or amount.shape != types.shape:
        raise ValueError(
            f"debtor_type and amount_owed must be 1-D of equal length, "
            f"got {types.shape} and {amount.shape}"
        )
    unknown = ~np.isin(types, np.array(DEBTOR_TYPES))
    if np.any(unknown):
        raise ValueError(
            f"unknown debtor types {sorted(set(types[unknown].tolist()))}; "
            f"expected four letters from W/D, A/I, O/C, E/R"
        )
    if not np.all(np.isfinite(amount) & (amount > 0.0)):
        raise ValueError("amount_owed must be finite and > 0 (its log is a covariate)")
    # (16, 4) table of poles per type, gathered by type index: vectorised over debtors.
    poles = np.array(
        [[code[pos] == pole for pos, pole in enumerate("WAOE")] for code in DEBTOR_TYPES],
        dtype=np.float64,
    )
    flags = poles[_type_index(types)]
    columns: dict[str, FloatArray] = {name: flags[:, j] for j, name in enumerate(DIMENSIONS)}
    if interactions:
        for i, first in enumerate(DIMENSIONS):
            for second in DIMENSIONS[i + 1 :]:
                columns[f"{first}:{second}"] = columns[first] * columns[second]
    columns["log_amount"] = np.log(amount)
    return pd.DataFrame(columns)


def _type_index(types: npt.NDArray[np.str_]) -> IntArray:
    """Index of each (validated) code (m,) in DEBTOR_TYPES, by binary search in sorted order."""
    codes = np.array(DEBTOR_TYPES)
    order = np.argsort(codes)
    return np.asarray(order[np.searchsorted(codes[order], types)], dtype=np.intp)


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


def _design(covariates: pd.DataFrame, columns: Sequence[str]) -> FloatArray:
    """Intercept + the named covariate columns, shape (m, 1 + d)."""
    missing = [c for c in columns if c not in covariates.columns]
    if missing:
        raise ValueError(f"covariates lack column(s) {missing}; the model uses {list(columns)}")
    try:
        values = covariates.loc[:, list(columns)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("covariates must be numeric") from None
    if not np.all(np.isfinite(values)):
        raise ValueError("covariates must be finite (no missing values)")
    return np.column_stack([np.ones(values.shape[0]), values])


def _expit(x: FloatArray) -> FloatArray:
    # Stable logistic for large |x| (exp of a large positive number overflows).
    ex = np.exp(-np.abs(x))
    out: FloatArray = np.where(x >= 0.0, 1.0 / (1.0 + ex), ex / (1.0 + ex))
    return out


@dataclass(frozen=True)
class UpliftModel:
    """Fitted T-learner: one logistic regression of P(pay) per arm.

    Attributes
    ----------
    arms
        Arm keys, in the order of the model's action indices.
    columns
        Covariate columns the model uses (the design adds an intercept first).
    coef
        Shape (K, 1 + d): intercept then one coefficient per column, per arm.
    n_obs
        Number of logged decisions each arm was fitted on.
    """

    arms: tuple[str, ...]
    columns: tuple[str, ...]
    coef: FloatArray
    n_obs: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.coef.shape != (len(self.arms), 1 + len(self.columns)):
            raise ValueError(
                f"coef must have shape ({len(self.arms)}, {1 + len(self.columns)}), "
                f"got {self.coef.shape}"
            )
        frozen = np.array(self.coef, dtype=np.float64, copy=True)
        frozen.flags.writeable = False  # a frozen value object: no in-place edits either
        object.__setattr__(self, "coef", frozen)

    def arm_index(self, arm: str) -> int:
        """Index of ``arm``; ``ValueError`` naming the known arms if absent."""
        try:
            return self.arms.index(arm)
        except ValueError:
            raise ValueError(f"unknown arm {arm!r}; the model knows {list(self.arms)}") from None

    def predict(self, covariates: pd.DataFrame) -> FloatArray:
        """Predicted P(pay | covariates, arm), shape (m, K) in ``arms`` order."""
        x = _design(covariates, self.columns)
        return _expit(x @ self.coef.T)


def _as_arm_indices(actions: npt.ArrayLike, arms: Sequence[str]) -> IntArray:
    raw = np.asarray(actions)
    if raw.dtype.kind in "USO":
        # Arm keys: map names to indices (loop over the K arms, vectorised over decisions).
        names = raw.astype(np.str_)
        out = np.full(names.shape, -1, dtype=np.intp)
        for k, arm in enumerate(arms):
            out[names == arm] = k
        if np.any(out < 0):
            raise ValueError(
                f"unknown arm(s) {sorted(set(names[out < 0].tolist()))}; expected {list(arms)}"
            )
        return out
    if raw.size and not np.issubdtype(raw.dtype, np.integer):
        raise ValueError("actions must be arm indices (integers) or arm keys (strings)")
    idx = raw.astype(np.intp)
    if np.any((idx < 0) | (idx >= len(arms))):
        raise ValueError(f"actions out of range [0, {len(arms)})")
    return idx


def fit_uplift_model(
    covariates: pd.DataFrame,
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    *,
    arms: Sequence[str],
    max_iter: int = 100,
) -> UpliftModel:
    """Fit P(pay | covariates, arm) by one logistic regression per arm (T-learner).

    Parameters
    ----------
    covariates
        Shape (n, d), numeric covariates (e.g. :func:`debtor_covariates`).
    actions
        Shape (n,), arm index in [0, K) or arm key per logged decision.
    rewards
        Shape (n,), binary reward (1 = paid within the window).
    arms
        The K arm keys; action ``k`` is ``arms[k]``.
    max_iter
        Newton iterations per arm.

    Returns
    -------
    UpliftModel
        Frozen coefficients per arm.

    Raises
    ------
    ValueError
        On shape mismatch, non-binary rewards, or an arm whose regression cannot be fitted
        (too few decisions, all of one outcome, perfect separation, no convergence).
    """
    arm_keys = tuple(str(a) for a in arms)
    if not arm_keys or len(set(arm_keys)) != len(arm_keys):
        raise ValueError(f"arms must be non-empty and unique, got {list(arm_keys)}")
    columns = tuple(str(c) for c in covariates.columns)
    x = _design(covariates, columns)
    n = x.shape[0]
    a = _as_arm_indices(actions, arm_keys)
    y = np.asarray(rewards, dtype=np.float64)
    if a.shape != (n,) or y.shape != (n,):
        raise ValueError(
            f"actions and rewards must have shape ({n},) like covariates' rows, "
            f"got {a.shape} and {y.shape}"
        )
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ValueError("rewards must be binary (0 or 1) for the logistic model")
    coef = np.empty((len(arm_keys), x.shape[1]), dtype=np.float64)
    n_obs: list[int] = []
    for k, arm in enumerate(arm_keys):  # K fits, each vectorised over its decisions
        mask = a == k
        n_obs.append(int(mask.sum()))
        coef[k] = _fit_logit(x[mask], y[mask], arm=arm, max_iter=max_iter)
    return UpliftModel(arms=arm_keys, columns=columns, coef=coef, n_obs=tuple(n_obs))


def _fit_logit(x: FloatArray, y: FloatArray, *, arm: str, max_iter: int) -> FloatArray:
    n, p = x.shape
    if n <= p:
        raise ValueError(f"arm {arm!r}: {n} decisions for {p} coefficients; need more data")
    if y.min() == y.max():
        raise ValueError(f"arm {arm!r}: every reward is {y[0]:g}; a logistic model cannot be fit")
    try:
        with warnings.catch_warnings():
            # Convergence and separation warnings are turned into the checks below.
            warnings.simplefilter("ignore")
            result = sm.Logit(y, x).fit(disp=0, method="newton", maxiter=max_iter)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise ValueError(
            f"arm {arm!r}: logistic regression failed ({exc}); "
            "a covariate may be constant or perfectly predict payment in this arm"
        ) from None
    params = np.asarray(result.params, dtype=np.float64)
    if not (bool(result.mle_retvals.get("converged", False)) and np.all(np.isfinite(params))):
        raise ValueError(
            f"arm {arm!r}: logistic regression did not converge in {max_iter} iterations "
            "(perfect separation? drop or merge covariates)"
        )
    return params


# ---------------------------------------------------------------------------------------------
# Routing policies
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Cross-fitted off-policy evaluation
# ---------------------------------------------------------------------------------------------


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
