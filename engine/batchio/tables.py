"""Batch files as tables of text cells, with where each record came from.

CSV is parsed with the ``csv`` module, which knows the physical line of every record even with
blank lines and quoted newlines (pandas' readers renumber rows and lose that). Parquet is read
with pyarrow; its records are numbered by row (1-based, no header), and messages say "row".
Both give the same text cells (missing values become ``""``), so one set of checks serves both
formats.
"""

from __future__ import annotations

import csv
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
import pyarrow.parquet as pq

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
    """Read a ``.csv`` or ``.parquet`` file; raise :class:`InputFileError` when the file as a
    whole cannot be used (unreadable, unknown type, no header, a required column missing).

    ``columns``: the optional columns worth reading from a Parquet file (default: all); a CSV
    file is always read whole.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return read_parquet_table(path, required, columns)
    if suffix in CSV_SUFFIXES:
        return read_csv_table(path, required)
    raise file_error(path, f"unsupported file type {suffix!r}; expected .csv or .parquet")


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
    try:
        return _parse_csv(path, required, utf8_errors="strict")
    except UnicodeDecodeError:
        # Read again with the bad bytes escaped (lone surrogates): only the records that hold
        # them are set aside, with their lines, instead of the whole file.
        return _parse_csv(path, required, utf8_errors="surrogateescape")


def _parse_csv(path: Path, required: Sequence[str], *, utf8_errors: str) -> TextTable:
    escaped = utf8_errors != "strict"
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    malformed: list[RowIssue] = []
    start = 1
    try:
        with path.open(newline="", encoding="utf-8-sig", errors=utf8_errors) as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            for record in reader:
                first_line, start = start, reader.line_num + 1
                if not any(cell.strip() for cell in record):
                    continue  # blank line
                if escaped and _NOT_UTF8.search("".join(record)):
                    if header is None:
                        raise file_error(path, "the header is not UTF-8 text", first_line)
                    malformed.append(RowIssue(str(path), first_line, "", "not UTF-8 text"))
                    continue
                if header is None:
                    header = [cell.strip() for cell in record]
                    continue
                # A trailing delimiter (spreadsheet exports) adds empty cells: harmless.
                while len(record) > len(header) and not record[-1].strip():
                    record.pop()
                if len(record) != len(header):
                    message = f"{len(record)} fields, the header has {len(header)}"
                    malformed.append(RowIssue(str(path), first_line, "", message))
                    continue
                records.append([cell.strip() for cell in record])
                lines.append(first_line)
    except FileNotFoundError:
        raise file_error(path, "file not found") from None
    except csv.Error as exc:
        raise file_error(path, f"not valid CSV: {exc}", start) from None
    except OSError as exc:
        raise file_error(path, f"cannot read: {exc.strerror}") from None
    if header is None:
        raise file_error(path, "file is empty", 1)
    _check_header(path, header, required, 1)
    frame = pd.DataFrame(records, columns=header, dtype=object)
    return TextTable(path, frame, np.asarray(lines, dtype=np.int64), "line", tuple(malformed))


def _as_text(column: pa.ChunkedArray) -> npt.NDArray[np.object_]:
    text = pc.cast(column, pa.string()).to_numpy(zero_copy_only=False)
    cells = pd.Series(text, dtype=object).fillna("").map(str.strip)
    return np.asarray(cells.to_numpy(dtype=object), dtype=object)


def read_parquet_table(
    path: str | Path, required: Sequence[str], columns: Sequence[str] | None = None
) -> TextTable:
    """Read a Parquet file into text cells (numbers as their shortest text, times as ISO 8601,
    nulls as ``""``); rows are numbered from 1."""
    path = Path(path)
    try:
        if not path.is_file():
            raise file_error(path, "file not found")
        parquet = pq.ParquetFile(path)
        names = [str(name) for name in parquet.schema_arrow.names]
        _check_header(path, names, required, 0)
        wanted = set(required) | set(names if columns is None else columns)
        table = parquet.read(columns=[name for name in names if name in wanted])
    except InputFileError:
        raise
    # pyarrow signals a corrupt or truncated file with several exception types.
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        raise file_error(path, f"not a readable Parquet file: {exc}") from None
    cells: dict[str, npt.NDArray[np.object_]] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            cells[name] = _as_text(column)
        except (pa.ArrowException, ValueError, TypeError):
            message = f"column {name!r} has type {column.type}, which cannot be read as text"
            raise file_error(path, message) from None
    frame = pd.DataFrame(cells, columns=list(cells), dtype=object)
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    return TextTable(path, frame, rows, "row")
