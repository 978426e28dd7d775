"""Rows set aside: every problem of a file, and the rejects file an analyst fixes and re-sends.

The rejects file (CSV) has one row per rejected record: ``reject_line`` (CSV: the physical line
of the record, the header being line 1) or ``reject_row`` (Parquet: the row, counted from 1),
``reject_reason`` (every problem of the record, ``column: message`` joined by ``; ``), then the
record's own cells under their own column names. Batch readers ignore unknown columns, so a
corrected rejects file can be loaded as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.batchio.outputs import OutputKind, columns_like, write_csv
from engine.batchio.tables import CSV_SUFFIXES, RowIssue, TextTable, Unit

REASON_COLUMN = "reject_reason"


def position_column(unit: Unit) -> str:
    return f"reject_{unit}"


#: A rejects file: CSV whatever the input, recognised by its first two columns.
REJECTS_FILE = OutputKind(
    "rejects file",
    CSV_SUFFIXES,
    columns_like(
        (REASON_COLUMN,), first=([position_column("line"), position_column("row")], [REASON_COLUMN])
    ),
)


def default_rejects_path(input_path: str | Path) -> Path:
    """``debtors.csv`` -> ``debtors.rejects.csv``, next to the input."""
    path = Path(input_path)
    return path.with_name(f"{path.stem}.rejects.csv")


@dataclass(frozen=True)
class Rejects:
    """The rejected records of one file.

    ``issues`` lists every problem in file order (a record may have several); ``frame`` is the
    rejects file's content, one row per record.
    """

    unit: Unit
    issues: tuple[RowIssue, ...]
    frame: pd.DataFrame

    @property
    def count(self) -> int:
        """Number of rejected records."""
        return len(self.frame)

    @classmethod
    def concat(cls, parts: Sequence[Rejects]) -> Rejects:
        """The rejects of a file read in chunks (``parts`` in file order, at least one)."""
        if len(parts) == 1:
            return parts[0]
        frames = [p.frame for p in parts if len(p.frame)] or [parts[0].frame]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        issues = tuple(issue for p in parts for issue in p.issues)
        return cls(parts[0].unit, issues, frame)

    def write(self, path: str | Path) -> None:
        """Write the rejects file atomically (a header only when nothing was rejected)."""
        write_csv(self.frame, path)


def split_rows(
    table: TextTable, issues: Sequence[RowIssue]
) -> tuple[npt.NDArray[np.bool_], Rejects]:
    """Which records of ``table`` are good (mask over ``table.frame``), and the rejects.

    ``issues`` are the problems found in ``table.frame``'s records; the records that could not
    be split into columns (``table.malformed``) are rejected too.
    """
    found = sorted([*issues, *table.malformed], key=lambda issue: issue.line)
    index_of = {int(line): i for i, line in enumerate(table.lines)}
    bad_rows = sorted({index_of[issue.line] for issue in issues})
    good = np.ones(len(table.frame), dtype=bool)
    good[bad_rows] = False
    reasons: dict[int, list[str]] = {}
    for issue in found:
        text = f"{issue.column}: {issue.message}" if issue.column else issue.message
        reasons.setdefault(issue.line, []).append(text)
    cells = table.frame.iloc[bad_rows].copy()
    cells.insert(0, position_column(table.unit), table.lines[bad_rows])
    # Records without cells (wrong number of fields) get their position and reason only.
    broken = pd.DataFrame({position_column(table.unit): [i.line for i in table.malformed]})
    frame = pd.concat([cells, broken], ignore_index=True) if table.malformed else cells
    frame = frame.sort_values(position_column(table.unit), kind="stable").reset_index(drop=True)
    frame.insert(1, REASON_COLUMN, ["; ".join(reasons[int(p)]) for p in frame.iloc[:, 0]])
    return good, Rejects(table.unit, tuple(found), frame)
