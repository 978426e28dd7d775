"""The debtor file of ``dunning assign``: one row per debtor to assign.

Columns (CSV or Parquet; extra columns are ignored):

``debtor_id`` (required, unique per file; the experiment's ``unit`` names another column)
    The id of the randomization unit in the billing system, kept as text (``007`` is not
    ``7``): every row with the same id gets the same arm.
the case column (required with ``unit: {customer, case}``, which names it)
    The id of the case (an overdue invoice, a dunning case), unique in the file and never one
    the experiment stored for another customer; each row is then one case, and a customer may
    have several rows (the customer column is no longer unique).
``<segment>`` (optional; the experiment's ``segment`` column(s), ``debtor_type`` by default)
    Segment used for per-segment allocation and reporting. With several segment columns the
    segment is their values joined by ``|`` (``WAOE|DE``); a debtor missing any of them has no
    segment.
``amount_owed`` (optional)
    Amount of the overdue invoice, a non-negative number.
every column an ``eligibility`` rule names (required when the experiment has such a rule)
    ``min``/``max`` rules need a number (or an empty cell: missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.batchio import checks, limits, stream
from engine.batchio.rejects import Rejects, split_rows
from engine.batchio.tables import RowIssue, TextTable
from engine.config import SEGMENT_SEPARATOR, EligibilityRule
from engine.eligibility import columns_used, invalid_cells

AMOUNT_COLUMN = "amount_owed"


@dataclass(frozen=True)
class DebtorFile:
    """The good rows of a debtor file, in file order."""

    debtor_id: npt.NDArray[np.object_]
    segment: npt.NDArray[np.object_]  # None where empty or absent
    amount_owed: npt.NDArray[np.float64]  # NaN where empty or absent
    #: The cells of the columns the eligibility rules read (text, "" when empty).
    attributes: dict[str, npt.NDArray[np.object_]] = field(default_factory=dict)
    lines: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: The case id of each row with ``unit: {customer, case}``; None without a case column.
    case_id: npt.NDArray[np.object_] | None = None


@dataclass(frozen=True)
class DebtorRead:
    debtors: DebtorFile
    rejects: Rejects
    records: int  # data records in the file, good and rejected


def segment_values(frame: pd.DataFrame, columns: Sequence[str]) -> npt.NDArray[np.object_]:
    """Each row's segment: the value of the one segment column, or the values of several joined
    by ``|``; None where a column is absent or a cell is empty."""
    if not all(c in frame.columns for c in columns):
        return np.full(len(frame), None, dtype=object)
    cells = frame[list(columns)].astype(str)
    first = cells[columns[0]]
    rest = cells[list(columns[1:])]
    joined = first.str.cat(rest, sep=SEGMENT_SEPARATOR) if len(columns) > 1 else first
    segment = joined.to_numpy(dtype=object, copy=True)
    segment[(cells == "").any(axis=1).to_numpy()] = None
    return segment


class DebtorStream(checks.CheckedStream[DebtorFile]):
    """A debtor file read chunk by chunk (:meth:`chunks`); :attr:`rejects` and :attr:`records`
    are complete once the chunks are exhausted."""

    def __init__(
        self,
        path: str | Path,
        *,
        segment_columns: Sequence[str],
        eligibility: Sequence[EligibilityRule] = (),
        id_column: str = "debtor_id",
        case_column: str | None = None,
        rows: int | None = None,
    ) -> None:
        self.used = columns_used(eligibility)
        self.segment_columns, self.eligibility, self.id_column = (
            segment_columns,
            eligibility,
            id_column,
        )
        self.case_column = case_column
        case = [] if case_column is None else [case_column]
        super().__init__(
            stream.open_table(
                path,
                [id_column, *case, *self.used],
                columns=[*segment_columns, AMOUNT_COLUMN, *self.used],
                rows=stream.CHUNK_ROWS if rows is None else rows,
            )
        )

    def _check(
        self, table: TextTable, cases: checks.CaseCheck | None
    ) -> tuple[DebtorFile, Rejects]:
        """The rows' own checks; with a case column, ``cases`` refuses a case id the
        experiment stored for another customer."""
        frame, id_column, used, case_column = (
            table.frame,
            self.id_column,
            self.used,
            self.case_column,
        )
        issues: list[RowIssue] = checks.empty(table, id_column)
        # One row per unit: the customer, or with cases the case (a customer may have several).
        unique = id_column if case_column is None else case_column
        if case_column is not None:
            issues += checks.empty(table, case_column)
        issues += self._seen.repeats(table, unique)
        if AMOUNT_COLUMN in frame.columns:
            amount = checks.numbers(table, AMOUNT_COLUMN)
            given = (frame[AMOUNT_COLUMN] != "").to_numpy()
            bad = given & ~(np.isfinite(amount) & (amount >= 0))
            issues += table.flag(bad, AMOUNT_COLUMN, "not a non-negative number")
        else:
            amount = np.full(len(frame), np.nan)
        cells = {name: frame[name].to_numpy(dtype=object) for name in used}
        for name, bad in invalid_cells(self.eligibility, cells):
            if name != AMOUNT_COLUMN:  # already checked, with a stricter rule
                issues += table.flag(bad, name, "not a number (an eligibility rule compares it)")
        segment = segment_values(frame, self.segment_columns)
        bounded = {
            id_column: limits.TextCells(frame[id_column], "assignment.debtor_id"),
            SEGMENT_SEPARATOR.join(self.segment_columns): limits.TextCells(
                segment, "assignment.segment"
            ),
        }
        if case_column is not None:
            bounded[case_column] = limits.TextCells(frame[case_column], "dunning_case.case_id")
        issues += limits.check_cells(table, bounded)
        if case_column is not None:
            issues += checks.refused_cases(
                table,
                issues,
                cases,
                case_column=case_column,
                debtor_column=id_column,
                message=lambda case, _: (
                    f"{case_column} {case!r} is already a case of another customer"
                ),
            )
        good, rejects = split_rows(table, issues)
        debtors = DebtorFile(
            debtor_id=frame[id_column].to_numpy(dtype=object)[good],
            segment=segment[good],
            amount_owed=amount[good],
            attributes={name: values[good] for name, values in cells.items()},
            lines=table.lines[good],
            case_id=None
            if case_column is None
            else frame[case_column].to_numpy(dtype=object)[good],
        )
        return debtors, rejects


def read_debtors(
    path: str | Path,
    *,
    segment_columns: Sequence[str],
    eligibility: Sequence[EligibilityRule] = (),
    id_column: str = "debtor_id",
    case_column: str | None = None,
) -> DebtorRead:
    """Read a debtor file whole, setting bad rows aside with the reason (large files:
    :class:`DebtorStream`).

    Raises :class:`~engine.batchio.InputFileError` only when the file as a whole is unusable
    (unreadable, not CSV/Parquet, no header, the ``id_column`` or an eligibility column
    missing). A case column's ids are checked within the file only (no store at hand).
    """
    debtors = DebtorStream(
        path,
        segment_columns=segment_columns,
        eligibility=eligibility,
        id_column=id_column,
        case_column=case_column,
    )
    parts = list(debtors.chunks())
    names = parts[0].attributes
    whole = DebtorFile(
        debtor_id=np.concatenate([p.debtor_id for p in parts]),
        segment=np.concatenate([p.segment for p in parts]),
        amount_owed=np.concatenate([p.amount_owed for p in parts]),
        attributes={n: np.concatenate([p.attributes[n] for p in parts]) for n in names},
        lines=np.concatenate([p.lines for p in parts]),
        case_id=None
        if case_column is None
        else np.concatenate([p.case_id for p in parts if p.case_id is not None]),
    )
    return DebtorRead(whole, debtors.rejects, debtors.records)
