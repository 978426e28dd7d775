"""The cycle's cell snapshot gives the read models the very sums the live aggregation gives,
and is ignored as soon as anything is written (or another time or definition is asked for)."""

from __future__ import annotations

import dataclasses
import math
import threading
from datetime import timedelta

import numpy as np
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from engine import service
from engine.events import EventBatch
from engine.loader import LoadedExperiment
from engine.service import demo
from engine.service.definitions import pooled_since
from engine.store import queries
from engine.store.queries.cells import OutcomeCell
from engine.store.tables import Assignment

KEY = "dunning-channels"


def _same(left: list[OutcomeCell], right: list[OutcomeCell]) -> None:
    def key(c: OutcomeCell) -> tuple[object, ...]:
        return (c.arm, c.allocation_version, c.segment, c.holdout, c.constrained, c.due_day)

    assert [key(c) for c in left] == [key(c) for c in right]
    for a, b in zip(left, right, strict=True):
        for name, value in dataclasses.asdict(a.totals).items():
            assert math.isclose(value, getattr(b.totals, name), rel_tol=1e-9, abs_tol=1e-9), name


def _run(db: Engine, channels: LoadedExperiment) -> demo.DemoResult:
    return demo.run_demo(
        db, channels, days=20, debtors_per_day=60, seed=3, start=demo.default_start(20)
    )


def test_the_snapshot_sums_as_the_live_query(db: Engine, channels: LoadedExperiment) -> None:
    _run(db, channels)
    now = service.default_as_of(db, experiment_key=KEY)
    with Session(db) as session:
        since = pooled_since(session, experiment_key=KEY)
        snapshot = queries.fresh_snapshot(
            session, experiment_key=KEY, now=now, min_experiment_version=since
        )
        assert snapshot is not None, "the last cycle's snapshot describes the data"
        segment = snapshot.cells[0].segment
        assert segment is not None
        for by_period, by_segment, by_holdout, segments in [
            (True, True, True, None),
            (True, False, True, None),
            (False, True, False, None),
            (True, False, True, [segment]),
            (False, False, False, None),
        ]:
            live = queries.outcome_cells(
                session,
                experiment_key=KEY,
                now=now,
                by_period=by_period,
                by_segment=by_segment,
                by_holdout=by_holdout,
                segments=segments,
                net_value=True,
                min_experiment_version=since,
            )
            _same(
                queries.coarsen(
                    snapshot.cells,
                    by_period=by_period,
                    by_segment=by_segment,
                    by_holdout=by_holdout,
                    segments=segments,
                ),
                live,
            )
        for due, finer in (("pay", snapshot.cells), ("churn", snapshot.churn_cells)):
            live = queries.outcome_cells(
                session,
                experiment_key=KEY,
                now=now,
                by_period=True,
                by_holdout=True,
                net_value=True,
                min_experiment_version=since,
                by_due_day=due,  # type: ignore[arg-type]
            )
            _same(
                queries.coarsen(
                    finer, by_period=True, by_segment=False, by_holdout=True, by_due_day=True
                ),
                live,
            )
        assert snapshot.traffic == queries.daily_traffic(session, experiment_key=KEY, now=now)
        live_maturity = queries.maturity(
            session, experiment_key=KEY, now=now, min_experiment_version=since
        )
        assert sorted(snapshot.maturity, key=lambda m: m.arm) == sorted(
            live_maturity, key=lambda m: m.arm
        )
        assert queries.fresh_assigned(session, experiment_key=KEY) == sum(
            c.totals.assigned for c in snapshot.cells
        )
        assert queries.fresh_segments(session, experiment_key=KEY) == queries.segment_values(
            session, experiment_key=KEY
        )


def test_the_analysis_is_the_same_with_or_without_the_snapshot(
    db: Engine, channels: LoadedExperiment
) -> None:
    _run(db, channels)
    now = service.default_as_of(db, experiment_key=KEY)
    cached = service.analyze_experiment(db, experiment_key=KEY, now=now)
    # One second later: the snapshot was taken at another time, so the analysis scans.
    later = service.analyze_experiment(db, experiment_key=KEY, now=now + timedelta(seconds=1))
    with Session(db) as session:
        assert (
            queries.fresh_snapshot(
                session,
                experiment_key=KEY,
                now=now + timedelta(seconds=1),
                min_experiment_version=pooled_since(session, experiment_key=KEY),
            )
            is None
        )
    for a, b in zip(cached.arms, later.arms, strict=True):
        for name, metric in a.metrics.items():
            other = b.metrics[name].estimate
            assert (math.isnan(metric.estimate) and math.isnan(other)) or math.isclose(
                metric.estimate, other, rel_tol=1e-9
            ), name


def test_any_write_makes_the_snapshot_stale(db: Engine, channels: LoadedExperiment) -> None:
    result = _run(db, channels)
    now = service.default_as_of(db, experiment_key=KEY)

    def fresh() -> bool:
        with Session(db) as session:
            return (
                queries.fresh_snapshot(
                    session,
                    experiment_key=KEY,
                    now=now,
                    min_experiment_version=pooled_since(session, experiment_key=KEY),
                )
                is not None
            )

    assert fresh()
    assert result.debtors > 0
    with Session(db) as session:
        debtor = queries.assignment_outcomes(session, experiment_key=KEY, now=now, limit=1)[0]
    when = np.array([np.datetime64(now.replace(tzinfo=None), "us")])
    service.ingest_events(
        db,
        EventBatch(
            event_id=np.array(["late-payment"], dtype=object),
            debtor_id=np.array([debtor.debtor_id], dtype=object),
            kind=np.array(["payment"], dtype=object),
            amount=np.array([12.5]),
            occurred_at=when,
        ),
        now=now,
    )
    assert not fresh(), "an ingestion changes an assignment's outcomes"
    with Session(db) as session:
        assert queries.fresh_assigned(session, experiment_key=KEY) is None
        assert queries.fresh_segments(session, experiment_key=KEY) is None


def test_a_snapshot_waits_for_a_batch_still_in_flight(
    db: Engine, channels: LoadedExperiment
) -> None:
    """An assigner that has taken its ids but not committed: the snapshot beside it would miss
    its rows under a fingerprint they never move, so taking it waits for the commit."""
    _run(db, channels)
    now = service.default_as_of(db, experiment_key=KEY)
    with Session(db) as session:
        before = session.scalar(select(func.count()).select_from(Assignment))
    taken: list[BaseException | None] = []

    def snapshot() -> None:
        try:
            service.refresh_snapshot(db, experiment_key=KEY, now=now)
            taken.append(None)
        except BaseException as exc:  # reported by the main thread
            taken.append(exc)

    with service.assignment_job(db, experiment_key=KEY, now=now) as job:
        job.assign([f"late-{i}" for i in range(50)])
        thread = threading.Thread(target=snapshot)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the snapshot did not wait for the writer"
    thread.join(timeout=60.0)
    assert taken == [None]
    with Session(db) as session:
        assigned = queries.fresh_assigned(session, experiment_key=KEY)
    assert assigned == before + 50
