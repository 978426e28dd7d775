"""The uplift model: fit, prediction and the frozen per-arm coefficients.

Model: a T-learner of logistic regressions
------------------------------------------
One logistic regression of the binary reward (paid within the window) on the covariates per arm
(the "T-learner" of Kunzel, Sekhon, Bickel & Yu 2019), fitted by maximum likelihood with
``statsmodels.api.Logit``. It is the same model as ONE logistic regression in which every
covariate interacts with the arm (the likelihood factorises over arms), but K small fits are
cheaper and each fails, when it fails, with the name of its arm. Only coefficients are kept, so
the fitted model is a small frozen value.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.uplift.covariates import FloatArray, IntArray

if TYPE_CHECKING:  # pandas loads in ~0.5 s; the config (validate) needs none of it
    import pandas as pd


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
    # Imported here: statsmodels takes a second to import, and only fitting needs it (loading
    # an experiment with a stored router model does not).
    import statsmodels.api as sm

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
