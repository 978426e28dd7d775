"""Files in for ``dunning ope LOG --target TARGET [--estimator ipw|snips|dr] [--json]``.

Every row of both files is validated; every problem is reported at once with file, line and
column (:class:`engine.batchio.InputFileError`, the header is line 1), and nothing is returned
from files with errors.

File formats (CSV, UTF-8, header row; or Parquet)
--------------------------------------------------

LOG, one row per logged decision:

``action`` (required)
    Key of the arm that was taken, e.g. ``friendly_sms``; must be a column of TARGET.
``reward`` (required)
    The observed reward, a finite number (e.g. 1/0 paid within the window, or net value).
``propensity`` (required)
    The logging policy's probability of the logged action at that moment, in (0, 1] (the
    propensity the engine stores with every assignment).
``reward_hat_<arm>`` (one per TARGET column; required by ``--estimator dr`` only)
    The reward model's prediction of the reward had the decision taken ``<arm>``, a finite
    number. Fit the model on other data than this log (cross-fitting), see :mod:`engine.uplift`.
any other column
    Context (debtor id, segment, ...); kept, not used by the estimators.

TARGET, one row per LOG row in the same order (blank lines are skipped in both files):

one column per arm (every column is an arm)
    The target policy's probability of that arm for the decision in the same LOG row, a number
    in [0, 1]; each row sums to 1 within 1e-6 (write probabilities with enough digits:
    ``0.333333`` three times is 0.999999, off by more than the tolerance). A deterministic
    policy has one 1 per row.

Messages name CSV records by line (the header is line 1) and Parquet records by row (counted
from 1), as every batch file does (:mod:`engine.batchio`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.batchio import InputFileError, RowIssue, TextTable, read_table
from engine.ope import ROW_SUM_TOLERANCE, Estimator

__all__ = [
    "LOG_COLUMNS",
    "REWARD_HAT_PREFIX",
    "OpeInputs",
    "read_ope_inputs",
]

FloatArray = npt.NDArray[np.float64]

LOG_COLUMNS: tuple[str, ...] = ("action", "reward", "propensity")
REWARD_HAT_PREFIX = "reward_hat_"


@dataclass(frozen=True)
class OpeInputs:
    """Validated arrays, ready for :func:`engine.ope.evaluate`.

    Attributes
    ----------
    arms
        Arm keys in TARGET column order; action ``k`` is ``arms[k]``.
    actions
        Shape (n,), index of the logged arm.
    rewards, propensities
        Shape (n,).
    target
        Shape (n, K), rows sum to 1.
    reward_model
        Shape (n, K) from the ``reward_hat_<arm>`` columns when DR was requested, else None.
    context
        The other LOG columns as text, one row per decision.
    """

    arms: tuple[str, ...]
    actions: npt.NDArray[np.intp]
    rewards: FloatArray
    propensities: FloatArray
    target: FloatArray
    reward_model: FloatArray | None = None
    context: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n(self) -> int:
        return int(self.actions.shape[0])


def _read_table(path: Path, required: tuple[str, ...]) -> TextTable:
    table = read_table(path, required)
    if table.malformed:  # a model input: a record that cannot be read rejects the file
        raise InputFileError(table.malformed)
    return table


def _numbers(table: TextTable, column: str) -> FloatArray:
    values: FloatArray = pd.to_numeric(table.frame[column], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return values


def _check_log(
    path: Path, table: TextTable, arms: tuple[str, ...] | None, *, needs_reward_model: bool
) -> list[RowIssue]:
    frame = table.frame
    issues: list[RowIssue] = []
    action = frame["action"].to_numpy(dtype=object)
    empty = action == ""
    issues += table.flag(empty, "action", "empty action")
    if arms is not None:
        unknown = ~empty & ~np.isin(action, np.array(arms, dtype=object))
        known = ", ".join(arms)
        issues += [
            table.issue(
                int(i), "action", f"unknown action {action[i]!r}; TARGET has columns {known}"
            )
            for i in np.flatnonzero(unknown)
        ]
    reward = _numbers(table, "reward")
    issues += table.flag(~np.isfinite(reward), "reward", "not a finite number")
    propensity = _numbers(table, "propensity")
    bad = ~((propensity > 0.0) & (propensity <= 1.0))  # NaN fails both comparisons
    issues += table.flag(bad, "propensity", "not a number in (0, 1]")
    if needs_reward_model and arms is not None:
        columns = [REWARD_HAT_PREFIX + arm for arm in arms]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            message = f"missing column(s) {', '.join(missing)}: --estimator dr needs a reward model"
            issues.append(RowIssue(str(path), 1, "", message))
        for column in columns:
            if column in frame.columns:
                value = _numbers(table, column)
                issues += table.flag(~np.isfinite(value), column, "not a finite number")
    return issues


def _check_target(path: Path, table: TextTable) -> list[RowIssue]:
    header = list(table.frame.columns)
    if not header:
        return [RowIssue(str(path), 1, "", "no columns: TARGET needs one column per arm")]
    if "" in header:  # the reader has refused repeated names already
        return [RowIssue(str(path), 1, "", "empty column name; every column is an arm")]
    probs = np.column_stack([_numbers(table, c) for c in header])  # (m, K)
    valid = np.isfinite(probs) & (probs >= 0.0) & (probs <= 1.0)
    issues: list[RowIssue] = []
    for j, name in enumerate(header):  # a handful of arms, vectorised over rows
        issues += table.flag(~valid[:, j], name, "not a probability in [0, 1]")
    sums = probs.sum(axis=1)
    off = valid.all(axis=1) & (np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    issues += [
        table.issue(
            int(i),
            "",
            f"probabilities sum to {sums[i]:.9g}, not 1 (tolerance {ROW_SUM_TOLERANCE:g})",
        )
        for i in np.flatnonzero(off)
    ]
    return issues


def read_ope_inputs(
    log_path: str | Path, target_path: str | Path, *, estimator: Estimator = "snips"
) -> OpeInputs:
    """Read and validate a LOG and a TARGET file (formats in the module docstring).

    Parameters
    ----------
    log_path, target_path
        ``.csv`` or ``.parquet`` files.
    estimator
        The estimator the arrays are for; ``"dr"`` requires and reads the ``reward_hat_<arm>``
        columns.

    Returns
    -------
    OpeInputs
        Arrays for :func:`engine.ope.evaluate`.

    Raises
    ------
    InputFileError
        Listing every problem in both files, each with file, line and column.
    """
    log_path, target_path = Path(log_path), Path(target_path)
    issues: list[RowIssue] = []
    log: TextTable | None = None
    target: TextTable | None = None
    try:
        log = _read_table(log_path, LOG_COLUMNS)
    except InputFileError as exc:
        issues += exc.issues
    try:
        target = _read_table(target_path, ())
    except InputFileError as exc:
        issues += exc.issues
    arms: tuple[str, ...] | None = None
    if target is not None:
        target_issues = _check_target(target_path, target)
        issues += target_issues
        if not any(issue.line == 1 for issue in target_issues):
            arms = tuple(str(c) for c in target.frame.columns)
    if log is not None:
        issues += _check_log(log_path, log, arms, needs_reward_model=estimator == "dr")
    if log is not None and target is not None and len(log.frame) != len(target.frame):
        message = (
            f"{len(target.frame)} rows, but LOG {log_path} has {len(log.frame)}; "
            "TARGET needs one row per LOG row, in the same order"
        )
        issues.append(RowIssue(str(target_path), 0, "", message))
    # When a file could not be parsed, its issues are in the list: the None checks only narrow
    # the types for the code below.
    if issues or log is None or target is None or arms is None:
        order = {str(log_path): 0, str(target_path): 1}
        raise InputFileError(sorted(issues, key=lambda i: (order.get(i.file, 2), i.line)))
    index = {arm: k for k, arm in enumerate(arms)}
    actions = np.asarray(log.frame["action"].map(index).to_numpy(), dtype=np.intp)
    reward_model = None
    if estimator == "dr":
        reward_model = np.column_stack([_numbers(log, REWARD_HAT_PREFIX + arm) for arm in arms])
    used = {*LOG_COLUMNS, *(c for c in log.frame.columns if c.startswith(REWARD_HAT_PREFIX))}
    context = log.frame[[c for c in log.frame.columns if c not in used]].reset_index(drop=True)
    return OpeInputs(
        arms=arms,
        actions=actions,
        rewards=_numbers(log, "reward"),
        propensities=_numbers(log, "propensity"),
        target=np.column_stack([_numbers(target, c) for c in arms]),
        reward_model=reward_model,
        context=context,
    )
