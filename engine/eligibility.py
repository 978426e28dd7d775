"""Who may enter an experiment: the ``eligibility`` rules evaluated over a table of debtors.

Pure and vectorised: one pass per rule over whole columns, whatever the number of debtors.
A debtor is eligible when every rule passes; otherwise the reason names the first rule that
failed, in the order of the experiment file, e.g. ``amount_owed 12.5 < min 20`` or
``country missing``.

Cells may be text (as read from a CSV file), numbers, ``None`` or NaN. A cell is *missing* when
it is ``None``, NaN or blank text; a missing value fails a rule unless the rule says
``when_missing: include``. ``min``/``max`` compare numbers (a cell that is present but not a
finite number cannot be evaluated: see :func:`invalid_cells`); ``one_of``/``none_of`` compare
the stripped text of the cell exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.config import EligibilityRule

__all__ = ["columns_used", "ineligibility", "invalid_cells", "numeric_columns"]

Cells = npt.ArrayLike


def columns_used(rules: Sequence[EligibilityRule]) -> tuple[str, ...]:
    """The columns the rules read, in rule order, without repeats."""
    return tuple(dict.fromkeys(rule.column for rule in rules))


def numeric_columns(rules: Sequence[EligibilityRule]) -> tuple[str, ...]:
    """The columns some rule compares as numbers (``min``/``max``)."""
    return tuple(
        dict.fromkeys(rule.column for rule in rules if rule.min is not None or rule.max is not None)
    )


def _series(values: Cells) -> pd.Series[Any]:
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def _missing(cells: pd.Series[Any]) -> npt.NDArray[np.bool_]:
    blank = cells.astype(str).str.strip().eq("")
    return np.asarray(cells.isna().to_numpy() | blank.to_numpy(dtype=bool), dtype=bool)


def _numbers(cells: pd.Series[Any], missing: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    values = pd.to_numeric(cells.where(~missing, None), errors="coerce")
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _text(cells: pd.Series[Any]) -> npt.NDArray[np.object_]:
    return np.asarray(cells.astype(str).str.strip().to_numpy(dtype=object), dtype=object)


def _column(columns: Mapping[str, Cells], name: str, n: int) -> pd.Series[Any]:
    if name not in columns:
        raise KeyError(f"no column {name!r} for the eligibility rules")
    cells = _series(columns[name])
    if len(cells) != n:
        raise ValueError(f"column {name!r} has {len(cells)} values, expected {n}")
    return cells


def _length(columns: Mapping[str, Cells], rules: Sequence[EligibilityRule]) -> int:
    used = columns_used(rules)
    return len(_series(columns[used[0]])) if used and used[0] in columns else 0


def invalid_cells(
    rules: Sequence[EligibilityRule], columns: Mapping[str, Cells]
) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """For each column compared as numbers: the rows whose value is present but not a finite
    number, which no rule can evaluate (a data error to report, not a reason to exclude)."""
    n = _length(columns, rules)
    found = []
    for name in numeric_columns(rules):
        cells = _column(columns, name, n)
        missing = _missing(cells)
        bad = ~missing & ~np.isfinite(_numbers(cells, missing))
        found.append((name, bad))
    return found


def _fmt(value: float) -> str:
    return format(value, ".15g")


def _fail_numeric(
    rule: EligibilityRule, values: npt.NDArray[np.float64], rows: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.bool_], list[str]]:
    """Rows (among ``rows``, all with a value) that fail the rule, and the reason for each."""
    v = values[rows]
    low = np.zeros(len(rows), dtype=bool) if rule.min is None else v < rule.min
    high = np.zeros(len(rows), dtype=bool) if rule.max is None else v > rule.max
    fail = low | high
    below = f"< min {_fmt(rule.min)}" if rule.min is not None else ""
    above = f"> max {_fmt(rule.max)}" if rule.max is not None else ""
    reasons = [
        f"{rule.column} {_fmt(x)} {below if is_low else above}"
        for x, is_low in zip(v[fail], low[fail], strict=True)
    ]
    return fail, reasons


def _fail_text(
    rule: EligibilityRule, text: npt.NDArray[np.object_], rows: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.bool_], list[str]]:
    t = text[rows]
    if rule.one_of is not None:
        fail = ~np.isin(t, np.asarray(rule.one_of, dtype=object))
        allowed = ", ".join(rule.one_of)
        return fail, [f"{rule.column} {x} not one of {allowed}" for x in t[fail]]
    assert rule.none_of is not None  # the model requires one condition
    fail = np.isin(t, np.asarray(rule.none_of, dtype=object))
    return fail, [f"{rule.column} {x} is excluded (none_of)" for x in t[fail]]


def ineligibility(
    rules: Sequence[EligibilityRule], columns: Mapping[str, Cells]
) -> npt.NDArray[np.object_]:
    """Why each row may not enter the experiment: ``None`` where it may.

    Parameters
    ----------
    rules
        The experiment's ``eligibility`` rules (all must pass).
    columns
        Column name -> cells, one per row, for at least :func:`columns_used` (same length).

    Returns
    -------
    numpy.ndarray
        Object array, shape (n,): ``None`` or the reason of the first failing rule.

    Raises
    ------
    KeyError
        A rule's column is not in ``columns``.
    ValueError
        Columns of different lengths, or a numeric cell that is not a number (check the data
        with :func:`invalid_cells` first).
    """
    n = _length(columns, rules)
    reason = np.full(n, None, dtype=object)
    for rule in rules:
        cells = _column(columns, rule.column, n)
        missing = _missing(cells)
        open_rows = reason == None  # noqa: E711 - elementwise on an object array
        if rule.when_missing == "exclude":
            reason[open_rows & missing] = f"{rule.column} missing"
        rows = np.flatnonzero(open_rows & ~missing)
        if rule.min is not None or rule.max is not None:
            values = _numbers(cells, missing)
            if not np.isfinite(values[rows]).all():
                raise ValueError(f"column {rule.column!r} holds values that are not numbers")
            fail, reasons = _fail_numeric(rule, values, rows)
        else:
            fail, reasons = _fail_text(rule, _text(cells), rows)
        reason[rows[fail]] = np.asarray(reasons, dtype=object)
    return reason
