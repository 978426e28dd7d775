"""Deterministic, salted, vectorised assignment of debtors to arms.

Each debtor id is hashed with a key derived from the experiment's salt into a 64-bit integer;
its top 53 bits give a uniform number ``u`` in [0, 1). The arm is the first whose cumulative
weight exceeds ``u``. The same (salt, id) always gives the same ``u``, so the same allocation
always gives the same arm: assignment is reproducible without storing any random state, and a
different salt per experiment makes assignments of two experiments independent.

The hash is SipHash-2-4 (pandas' ``hash_array``, vectorised in C) followed by pandas' 64-bit
finaliser; it is stable across platforms and pandas versions because pandas relies on it for
persisted hashing. Stickiness (a debtor keeps the arm first given) is enforced by the store,
which keeps the first assignment; this module only computes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.config import WEIGHT_SUM_TOLERANCE

#: 2**-53: turns the top 53 bits of a uint64 into a float in [0, 1) exactly.
_TWO_POW_MINUS_53 = 1.0 / float(1 << 53)


def hash_key(salt: str) -> str:
    """The 16-character SipHash key for ``salt`` (hex of its BLAKE2b digest).

    pandas needs exactly 16 bytes; hashing the salt first lets analysts use any salt string.
    """
    return hashlib.blake2b(salt.encode("utf-8"), digest_size=8).hexdigest()


def hash_ids(ids: npt.ArrayLike, *, salt: str) -> npt.NDArray[np.uint64]:
    """Salted 64-bit hashes of debtor ids.

    Parameters
    ----------
    ids
        Shape (n,). Converted to strings, so ``123`` and ``"123"`` hash alike.
    salt
        Experiment salt.

    Returns
    -------
    numpy.ndarray
        Shape (n,), dtype uint64.
    """
    values = np.asarray(ids)
    if values.dtype != object:
        values = values.astype(str).astype(object)
    return np.asarray(
        pd.util.hash_array(values, hash_key=hash_key(salt), categorize=False), dtype=np.uint64
    )


def unit_uniforms(ids: npt.ArrayLike, *, salt: str) -> npt.NDArray[np.float64]:
    """Shape (n,) uniform numbers in [0, 1), one per id, fixed by (salt, id)."""
    return (hash_ids(ids, salt=salt) >> np.uint64(11)).astype(np.float64) * _TWO_POW_MINUS_53


def validate_weights(weights: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Check that ``weights`` (shape (k,)) are finite, non-negative and sum to 1."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("weights must be a non-empty 1-D array")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights must be finite and non-negative, got {w.tolist()}")
    if abs(w.sum() - 1.0) > WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"weights must sum to 1, they sum to {w.sum():.12g}")
    # Within the tolerance (decimal YAML weights), renormalise so the stored propensities sum
    # to 1; leave sums already exact to rounding alone, so a weight of 0.7 stays 0.7.
    if abs(w.sum() - 1.0) > 1e-12:
        w = w / w.sum()
    return w


def arms_from_uniforms(u: npt.NDArray[np.float64], weights: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Arm index per unit: the first arm whose cumulative weight exceeds ``u``.

    Parameters
    ----------
    u
        Shape (n,), values in [0, 1).
    weights
        Shape (k,), summing to 1.

    Returns
    -------
    numpy.ndarray
        Shape (n,), arm indices in [0, k). An arm with weight 0 is never chosen.
    """
    w = validate_weights(weights)
    edges = np.cumsum(w)
    edges[-1] = 1.0  # guard against round-off leaving the top sliver of [0, 1) unassigned
    index = np.searchsorted(edges, u, side="right")
    # u just below 1.0 can land past the end when trailing arms have weight 0.
    result: npt.NDArray[np.intp] = np.minimum(index, np.flatnonzero(w > 0)[-1]).astype(np.intp)
    return result


@dataclass(frozen=True)
class AssignmentBatch:
    """The result of assigning n debtors.

    Attributes
    ----------
    arm_index
        Shape (n,), index into ``arm_keys``.
    arm
        Shape (n,), arm key per debtor.
    propensity
        Shape (n,), probability with which the debtor's arm was chosen (its weight).
    """

    arm_index: npt.NDArray[np.intp]
    arm: npt.NDArray[np.str_]
    propensity: npt.NDArray[np.float64]


def assign(
    ids: npt.ArrayLike,
    *,
    salt: str,
    arm_keys: Sequence[str],
    weights: npt.ArrayLike,
) -> AssignmentBatch:
    """Assign each id to an arm with probability given by ``weights``.

    Deterministic in (salt, id, weights); see the module docstring for the scheme.
    """
    w = validate_weights(weights)
    if len(arm_keys) != w.size:
        raise ValueError(f"{len(arm_keys)} arm keys but {w.size} weights")
    index = arms_from_uniforms(unit_uniforms(ids, salt=salt), w)
    keys = np.asarray(arm_keys, dtype=np.str_)
    return AssignmentBatch(arm_index=index, arm=keys[index], propensity=w[index])
