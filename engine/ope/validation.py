"""Argument checks of the off-policy estimators: logged actions, rewards, propensities, target
and reward-model matrices, clip, interval level and bootstrap size."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.ope.estimate import FloatArray, IntArray

ROW_SUM_TOLERANCE = 1e-6
"""Largest accepted ``|sum_a target[i, a] - 1|``."""


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
