"""Files in for ``dunning uplift fit LOG --output MODEL.json``: a randomised log.

LOG is the same file as ``dunning ope``'s (CSV or Parquet, one row per logged decision, see
:mod:`engine.ope_io`) with, in addition, the debtor covariates the router is fitted on:

``action``, ``propensity`` (required)
    As in :mod:`engine.ope_io`: the arm given and the logging probability of that arm.
``reward`` (required)
    1 if the debtor paid within the pay window, else 0 (the uplift model is a logistic one).
``debtor_type`` (required; another name with ``--type-column``)
    Four-letter PAIR Finance type code, e.g. ``WAOE``.
``amount_owed`` (required; another name with ``--amount-column``)
    Amount owed, > 0 (its log is a covariate).

Every problem is reported at once with file, line and column; nothing is fitted on a file with
errors. The covariate columns keep their names in the model file, so an assignment file must
carry the same columns (the experiment's ``segment`` column and ``amount_owed``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.batchio import InputFileError, RowIssue
from engine.ope_io import LOG_COLUMNS, _check_log, _numbers, _read_table
from engine.simulate import DEBTOR_TYPES

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class UpliftLog:
    """A validated randomised log: arms (sorted), per-row arrays, covariate inputs, and the
    file's name and SHA-256 (kept in the model's training summary)."""

    arms: tuple[str, ...]
    actions: npt.NDArray[np.intp]
    rewards: FloatArray
    propensities: FloatArray
    inputs: dict[str, npt.NDArray[np.object_]]
    source: str
    sha256: str


def read_uplift_log(
    path: str | Path, *, type_column: str = "debtor_type", amount_column: str = "amount_owed"
) -> UpliftLog:
    """Read and validate a randomised log for fitting a router (format in the module docstring).

    Raises
    ------
    InputFileError
        Listing every problem, each with file, line and column.
    """
    path = Path(path)
    table = _read_table(path, (*LOG_COLUMNS, type_column, amount_column))
    issues: list[RowIssue] = _check_log(path, table, None, needs_reward_model=False)
    reward = _numbers(table, "reward")
    issues += table.flag(
        np.isfinite(reward) & (reward != 0.0) & (reward != 1.0),
        "reward",
        "must be 0 or 1 (paid within the window)",
    )
    types = table.frame[type_column].to_numpy(dtype=object)
    bad_type = ~np.isin(types, np.array(DEBTOR_TYPES, dtype=object))
    issues += table.flag(bad_type, type_column, "not a PAIR Finance type (e.g. WAOE, DICR)")
    amount = _numbers(table, amount_column)
    issues += table.flag(~(amount > 0.0), amount_column, "not a number > 0")
    if issues:
        raise InputFileError(sorted(issues, key=lambda i: i.line))
    actions = table.frame["action"].to_numpy(dtype=object)
    arms = tuple(sorted({str(a) for a in actions}))
    index = {arm: k for k, arm in enumerate(arms)}
    return UpliftLog(
        arms=arms,
        actions=np.array([index[str(a)] for a in actions], dtype=np.intp),
        rewards=reward,
        propensities=_numbers(table, "propensity"),
        inputs={type_column: types, amount_column: amount.astype(object)},
        source=path.name,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )
