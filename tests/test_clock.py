"""Writes only move forward (engine/service/clock.py): every use case that writes refuses a
time before the experiment's latest stored fact, writes nothing then, and never reports a
negative duration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from engine import service
from engine.events import EventBatch, to_datetime64
from engine.loader import LoadedExperiment
from engine.store.tables import AllocationVersion, Assignment, PromotionAudit

T0 = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
KEY = "dunning-channels"
LATER = T0 + timedelta(days=30)
EARLIER = LATER - timedelta(days=1)


def rows(db: Engine) -> tuple[int, int, int]:
    with Session(db) as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (AllocationVersion, Assignment, PromotionAudit)
        )


WRITES: dict[str, Callable[[Engine, LoadedExperiment, datetime], Any]] = {
    "sync": lambda db, channels, now: service.sync_experiment(
        db,
        LoadedExperiment(
            channels.path,
            channels.experiment.model_copy(update={"name": "Renamed"}),
            channels.source,
        ),
        now=now,
    ),
    "assign": lambda db, _, now: service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=["late"], now=now
    ),
    "update": lambda db, _, now: service.update_allocation(db, experiment_key=KEY, now=now),
    "promote": lambda db, _, now: service.evaluate_promotion(db, experiment_key=KEY, now=now),
    "dry run": lambda db, _, now: service.evaluate_promotion(
        db, experiment_key=KEY, now=now, dry_run=True
    ),
    "cycle": lambda db, _, now: service.run_cycle(db, experiment_key=KEY, now=now),
    "rollback": lambda db, _, now: service.rollback_allocation(
        db, experiment_key=KEY, to_version=1, now=now
    ),
    "pause": lambda db, _, now: service.set_status(
        db, experiment_key=KEY, status="paused", now=now, by="test"
    ),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_before_the_latest_fact_is_refused(
    db: Engine, channels: LoadedExperiment, write: str
) -> None:
    service.sync_experiment(db, channels, now=T0)
    service.assign_debtors(db, experiment_key=KEY, debtor_ids=[f"d{i}" for i in range(50)], now=T0)
    service.update_allocation(db, experiment_key=KEY, now=LATER, seed=1)  # the latest fact
    before = rows(db)
    with pytest.raises(service.BackdatedWriteError, match="its history only moves forward"):
        WRITES[write](db, channels, EARLIER)
    assert rows(db) == before, "nothing written"
    WRITES[write](db, channels, LATER)  # at the latest fact's own time: allowed


def test_an_ingestion_before_the_latest_ingestion_is_refused(db: Engine) -> None:
    def batch(event: str) -> EventBatch:
        return EventBatch(
            np.array([event], dtype=object),
            np.array(["d1"], dtype=object),
            np.array(["payment"], dtype=object),
            np.array([10.0]),
            np.array([to_datetime64(T0)], dtype="datetime64[us]"),
        )

    service.ingest_events(db, batch("e1"), now=LATER)
    with pytest.raises(service.BackdatedWriteError, match="events were already ingested"):
        service.ingest_events(db, batch("e2"), now=EARLIER)
    assert service.ingest_events(db, batch("e2"), now=LATER).inserted == 1


def test_a_dry_run_as_of_the_champions_first_day_reports_no_negative_days(
    db: Engine, channels: LoadedExperiment
) -> None:
    service.sync_experiment(db, channels, now=T0)
    result = service.evaluate_promotion(db, experiment_key=KEY, now=T0, dry_run=True)
    assert "held the title 0.0 of the 21 days" in result.decision.explanation
