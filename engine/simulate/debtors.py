"""Synthetic debtors: the :class:`DebtorBatch` value type and :func:`sample_debtors`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.simulate.calibration import _ID_DIGITS, DEBTOR_TYPES
from engine.simulate.scenario import DEFAULT_SCENARIO, Scenario


@dataclass(frozen=True)
class DebtorBatch:
    """A batch of ``n`` synthetic debtors.

    Attributes
    ----------
    debtor_id : NDArray[np.str_], shape (n,)
        Unique ids, prefix + zero-padded index, e.g. ``"D000000123"``.
    debtor_type : NDArray[np.str_], shape (n,)
        One of ``DEBTOR_TYPES``.
    amount_owed : NDArray[np.float64], shape (n,)
        Invoice amount in currency units, > 0, rounded to cents.
    """

    debtor_id: NDArray[np.str_]
    debtor_type: NDArray[np.str_]
    amount_owed: NDArray[np.float64]

    def __post_init__(self) -> None:
        n = self.debtor_id.shape
        if len(n) != 1 or self.debtor_type.shape != n or self.amount_owed.shape != n:
            raise ValueError(
                "DebtorBatch arrays must be 1-D of equal length, got shapes "
                f"{self.debtor_id.shape}, {self.debtor_type.shape}, {self.amount_owed.shape}"
            )

    def __len__(self) -> int:
        return int(self.debtor_id.shape[0])


def _type_index(debtor_type: NDArray[np.str_]) -> NDArray[np.intp]:
    """Map type codes (n,) to indices into DEBTOR_TYPES (n,); ValueError on unknown codes."""
    idx = np.full(debtor_type.shape, -1, dtype=np.intp)
    for i, t in enumerate(DEBTOR_TYPES):  # loop over 16 types, vectorised over debtors
        idx[debtor_type == t] = i
    if np.any(idx < 0):
        bad = sorted(set(np.unique(debtor_type[idx < 0]).tolist()))
        raise ValueError(f"unknown debtor types {bad}; known: {list(DEBTOR_TYPES)}")
    return idx


def sample_debtors(
    n: int,
    *,
    rng: np.random.Generator,
    start_index: int = 0,
    prefix: str = "D",
    scenario: Scenario = DEFAULT_SCENARIO,
) -> DebtorBatch:
    """Draw ``n`` debtors: ids ``start_index .. start_index + n - 1``, types, amounts.

    Parameters
    ----------
    n : int
        Number of debtors (>= 0).
    rng : numpy.random.Generator
        The only source of randomness.
    start_index : int
        Index of the first debtor (ids are consecutive, so batches can be chained).
    prefix : str
        Id prefix.
    scenario : Scenario
        Type shares and amount distribution.

    Returns
    -------
    DebtorBatch
        Arrays of shape (n,).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if start_index < 0:
        raise ValueError(f"start_index must be >= 0, got {start_index}")
    index = np.arange(start_index, start_index + n, dtype=np.int64)
    if n == 0:  # np.char.zfill fails on empty input
        ids = np.empty(0, dtype=np.str_)
    else:
        ids = np.char.add(prefix, np.char.zfill(index.astype(np.str_), _ID_DIGITS))
    type_idx = rng.choice(len(DEBTOR_TYPES), size=n, p=scenario.shares())
    types = np.array(DEBTOR_TYPES, dtype=np.str_)[type_idx]
    mult = np.array(
        [scenario.type_amount_multiplier.get(t, 1.0) for t in DEBTOR_TYPES], dtype=np.float64
    )
    raw = rng.lognormal(
        mean=np.log(scenario.amount_median * mult[type_idx]), sigma=scenario.amount_sigma
    )
    amount = np.maximum(np.round(raw, 2), 0.01)  # cents; never a zero invoice
    return DebtorBatch(
        debtor_id=np.asarray(ids, dtype=np.str_),
        debtor_type=types,
        amount_owed=np.asarray(amount, dtype=np.float64),
    )
