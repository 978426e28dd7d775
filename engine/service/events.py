"""Outcome events in, idempotently."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import Engine
from sqlmodel import Session

from engine.events import EventBatch
from engine.service.clock import ensure_forward_ingestion
from engine.service.common import ServiceError
from engine.store import queries
from engine.store.db import transaction


@dataclass(frozen=True)
class IngestResult:
    received: int
    inserted: int
    duplicates: int


def event_rows(events: EventBatch) -> pa.Table:
    """The batch as the store's bulk insert takes it (columns, no row in Python)."""
    return pa.table(
        {
            "event_id": pa.array(events.event_id, type=pa.string()),
            "debtor_id": pa.array(events.debtor_id, type=pa.string()),
            "kind": pa.array(events.kind, type=pa.string()),
            "amount": pa.array(events.amount, type=pa.float64(), from_pandas=True),
            "occurred_at": pa.array(
                events.occurred_at.astype("datetime64[us]"), type=pa.timestamp("us")
            ).cast(pa.timestamp("us", tz="UTC")),
            "case_id": pa.array(events.cases, type=pa.string()),
        }
    )


class IngestionJob:
    """Ingesting one batch, chunk by chunk, inside one transaction (see :func:`ingestion_job`)."""

    def __init__(self, session: Session, *, now: datetime) -> None:
        self.session, self.now = session, now
        ensure_forward_ingestion(session, now=now)
        self.received = self.inserted = 0

    def unmatched_cases(
        self, case_ids: npt.NDArray[np.object_], debtor_ids: npt.NDArray[np.object_]
    ) -> npt.NDArray[np.bool_]:
        """Which events' case ids are no stored case of their debtor (unknown, or another
        customer's): such events are refused (the events file reader sets them aside)."""
        return queries.unmatched_cases(self.session, case_ids=case_ids, debtor_ids=debtor_ids)

    def ingest(self, events: EventBatch, *, cases_screened: bool = False) -> IngestResult:
        """Store one chunk; an event id already stored (or earlier in the job) is skipped.
        ``cases_screened``: the caller has set aside, in this transaction, the events whose case
        id :meth:`unmatched_cases` refuses (the events file reader does), so the store is not
        asked twice.

        Raises
        ------
        ServiceError
            If an event names a case that is no stored case of its debtor (a file reader
            refuses those rows first, through :meth:`unmatched_cases`).
        """
        named = np.flatnonzero(events.cases != None)  # noqa: E711 - elementwise
        if len(named) and not cases_screened:
            bad = self.unmatched_cases(events.cases[named], events.debtor_id[named])
            if bad.any():
                first = named[np.flatnonzero(bad)[0]]
                raise ServiceError(
                    f"event {events.event_id[first]!r}: case {events.cases[first]!r} is no "
                    f"stored case of debtor {events.debtor_id[first]!r}"
                )
        inserted = queries.insert_events(self.session, event_rows(events), ingested_at=self.now)
        self.received += len(events)
        self.inserted += inserted
        return IngestResult(len(events), inserted, len(events) - inserted)

    @property
    def result(self) -> IngestResult:
        return IngestResult(self.received, self.inserted, self.received - self.inserted)


@contextmanager
def ingestion_job(engine: Engine, *, now: datetime) -> Iterator[IngestionJob]:
    """One transaction that ingests a batch in chunks: the caller calls
    :meth:`IngestionJob.ingest` per chunk; on leaving, the outcomes of every debtor with a new
    event are recomputed in one statement and everything commits, or nothing does if anything
    raised. Ingestions take turns with each other and with assignments
    (:func:`engine.store.queries.lock_writes`).

    Raises
    ------
    engine.service.clock.BackdatedWriteError
        If ``now`` precedes the latest ingestion.
    """
    with transaction(engine) as session:
        queries.lock_writes(session, experiment_key=None)
        yield IngestionJob(session, now=now)
        queries.refresh_outcomes(session)


def ingest_events(engine: Engine, events: EventBatch, *, now: datetime) -> IngestResult:
    """Store outcome events once each, in one transaction, and refresh the outcomes of the
    debtors they concern. A re-sent event id (in this or an earlier batch) changes nothing.

    Raises
    ------
    engine.service.clock.BackdatedWriteError
        If ``now`` precedes the latest ingestion.
    """
    with ingestion_job(engine, now=now) as job:
        job.ingest(events)
    return job.result
