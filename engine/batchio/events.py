"""The event file of ``dunning ingest``: outcome events from the billing system.

Columns (CSV or Parquet; extra columns are ignored):

``event_id`` (required, unique)
    Re-sending an event id (in this file or a later one) changes nothing.
``debtor_id`` (required)
``kind`` (required)
    One of ``payment``, ``reminder``, ``collection_case``, ``churn``, ``inquiry``.
``amount`` (required for payments, > 0; optional otherwise and then ignored)
``occurred_at`` (required)
    ISO 8601 time, e.g. ``2026-03-01T09:30:00Z``; a time without offset is taken as UTC. A
    Parquet timestamp column works too (naive timestamps are UTC).
``case_id`` (optional)
    The dunning case of an experiment with ``unit: {customer, case}`` the event belongs to; it
    must be a stored case of the event's debtor. Empty: the event belongs to the debtor's
    latest case opened at or before it (``engine.store.queries.cases``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.batchio import checks, limits, stream
from engine.batchio.rejects import Rejects, split_rows
from engine.batchio.tables import RowIssue, TextTable
from engine.events import EVENT_KINDS, EventBatch

EVENT_COLUMNS = ("event_id", "debtor_id", "kind", "occurred_at")
CASE_COLUMN = "case_id"


@dataclass(frozen=True)
class EventRead:
    events: EventBatch  # the good rows, in file order
    rejects: Rejects
    records: int  # data records in the file, good and rejected


class EventStream(checks.CheckedStream[EventBatch]):
    """An event file read chunk by chunk (:meth:`chunks`); :attr:`rejects` and :attr:`records`
    are complete once the chunks are exhausted."""

    def __init__(self, path: str | Path, *, rows: int | None = None) -> None:
        super().__init__(
            stream.open_table(
                path,
                EVENT_COLUMNS,
                columns=[*EVENT_COLUMNS, "amount", CASE_COLUMN],
                rows=stream.CHUNK_ROWS if rows is None else rows,
            )
        )

    def _check(
        self, table: TextTable, cases: checks.CaseCheck | None
    ) -> tuple[EventBatch, Rejects]:
        """The rows' own checks; with a ``case_id`` column, ``cases`` refuses a case id that
        is not a stored case of the event's debtor."""
        frame = table.frame
        issues: list[RowIssue] = []
        for column in ("event_id", "debtor_id"):
            issues += checks.empty(table, column)
        issues += self._seen.repeats(table, "event_id")
        kind = frame["kind"]
        unknown = ~kind.isin(EVENT_KINDS).to_numpy()
        expected = ", ".join(EVENT_KINDS)
        issues += table.flag(unknown, "kind", f"unknown kind; expected one of {expected}")
        if "amount" in frame.columns:
            amount = checks.numbers(table, "amount")
            given = (frame["amount"] != "").to_numpy()
        else:
            amount = np.full(len(frame), np.nan)
            given = np.zeros(len(frame), dtype=bool)
        payment = (kind == "payment").to_numpy()
        positive = np.isfinite(amount) & (amount > 0)
        issues += table.flag(payment & ~positive, "amount", "a payment needs a positive amount")
        issues += table.flag(~payment & given & ~np.isfinite(amount), "amount", "not a number")
        occurred = pd.to_datetime(frame["occurred_at"], errors="coerce", utc=True, format="ISO8601")
        issues += table.flag(occurred.isna().to_numpy(), "occurred_at", "not an ISO 8601 time")
        bounded = {
            "event_id": limits.TextCells(frame["event_id"], "outcome_event.event_id"),
            "debtor_id": limits.TextCells(frame["debtor_id"], "outcome_event.debtor_id"),
        }
        with_case = CASE_COLUMN in frame.columns
        if with_case:
            bounded[CASE_COLUMN] = limits.TextCells(frame[CASE_COLUMN], "outcome_event.case_id")
        issues += limits.check_cells(table, bounded)
        if with_case:
            issues += checks.refused_cases(
                table,
                issues,
                cases,
                case_column=CASE_COLUMN,
                debtor_column="debtor_id",
                message=lambda case, debtor: (
                    f"{case!r} is not a stored case of debtor {debtor!r} (unknown, or another "
                    "customer's)"
                ),
            )
        good, rejects = split_rows(table, issues)
        events = EventBatch(
            event_id=frame["event_id"].to_numpy(dtype=object)[good],
            debtor_id=frame["debtor_id"].to_numpy(dtype=object)[good],
            kind=kind.to_numpy(dtype=object)[good],
            amount=np.where(payment, amount, np.nan)[good],
            occurred_at=occurred.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")[good],
            case_id=None if not with_case else _cases(frame[CASE_COLUMN])[good],
        )
        return events, rejects


def _cases(cells: pd.Series) -> npt.NDArray[np.object_]:
    """The case id of each event, None where the cell is empty."""
    values = cells.to_numpy(dtype=object, copy=True)
    values[values == ""] = None
    return values


def read_events(path: str | Path) -> EventRead:
    """Read an event file whole, setting bad rows aside with the reason (large files:
    :class:`EventStream`).

    Raises :class:`~engine.batchio.InputFileError` only when the file as a whole is unusable.
    """
    events = EventStream(path)
    parts = list(events.chunks())
    return EventRead(EventBatch.concat(parts), events.rejects, events.records)
