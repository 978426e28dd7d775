"""Batch files as tables of text cells, with where each record came from.

CSV is parsed with the ``csv`` module, which knows the physical line of every record even with
blank lines and quoted newlines (pandas' readers renumber rows and lose that). Parquet is read
with pyarrow; its records are numbered by row (1-based, no header), and messages say "row".
Both give the same text cells (missing values become ``""``), so one set of checks serves both
formats.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Unit = Literal["line", "row"]
#: What ``surrogateescape`` makes of bytes that are not UTF-8.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class RowIssue:
    """One problem: file, position (0 for the whole file), column ("" for the whole row)."""

    file: str
    line: int
    column: str
    message: str
    unit: Unit = "line"  # what ``line`` counts: CSV lines (header = 1) or Parquet rows

    def __str__(self) -> str:
        if not self.line:
            where = self.file
        elif self.unit == "row":
            where = f"{self.file}: row {self.line}"
        else:
            where = f"{self.file}:{self.line}"
        column = f" {self.column}:" if self.column else ""
        return f"{where}:{column} {self.message}"


class InputFileError(Exception):
    """A batch file that cannot be loaded; carries every problem found."""

    def __init__(self, issues: Sequence[RowIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(map(str, self.issues)))


def file_error(path: Path, message: str, line: int = 0) -> InputFileError:
    return InputFileError([RowIssue(str(path), line, "", message)])


@dataclass(frozen=True)
class TextTable:
    """Cells of a batch file as stripped strings, with the position each record starts at.

    ``malformed`` holds the records that could not be split into the header's columns (CSV
    only); they are not in ``frame``.
    """

    path: Path
    frame: pd.DataFrame
    lines: npt.NDArray[np.int64]  # shape (n,), 1-based line (CSV) or row (Parquet) of each record
    unit: Unit = "line"
    malformed: tuple[RowIssue, ...] = ()

    def issue(self, index: int, column: str, message: str) -> RowIssue:
        """A problem with the record at ``index`` (0-based position in ``frame``)."""
        return RowIssue(str(self.path), int(self.lines[index]), column, message, self.unit)

    def flag(self, mask: npt.NDArray[np.bool_], column: str, message: str) -> list[RowIssue]:
        """The same problem for every record where ``mask`` is true."""
        return [self.issue(int(i), column, message) for i in np.flatnonzero(mask)]


def read_table(
    path: str | Path, required: Sequence[str], columns: Sequence[str] | None = None
) -> TextTable:
    """Read a ``.csv`` or ``.parquet`` file whole; raise :class:`InputFileError` when the file
    as a whole cannot be used (unreadable, unknown type, no header, a required column missing).

    ``columns``: the optional columns worth reading from a Parquet file (default: all); a CSV
    file is always read whole. Large batch files are read in chunks instead
    (:func:`engine.batchio.stream.open_table`).
    """
    from engine.batchio.stream import concat, open_table  # it builds on this module

    return concat(list(open_table(path, required, columns).chunks()))


def _check_header(path: Path, header: Sequence[str], required: Sequence[str], line: int) -> None:
    named = [name for name in header if name]
    repeated = sorted({name for name in named if named.count(name) > 1})
    if repeated:  # which of the two would a check read?
        raise InputFileError(
            [RowIssue(str(path), line, name, f"duplicate column {name!r}") for name in repeated]
        )
    missing = [c for c in required if c not in header]
    if missing:
        found = ", ".join(named) or "no named columns"
        raise file_error(path, f"missing column(s): {', '.join(missing)}; found: {found}", line)


def read_csv_table(path: str | Path, required: Sequence[str]) -> TextTable:
    """Parse a UTF-8 CSV file with a header row; blank lines are skipped, a record with the
    wrong number of fields or with bytes that are not UTF-8 is kept aside in ``malformed``."""
    path = Path(path)
    from engine.batchio.stream import concat, open_csv

    return concat(list(open_csv(path, required).chunks()))


def _as_text(column: pa.ChunkedArray) -> npt.NDArray[np.object_]:
    text = pc.cast(column, pa.string()).to_numpy(zero_copy_only=False)
    cells = pd.Series(text, dtype=object).fillna("").map(str.strip)
    return np.asarray(cells.to_numpy(dtype=object), dtype=object)


def read_parquet_table(
    path: str | Path, required: Sequence[str], columns: Sequence[str] | None = None
) -> TextTable:
    """Read a Parquet file into text cells (numbers as their shortest text, times as ISO 8601,
    nulls as ``""``); rows are numbered from 1."""
    from engine.batchio.stream import concat, open_parquet

    return concat(list(open_parquet(Path(path), required, columns).chunks()))
