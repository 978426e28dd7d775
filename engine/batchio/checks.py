"""Per-record checks shared by the batch readers (vectorised over columns)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.batchio.tables import RowIssue, TextTable


def empty(table: TextTable, column: str) -> list[RowIssue]:
    """An empty cell in a required column."""
    return table.flag((table.frame[column] == "").to_numpy(), column, f"empty {column}")


def duplicates(table: TextTable, column: str) -> list[RowIssue]:
    """Every repeat of a non-empty value after its first record."""
    values = table.frame[column]
    repeated = values.duplicated(keep="first").to_numpy() & (values != "").to_numpy()
    first_line: dict[str, int] = {}
    for value, line in zip(values, table.lines, strict=True):
        first_line.setdefault(value, int(line))
    where = "row" if table.unit == "row" else "line"
    issues = []
    for i in np.flatnonzero(repeated):
        value = values.iloc[i]
        message = f"duplicate {column} {value!r} (first on {where} {first_line[value]})"
        issues.append(table.issue(int(i), column, message))
    return issues


def numbers(table: TextTable, column: str) -> npt.NDArray[np.float64]:
    """The column as floats; NaN where empty or not a number."""
    values = pd.to_numeric(table.frame[column], errors="coerce")
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
