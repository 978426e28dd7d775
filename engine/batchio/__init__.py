"""Batch files in and out: debtors to assign, outcome events to ingest, treatments to hand back.

CSV or Parquet, chosen by the file extension (``.csv``; ``.parquet`` or ``.pq``). Every record
is checked with vectorised column checks; a bad record is set aside with its position (CSV: the
physical line, the header being line 1; Parquet: the row, counted from 1) and every reason, so
that the good records can be loaded in one transaction and the rejects file fixed and re-sent.
A file that cannot be used as a whole (unreadable, no header, a required column missing) raises
:class:`InputFileError`. File formats: :mod:`engine.batchio.debtors`,
:mod:`engine.batchio.events`, ``docs/batch-files.md``.
"""

from engine.batchio.debtors import DebtorFile, DebtorRead, DebtorStream, read_debtors
from engine.batchio.events import EventRead, EventStream, read_events
from engine.batchio.outputs import (
    Output,
    OutputKind,
    OutputWriteError,
    check_outputs,
    write_csv,
    write_table,
    write_text,
)
from engine.batchio.rejects import Rejects, default_rejects_path
from engine.batchio.tables import (
    InputFileError,
    RowIssue,
    TextTable,
    read_csv_table,
    read_table,
)
from engine.batchio.tenure import read_tenure

__all__ = [
    "DebtorFile",
    "DebtorRead",
    "DebtorStream",
    "EventRead",
    "EventStream",
    "InputFileError",
    "Output",
    "OutputKind",
    "OutputWriteError",
    "Rejects",
    "RowIssue",
    "TextTable",
    "check_outputs",
    "default_rejects_path",
    "read_csv_table",
    "read_debtors",
    "read_events",
    "read_table",
    "read_tenure",
    "write_csv",
    "write_table",
    "write_text",
]
