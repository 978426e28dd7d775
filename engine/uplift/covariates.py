"""Covariates of debtors for the uplift model.

Covariates (:func:`debtor_covariates`): indicators of the four PAIR Finance dimensions
(willing, able, organised, emotional; Ghaffari, Kaniewicz & Stricker 2021), optionally their six
pairwise interactions, and log amount owed. The pairwise interactions matter: "defiant AND
insolvent" debtors behave unlike either pole alone (DOMAIN.md, DICE/DICR). Any numeric frame of
covariates works; the model remembers its columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.simulate import DEBTOR_TYPES

if TYPE_CHECKING:  # pandas loads in ~0.5 s; the config (validate) needs none of it
    import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DIMENSIONS: tuple[str, ...] = ("willing", "able", "organised", "emotional")
"""Covariate names of the poles W, A, O, E of the four PAIR Finance dimensions (1 = that pole)."""


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
    import pandas as pd

    return pd.DataFrame(columns)


def _type_index(types: npt.NDArray[np.str_]) -> IntArray:
    """Index of each (validated) code (m,) in DEBTOR_TYPES, by binary search in sorted order."""
    codes = np.array(DEBTOR_TYPES)
    order = np.argsort(codes)
    return np.asarray(order[np.searchsorted(codes[order], types)], dtype=np.intp)
