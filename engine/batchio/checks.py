"""Per-record checks shared by the batch readers (vectorised over columns)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.batchio.rejects import Rejects
from engine.batchio.stream import TableStream
from engine.batchio.tables import RowIssue, TextTable


def empty(table: TextTable, column: str) -> list[RowIssue]:
    """An empty cell in a required column."""
    return table.flag((table.frame[column] == "").to_numpy(), column, f"empty {column}")


class FirstSeen:
    """Where each value of a column was first seen in a file read in chunks.

    Holds a 64-bit hash (SipHash, pandas' ``hash_array``) and the line of every distinct value
    so far, in sorted arrays: 16 bytes per distinct value, whatever the length of the ids. Two
    ids sharing a hash would be taken for a repeat; at 5 million ids the chance of any such pair
    is about 5e6**2 / 2**65, under one in a million files, and the record would be set aside
    with its reason, never silently dropped.
    """

    def __init__(self) -> None:
        self._hashes = np.empty(0, dtype=np.uint64)
        self._lines = np.empty(0, dtype=np.int64)

    def repeats(self, table: TextTable, column: str) -> list[RowIssue]:
        """Every non-empty value of ``table`` seen before (earlier in it, or in an earlier
        chunk), naming the line of its first record; then remembers this chunk's values."""
        values = table.frame[column].to_numpy(dtype=object)
        if not len(values):
            return []
        hashes = np.asarray(pd.util.hash_array(values, categorize=False), dtype=np.uint64)
        given = values != ""
        codes, _ = pd.factorize(hashes)
        within = pd.Series(codes).duplicated(keep="first").to_numpy()
        first_here = table.lines[np.flatnonzero(~within)][codes]
        earlier = np.zeros(len(values), dtype=bool)
        first_line = first_here
        if len(self._hashes):
            at = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
            earlier = self._hashes[at] == hashes
            first_line = np.where(earlier, self._lines[at], first_here)
        repeated = (earlier | within) & given
        fresh = ~earlier & ~within & given
        # Insert the chunk's new values into the sorted arrays rather than merge and sort them
        # all: one array of the grown size at a time, so the peak is about twice the stored
        # arrays, not five times (they are what grows with a file of many distinct ids).
        new_hashes, new_lines = hashes[fresh], table.lines[fresh]
        order = np.argsort(new_hashes)
        new_hashes, new_lines = new_hashes[order], new_lines[order]
        at = np.searchsorted(self._hashes, new_hashes)
        self._hashes = np.insert(self._hashes, at, new_hashes)
        self._lines = np.insert(self._lines, at, new_lines)
        where = "row" if table.unit == "row" else "line"
        return [
            table.issue(
                int(i),
                column,
                f"duplicate {column} {values[i]!r} (first on {where} {first_line[i]})",
            )
            for i in np.flatnonzero(repeated)
        ]


#: A check of case ids against the store, done by the caller inside its transaction:
#: ``(case_ids, debtor_ids)`` of the records that passed the file's own checks -> which of them
#: the store refuses (see :meth:`CheckedStream.chunks`).
CaseCheck = Callable[[npt.NDArray[np.object_], npt.NDArray[np.object_]], npt.NDArray[np.bool_]]


def refused_cases(
    table: TextTable,
    issues: list[RowIssue],
    check: CaseCheck | None,
    *,
    case_column: str,
    debtor_column: str,
    message: Callable[[str, str], str],
) -> list[RowIssue]:
    """The records whose case id ``check`` refuses, among those with a case id and no problem
    yet (a record already rejected is not looked up); ``message(case_id, debtor_id)``."""
    if check is None or not len(table.frame):
        return []
    cases = table.frame[case_column].to_numpy(dtype=object)
    debtors = table.frame[debtor_column].to_numpy(dtype=object)
    bad_lines = {issue.line for issue in issues}
    candidate = (cases != "") & ~np.isin(table.lines, list(bad_lines))
    at = np.flatnonzero(candidate)
    if not len(at):
        return []
    refused = at[np.asarray(check(cases[at], debtors[at]), dtype=bool)]
    return [
        table.issue(int(i), case_column, message(str(cases[i]), str(debtors[i]))) for i in refused
    ]


def duplicates(table: TextTable, column: str) -> list[RowIssue]:
    """Every repeat of a non-empty value after its first record."""
    return FirstSeen().repeats(table, column)


def numbers(table: TextTable, column: str) -> npt.NDArray[np.float64]:
    """The column as floats; NaN where empty or not a number."""
    values = pd.to_numeric(table.frame[column], errors="coerce")
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


Checked = TypeVar("Checked")


class CheckedStream(ABC, Generic[Checked]):
    """A batch file read chunk by chunk (:meth:`chunks`), each chunk checked into what is
    written and what is rejected; :attr:`rejects` and :attr:`records` are complete once the
    chunks are exhausted. A subclass says how a chunk is checked (:meth:`_check`)."""

    def __init__(self, table: TableStream) -> None:
        self.table = table
        self.records = 0
        self._rejects: list[Rejects] = []
        self._seen = FirstSeen()  # ids repeated across chunks are rejected like any repeat

    @property
    def rejects(self) -> Rejects:
        return Rejects.concat(self._rejects)

    def chunks(self, cases: CaseCheck | None = None) -> Iterator[Checked]:
        """The checked chunks, in file order. ``cases`` also refuses records by their case id
        against the store; it is called as each chunk is read, so the caller's transaction
        sees the chunks written before."""
        for table in self.table.chunks():
            checked, rejects = self._check(table, cases)
            self._rejects.append(rejects)
            self.records += len(table.frame) + len(table.malformed)
            yield checked

    @abstractmethod
    def _check(self, table: TextTable, cases: CaseCheck | None) -> tuple[Checked, Rejects]: ...
