"""The dashboard's read of the last scheduled cycle (engine.service.reading): after writes, its
figures are those of a live aggregation as of the cycle over the data that existed then (what
the cycle decided on), not a mix with what arrived since; and a missed cycle is an alarm."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from engine import service
from engine.analysis import Analysis
from engine.events import EventBatch
from engine.loader import LoadedExperiment
from engine.service import demo
from engine.service.manager import ManagerView, manager_view
from engine.service.reading import dashboard_reading, missed_cycle
from engine.service.trends import uplift_trend
from engine.store.tables import Assignment

KEY = "dunning-channels"


def ends_yesterday(days: int) -> datetime:
    """A demo start whose last cycle is yesterday's midnight: the writes the tests make half a
    day after it are in the past at any time of day (as of now, a later write is unseen)."""
    return demo.default_start(days + 1)


def _figures(analysis: Analysis) -> dict[tuple[str, str], tuple[float, float, float, int]]:
    return {
        (arm.arm, name): (m.estimate, m.low, m.high, m.units)
        for arm in analysis.arms
        for name, m in arm.metrics.items()
    }


def _equal(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return (math.isnan(left) and math.isnan(right)) or math.isclose(left, right, rel_tol=1e-9)
    return left == right


def _same_figures(a: Analysis, b: Analysis) -> None:
    fa, fb = _figures(a), _figures(b)
    assert fa.keys() == fb.keys()
    for key, values in fa.items():
        assert all(_equal(x, y) for x, y in zip(values, fb[key], strict=True)), key


def _same_view(a: ManagerView, b: ManagerView) -> None:
    _same_figures(a.report.analysis, b.report.analysis)
    assert a.report.as_of == b.report.as_of
    assert a.traffic == b.traffic
    assert a.per_day == b.per_day
    assert a.scorecard.headline == b.scorecard.headline
    assert [dataclasses.astuple(r) for r in a.guardrails] == [
        dataclasses.astuple(r) for r in b.guardrails
    ]
    assert [[x.value for x in m.lines] for m in a.money] == [
        [x.value for x in m.lines] for m in b.money
    ]


def _write_after_the_cycle(db: Engine, cycle: datetime) -> tuple[int, int]:
    """The night's ingest and the morning's assignments: late payments of debtors whose pay
    window closed by the cycle (they move its figures if read live as of the cycle), and
    new debtors. Returns (assignments, events) written."""
    with Session(db) as session:
        rows = session.execute(
            select(Assignment.debtor_id, Assignment.assigned_at)  # type: ignore[call-overload]
            .where(
                Assignment.experiment_key == KEY,
                Assignment.pay_due_at <= cycle,
                Assignment.paid_at.is_(None),  # type: ignore[union-attr]
            )
            .limit(20)
        ).all()
    assert rows, "the demo leaves debtors who did not pay"
    later = cycle + timedelta(hours=12)
    assert later <= datetime.now(UTC), "the demo must end a day ago (ends_yesterday)"
    service.ingest_events(
        db,
        EventBatch(
            event_id=np.array([f"late-{i}" for i in range(len(rows))], dtype=object),
            debtor_id=np.array([r[0] for r in rows], dtype=object),
            kind=np.array(["payment"] * len(rows), dtype=object),
            amount=np.full(len(rows), 40.0),
            # Within each debtor's pay window: known by the cycle had it been delivered.
            occurred_at=np.array(
                [
                    np.datetime64((r[1] + timedelta(hours=1)).replace(tzinfo=None), "us")
                    for r in rows
                ]
            ),
        ),
        now=later,
    )
    with service.assignment_job(db, experiment_key=KEY, now=later) as job:
        job.assign([f"morning-{i}" for i in range(30)])
    return 30, len(rows)


def test_the_last_cycle_reads_what_the_cycle_decided_on(
    db: Engine, channels: LoadedExperiment
) -> None:
    demo.run_demo(db, channels, days=30, debtors_per_day=60, seed=5, start=ends_yesterday(30))
    cycle = service.default_as_of(db, experiment_key=KEY)
    fresh = dashboard_reading(db, experiment_key=KEY)
    assert (fresh.cycle, fresh.as_of, fresh.written_since) == (True, cycle, False)
    # The live aggregation as of the cycle over the data that existed then.
    then = manager_view(db, experiment_key=KEY, now=cycle)
    trend_then = uplift_trend(db, experiment_key=KEY, now=cycle, metric="pay_on_time")
    segments_then = service.segment_model(db, experiment_key=KEY, now=cycle)
    types = service.experiment_segments(db, experiment_key=KEY)
    one_type = service.analyze_experiment(db, experiment_key=KEY, now=cycle, segments=types[:1])

    assigned, events = _write_after_the_cycle(db, cycle)

    reading = dashboard_reading(db, experiment_key=KEY)
    assert reading.cycle
    assert reading.as_of == cycle
    assert (reading.new_assignments, reading.new_events) == (assigned, events)
    with Session(db) as session:
        total = session.scalar(select(func.count()).select_from(Assignment))
    assert reading.assigned == total
    # The overview's count: the cycle's and those since, exact without a count of them all.
    assert [e.assigned for e in service.list_experiments(db)] == [total]
    now = manager_view(db, experiment_key=KEY, now=reading.as_of, written_since=True)
    _same_view(now, then)
    assert (
        uplift_trend(
            db, experiment_key=KEY, now=reading.as_of, metric="pay_on_time", written_since=True
        )
        == trend_then
    )
    segments_now = service.segment_model(
        db, experiment_key=KEY, now=reading.as_of, written_since=True
    )
    assert np.array_equal(segments_now.means, segments_then.means)
    assert service.experiment_segments(db, experiment_key=KEY, written_since=True) == types
    _same_figures(
        service.analyze_experiment(
            db, experiment_key=KEY, now=reading.as_of, segments=types[:1], written_since=True
        ),
        one_type,
    )

    # Live as of the same time, the late payments are in: the snapshot is what keeps the
    # cycle's figures (this is why the dashboard reads it, not a live query as of the cycle).
    live_then = service.analyze_experiment(db, experiment_key=KEY, now=cycle)
    assert _figures(live_then) != _figures(then.report.analysis)

    # The recompute: the newest data, live.
    live = dashboard_reading(db, experiment_key=KEY, live=True)
    assert not live.cycle
    assert live.as_of > cycle
    # The CLI stays live (its snapshot is not fresh): the same call without written_since.
    assert service.analyze_experiment(db, experiment_key=KEY, now=live.as_of).as_of == live.as_of


def test_a_later_allocation_sends_the_dashboard_back_to_live(
    db: Engine, channels: LoadedExperiment
) -> None:
    demo.run_demo(db, channels, days=20, debtors_per_day=40, seed=2, start=ends_yesterday(20))
    cycle = service.default_as_of(db, experiment_key=KEY)
    _write_after_the_cycle(db, cycle)
    assert dashboard_reading(db, experiment_key=KEY).cycle
    # A manual update after the cycle: a split the snapshot's cells were not taken under.
    service.update_allocation(db, experiment_key=KEY, now=cycle + timedelta(days=1))
    reading = dashboard_reading(db, experiment_key=KEY)
    assert not reading.cycle
    assert reading.as_of > cycle


def test_a_missed_cycle_is_an_alarm(db: Engine, channels: LoadedExperiment) -> None:
    demo.run_demo(db, channels, days=20, debtors_per_day=40, seed=2, start=ends_yesterday(20))
    cycle = service.default_as_of(db, experiment_key=KEY)
    assert (cycle.hour, cycle.minute) == (0, 0), "the demo's cycles run at midnight"
    # The schedule says 06:00: the next day's cycle is due at 06:00, late from 08:00.
    assert channels.experiment.promotion.schedule == "0 6 * * *"
    due = cycle + timedelta(days=1, hours=6)
    on_time = manager_view(db, experiment_key=KEY, now=cycle, clock=due + timedelta(hours=1))
    assert not any("scheduled cycle" in a for a in on_time.alarms)
    late = manager_view(db, experiment_key=KEY, now=cycle, clock=due + timedelta(hours=3))
    [alarm] = [a for a in late.alarms if "scheduled cycle" in a]
    assert alarm.startswith(f"No scheduled cycle since {cycle:%Y-%m-%d %H:%M} UTC")


def test_missed_cycle_follows_the_schedule() -> None:
    six = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    daily = "0 6 * * *"
    assert (
        missed_cycle(last=six, started=six, schedule=daily, clock=six + timedelta(hours=25)) is None
    )
    assert (
        missed_cycle(last=six, started=six, schedule=daily, clock=six + timedelta(hours=27)) == six
    )
    # Mondays only (2026-03-02 is a Monday): six days later is not late yet.
    weekly = "0 6 * * mon"
    assert (
        missed_cycle(last=six, started=six, schedule=weekly, clock=six + timedelta(days=6)) is None
    )
    assert (
        missed_cycle(last=six, started=six, schedule=weekly, clock=six + timedelta(days=8)) == six
    )
    # A manual cycle after midnight: the day's 06:00 cycle changes nothing, tomorrow's is due.
    early = six.replace(hour=0, minute=5)
    assert (
        missed_cycle(last=early, started=six, schedule=daily, clock=six + timedelta(hours=3))
        is None
    )
    assert (
        missed_cycle(last=early, started=six, schedule=daily, clock=six + timedelta(hours=27))
        == early
    )
    # Never a cycle: counted from the experiment's start.
    start = six - timedelta(days=3)
    assert missed_cycle(last=None, started=start, schedule=daily, clock=six) == start
