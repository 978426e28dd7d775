"""Batch files in and out: debtors to assign, outcome events to ingest, treatments to hand back.

Rows are validated column by column with vectorised checks; every bad row is reported with its
line number in the file (the header is line 1) and nothing is loaded from a file with errors,
so a failed run can simply be repeated once the file is fixed.

File formats (CSV, UTF-8, header row; extra columns are ignored)
---------------------------------------------------------------

Debtors (``dunning assign``):

``debtor_id`` (required, unique per file)
    The debtor's id in the billing system.
``<segment>`` (optional; the experiment's ``segment`` column, ``debtor_type`` by default)
    Segment used for per-segment reporting.
``amount_owed`` (optional)
    Amount of the overdue invoice, a non-negative number.

Tenure (``dunning analyze --tenure``): ``customer_id``, ``recency``, ``T``, ``cohort``, one row per
subscriber, as in :func:`engine.sbg.validate_tenure_table`.

Events (``dunning ingest``):

``event_id`` (required, unique)
    Re-sending an event id changes nothing.
``debtor_id`` (required)
``kind`` (required)
    One of ``payment``, ``reminder``, ``collection_case``, ``churn``, ``inquiry``.
``amount`` (required for payments, > 0; empty otherwise)
``occurred_at`` (required)
    ISO 8601 time, e.g. ``2026-03-01T09:30:00Z``; a time without offset is taken as UTC.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.events import EVENT_KINDS, EventBatch
from engine.sbg import TENURE_COLUMNS, validate_tenure_table


@dataclass(frozen=True)
class RowIssue:
    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        column = f" {self.column}:" if self.column else ""
        return f"{where}:{column} {self.message}"


class InputFileError(Exception):
    """A batch file that cannot be loaded; carries every problem found."""

    def __init__(self, issues: Sequence[RowIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(map(str, self.issues)))


@dataclass(frozen=True)
class DebtorFile:
    debtor_id: np.ndarray
    segment: np.ndarray
    amount_owed: np.ndarray


@dataclass(frozen=True)
class CsvTable:
    """Cells of a CSV file as stripped strings, with the line each record starts on."""

    frame: pd.DataFrame
    lines: np.ndarray  # shape (n,), 1-based line number of each record


def read_csv_table(path: Path, required: Sequence[str]) -> CsvTable:
    """Parse with the ``csv`` module, which knows the physical line of every record even with
    blank lines and quoted newlines; pandas' readers renumber rows and lose that."""
    if path.suffix.lower() != ".csv":
        raise InputFileError([RowIssue(str(path), 0, "", "only .csv files are supported")])
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            header: list[str] | None = None
            records: list[list[str]] = []
            lines: list[int] = []
            issues: list[RowIssue] = []
            start = 1
            for record in reader:
                first_line, start = start, reader.line_num + 1
                if not any(cell.strip() for cell in record):
                    continue  # blank line
                if header is None:
                    header = [cell.strip() for cell in record]
                    continue
                # A trailing delimiter (spreadsheet exports) adds empty cells: harmless.
                while len(record) > len(header) and not record[-1].strip():
                    record.pop()
                if len(record) != len(header):
                    issues.append(
                        RowIssue(
                            str(path),
                            first_line,
                            "",
                            f"{len(record)} fields, the header has {len(header)}",
                        )
                    )
                    continue
                records.append([cell.strip() for cell in record])
                lines.append(first_line)
    except FileNotFoundError:
        raise InputFileError([RowIssue(str(path), 0, "", "file not found")]) from None
    except UnicodeDecodeError:
        raise InputFileError([RowIssue(str(path), 0, "", "file is not UTF-8 text")]) from None
    except csv.Error as exc:
        raise InputFileError([RowIssue(str(path), start, "", f"not valid CSV: {exc}")]) from None
    except OSError as exc:
        raise InputFileError([RowIssue(str(path), 0, "", f"cannot read: {exc.strerror}")]) from None
    if header is None:
        raise InputFileError([RowIssue(str(path), 1, "", "file is empty")])
    missing = [c for c in required if c not in header]
    if missing:
        found = ", ".join(header)
        message = f"missing column(s): {', '.join(missing)}; found: {found}"
        raise InputFileError([RowIssue(str(path), 1, "", message)])
    if issues:
        raise InputFileError(issues)
    frame = pd.DataFrame(records, columns=header, dtype=object)
    return CsvTable(frame, np.asarray(lines, dtype=np.int64))


def _issues(
    path: Path, table: CsvTable, mask: np.ndarray, column: str, message: str
) -> list[RowIssue]:
    return [RowIssue(str(path), int(table.lines[i]), column, message) for i in np.flatnonzero(mask)]


