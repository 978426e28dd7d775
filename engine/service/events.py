"""Outcome events in, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from engine.events import EventBatch, to_datetimes
from engine.service.clock import ensure_forward_ingestion
from engine.store import queries
from engine.store.db import transaction
from engine.store.tables import (
    OutcomeEvent,
)


@dataclass(frozen=True)
class IngestResult:
    received: int
    inserted: int
    duplicates: int


def ingest_events(engine: Engine, events: EventBatch, *, now: datetime) -> IngestResult:
    """Store outcome events once each, in one transaction, and refresh the outcomes of the
    debtors they concern. A re-sent event id (in this or an earlier batch) changes nothing.

    Raises
    ------
    engine.service.clock.BackdatedWriteError
        If ``now`` precedes the latest ingestion.
    """
    rows = [
        {
            "event_id": str(event_id),
            "debtor_id": str(debtor_id),
            "kind": str(kind),
            "amount": None if np.isnan(amount) else float(amount),
            "occurred_at": when,
            "ingested_at": now,
        }
        for event_id, debtor_id, kind, amount, when in zip(
            events.event_id,
            events.debtor_id,
            events.kind,
            events.amount,
            to_datetimes(events.occurred_at),
            strict=True,
        )
    ]
    with transaction(engine) as session:
        ensure_forward_ingestion(session, now=now)
        inserted = queries.insert_ignoring_duplicates(
            session,
            OutcomeEvent.__table__,  # type: ignore[attr-defined]
            rows,
            returning="debtor_id",
        )
        queries.refresh_outcomes(session, inserted)
    return IngestResult(
        received=len(events), inserted=len(inserted), duplicates=len(events) - len(inserted)
    )
