"""What the dashboard's figures are as of: the last scheduled cycle's, or the newest data.

The cycle leaves a snapshot of the experiment's cells (:mod:`engine.store.queries.snapshots`).
Until the next cycle, the writes after it (the night's ingest, the morning's assignments) would
make every page aggregate all assignments again. The dashboard reads the snapshot instead, as
of the cycle: the figures its decision was taken on, every table and chart from the same cells,
with a count of what arrived since. A live read on demand gives the newest figures.

The CLI reads live unless its snapshot is fresh; only the dashboard reads this way. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from engine.cron import parse_cron
from engine.service.common import load_current
from engine.service.definitions import pooled_since
from engine.service.reports import default_as_of
from engine.store import queries
from engine.store.tables import AllocationVersion, ExperimentVersion

#: Time a scheduled cycle may take to start and finish before it counts as missed.
CYCLE_GRACE = timedelta(hours=2)


@dataclass(frozen=True)
class Reading:
    """The ``as_of`` of the dashboard's figures. ``cycle``: read from the last scheduled
    cycle's snapshot (then ``new_assignments`` and ``new_events`` arrived after it, and the
    next cycle includes them); else aggregated live over every assignment."""

    as_of: datetime
    cycle: bool
    new_assignments: int = 0
    new_events: int = 0
    #: The experiment's assignments now (known from the snapshot's count; else 0, unread).
    assigned: int = 0

    @property
    def written_since(self) -> bool:
        return bool(self.new_assignments or self.new_events)


def dashboard_reading(engine: Engine, *, experiment_key: str, live: bool = False) -> Reading:
    """As of the last scheduled cycle if its snapshot can answer for it; as of the latest
    data (:func:`engine.service.reports.default_as_of`), live, when ``live`` or when not.

    The snapshot cannot answer when the outcome definition changed since (another epoch) or
    when an experiment version or an allocation was stored after it (a manual promotion, a
    rollback): the pages would compare its cells against a champion or a split they were not
    taken under.
    """
    latest = default_as_of(engine, experiment_key=experiment_key)
    if live:
        return Reading(latest, cycle=False)
    with Session(engine) as session:
        load_current(session, experiment_key)
        mark = queries.snapshot_mark(session, experiment_key=experiment_key)
        if mark is None:
            return Reading(latest, cycle=False)
        since = pooled_since(session, experiment_key=experiment_key)
        if mark.min_experiment_version != since or _changed_after(
            session, experiment_key, mark.as_of
        ):
            return Reading(latest, cycle=False)
        return Reading(
            mark.as_of,
            cycle=True,
            new_assignments=mark.new_assignments,
            new_events=mark.new_events,
            assigned=mark.assigned + mark.new_assignments,
        )


def _changed_after(session: Session, experiment_key: str, when: datetime) -> bool:
    for table in (AllocationVersion, ExperimentVersion):
        c = table.__table__.c  # type: ignore[union-attr]
        newest = session.scalar(
            select(func.max(c.created_at)).where(c.experiment_key == experiment_key)
        )
        if newest is not None and newest > when:
            return True
    return False


def missed_cycle(
    *, last: datetime | None, started: datetime, schedule: str, clock: datetime
) -> datetime | None:
    """The time since which no scheduled cycle ran (``last``, or the experiment's ``started``
    without any) if the cycle due after it is more than :data:`CYCLE_GRACE` late at
    ``clock``; else None. Pure.

    A cycle acts once per UTC day (:func:`engine.service.promotion.run_cycle`: a second one
    that day changes nothing and leaves no snapshot), so the one due is the schedule's first
    fire time on a later UTC day than ``last``: a manual cycle at 00:05 is not missed by the
    06:00 one.
    """
    since = last if last is not None else started
    midnight = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if last is None:
        due = parse_cron(schedule).next_after(since)
    else:
        due = parse_cron(schedule).next_after(midnight + timedelta(days=1, minutes=-1))
    return since if clock > due + CYCLE_GRACE else None