def _duplicates(path: Path, table: CsvTable, column: str) -> list[RowIssue]:
    values = table.frame[column]
    repeated = values.duplicated(keep="first").to_numpy() & (values != "").to_numpy()
    first_line: dict[str, int] = {}
    for value, line in zip(values, table.lines, strict=True):
        first_line.setdefault(value, int(line))
    return [
        RowIssue(
            str(path),
            int(table.lines[i]),
            column,
            f"duplicate {column} {values.iloc[i]!r} (first on line {first_line[values.iloc[i]]})",
        )
        for i in np.flatnonzero(repeated)
    ]


def read_debtors(path: str | Path, *, segment_column: str) -> DebtorFile:
    """Read a debtor file; raise :class:`InputFileError` listing every bad row."""
    path = Path(path)
    table = read_csv_table(path, ["debtor_id"])
    frame = table.frame
    ids = frame["debtor_id"]
    issues = _issues(path, table, (ids == "").to_numpy(), "debtor_id", "empty debtor_id")
    issues += _duplicates(path, table, "debtor_id")
    if "amount_owed" in frame.columns:
        raw = frame["amount_owed"]
        amount = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = (raw != "").to_numpy() & ~(np.isfinite(amount) & (amount >= 0))
        issues += _issues(path, table, bad, "amount_owed", "not a non-negative number")
        amount = np.where((raw == "").to_numpy(), np.nan, amount)
    else:
        amount = np.full(len(frame), np.nan)
    if segment_column in frame.columns:
        segment = frame[segment_column].to_numpy(dtype=object, copy=True)
        segment[segment == ""] = None
    else:
        segment = np.full(len(frame), None, dtype=object)
    if issues:
        raise InputFileError(sorted(issues, key=lambda issue: issue.line))
    return DebtorFile(ids.to_numpy(dtype=object), segment, amount)


def read_events(path: str | Path) -> EventBatch:
    """Read an event file; raise :class:`InputFileError` listing every bad row."""
    path = Path(path)
    table = read_csv_table(path, ["event_id", "debtor_id", "kind", "occurred_at"])
    frame = table.frame
    issues = []
    for column in ("event_id", "debtor_id"):
        empty = (frame[column] == "").to_numpy()
        issues += _issues(path, table, empty, column, f"empty {column}")
    issues += _duplicates(path, table, "event_id")
    kind = frame["kind"]
    issues += _issues(
        path,
        table,
        ~kind.isin(EVENT_KINDS).to_numpy(),
        "kind",
        f"unknown kind; expected one of {', '.join(EVENT_KINDS)}",
    )
    raw_amount = (
        frame["amount"] if "amount" in frame.columns else pd.Series([""] * len(frame), dtype=object)
    )
    amount = pd.to_numeric(raw_amount, errors="coerce").to_numpy(dtype=float)
    payment = (kind == "payment").to_numpy()
    positive = np.isfinite(amount) & (amount > 0)
    issues += _issues(
        path, table, payment & ~positive, "amount", "a payment needs a positive amount"
    )
    issues += _issues(
        path,
        table,
        ~payment & (raw_amount != "").to_numpy() & ~np.isfinite(amount),
        "amount",
        "not a number",
    )
    occurred = pd.to_datetime(frame["occurred_at"], errors="coerce", utc=True, format="ISO8601")
    issues += _issues(
        path, table, occurred.isna().to_numpy(), "occurred_at", "not an ISO 8601 time"
    )
    if issues:
        raise InputFileError(sorted(issues, key=lambda issue: issue.line))
    return EventBatch(
        event_id=frame["event_id"].to_numpy(dtype=object),
        debtor_id=frame["debtor_id"].to_numpy(dtype=object),
        kind=kind.to_numpy(dtype=object),
        amount=np.where(payment, amount, np.nan),
        occurred_at=occurred.dt.tz_convert(None).to_numpy(dtype="datetime64[us]"),
    )


def read_tenure(path: str | Path) -> pd.DataFrame:
    """Read a subscriber tenure table (``customer_id``, ``recency``, ``T``, ``cohort``; see
    :func:`engine.sbg.validate_tenure_table`) indexed by line number, so that every problem
    the validation finds names its lines."""
    path = Path(path)
    table = read_csv_table(path, TENURE_COLUMNS)
    frame = table.frame.copy()
    frame.index = pd.Index(table.lines, name="line")
    for column in ("recency", "T"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("customer_id", "cohort"):
        frame[column] = frame[column].replace("", None)
    try:
        validate_tenure_table(frame)
    except ValueError as exc:
        message = str(exc).replace("(index ", "(line ")
        raise InputFileError([RowIssue(str(path), 0, "", message)]) from None
    return frame


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` atomically: a crash never leaves half a file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    frame.to_csv(partial, index=False)
    partial.replace(path)
