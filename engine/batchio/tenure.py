"""The subscriber tenure table of ``dunning analyze --tenure``: ``customer_id``, ``recency``,
``T``, ``cohort``, one row per subscriber, as in :func:`engine.sbg.validate_tenure_table`.

A model input, not a batch to load: any problem rejects the whole file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.batchio.tables import InputFileError, RowIssue, read_table
from engine.sbg import TENURE_COLUMNS, validate_tenure_table


def read_tenure(path: str | Path) -> pd.DataFrame:
    """Read a tenure table indexed by line (CSV) or row (Parquet) number, so that every
    problem the validation finds names its records."""
    path = Path(path)
    table = read_table(path, TENURE_COLUMNS, columns=TENURE_COLUMNS)
    if table.malformed:
        raise InputFileError(table.malformed)
    frame = table.frame.copy()
    frame.index = pd.Index(table.lines, name=table.unit)
    for column in ("recency", "T"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("customer_id", "cohort"):
        frame[column] = frame[column].replace("", None)
    try:
        validate_tenure_table(frame)
    except ValueError as exc:
        message = str(exc).replace("(index ", f"({table.unit} ")
        raise InputFileError([RowIssue(str(path), 0, "", message)]) from None
    return frame
