"""What the database takes, checked when a record is read.

A text column of the store has a length in characters (``engine/store/tables.py``), and no
PostgreSQL text takes a NUL character: PostgreSQL refuses such a value, and the whole batch
with it, where SQLite would silently store it. Checking each cell against the column it will
fill, when its record is read, rejects that record alone, the same way on both databases.
Text is valid UTF-8 before it gets here: the CSV parser sets aside a record with bytes that
are not UTF-8 (:func:`engine.batchio.tables.read_csv_table`), and Parquet strings are UTF-8 by
the format.

Numbers need no entry: every number a batch file fills (``amount_owed``, a payment's
``amount``) has its reader's own rule (>= 0, > 0), which NaN and the infinities fail.

:data:`STORE_TEXT` mirrors the store's columns without importing it (the readers must not
depend on SQLAlchemy); ``tests/batchio/test_limits.py`` checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.batchio.tables import RowIssue, TextTable

#: Text columns of the store that batch files fill -> their length in characters.
STORE_TEXT: dict[str, int] = {
    "assignment.debtor_id": 128,
    "assignment.segment": 64,
    "outcome_event.event_id": 128,
    "outcome_event.debtor_id": 128,
    "outcome_event.case_id": 128,
    "dunning_case.case_id": 128,
    "dunning_case.debtor_id": 128,
}


@dataclass(frozen=True)
class TextCells:
    """Cells bound for one store column: ``values`` (text, one per record of the table, ``""``
    or None when empty) and the ``store_column`` ("table.column") they fill."""

    values: npt.NDArray[np.object_] | pd.Series | pa.Array | pa.ChunkedArray
    store_column: str


def _arrow_text(values: TextCells) -> pa.Array | pa.ChunkedArray:
    if isinstance(values.values, pa.Array | pa.ChunkedArray):
        return values.values
    cells = np.asarray(values.values, dtype=object)
    return pa.array(cells, type=pa.large_string(), from_pandas=True)


def check_cells(table: TextTable, cells: Mapping[str, TextCells]) -> list[RowIssue]:
    """Every cell its store column would refuse, keyed by the file column named in messages:
    a NUL character, or more characters than the column holds (one problem per cell).

    Vectorised in Arrow (a few milliseconds per million cells once the text is in Arrow).
    """
    issues: list[RowIssue] = []
    for column, target in cells.items():
        limit = STORE_TEXT[target.store_column]
        text = _arrow_text(target)
        nul = pc.fill_null(pc.match_substring(text, "\x00"), False).to_numpy(zero_copy_only=False)
        lengths = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
        long = ~nul & (lengths > limit)
        issues += table.flag(nul, column, "contains a NUL character")
        issues += [
            table.issue(int(i), column, f"{lengths[i]:,} characters; at most {limit} allowed")
            for i in np.flatnonzero(long)
        ]
    return issues
