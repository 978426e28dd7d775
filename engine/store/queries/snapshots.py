"""The cell snapshot (:class:`engine.store.tables.CellSnapshot`): the finest outcome cells of an
experiment as of a time, written by the scheduled cycle, read back while nothing has changed.

Reading it costs a primary-key lookup and the parse of a few thousand cells, however many
debtors the experiment has; the live aggregation (:func:`outcome_cells`) reads every one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal

from sqlalchemy import func, inspect, select
from sqlmodel import Session, col

from engine.metrics import ArmTotals
from engine.store.queries.assignments import segment_values
from engine.store.queries.cells import Maturity, OutcomeCell, as_date, maturity, outcome_cells
from engine.store.queries.traffic import DailyTraffic, daily_traffic
from engine.store.queries.writes import lock_writes
from engine.store.tables import Assignment, CellSnapshot, OutcomeEvent

FIELDS = [f.name for f in fields(ArmTotals)]
#: A cell's totals as a plain tuple, in the order of FIELDS (``dataclasses.astuple`` deep-copies).
_values = attrgetter(*FIELDS)


@dataclass(frozen=True)
class Fingerprint:
    """The newest assignment and event ids: every write of an assignment or of its outcomes
    (``refresh_outcomes`` runs only for the debtors of newly stored events) moves one."""

    last_assignment_id: int
    last_event_id: int


@dataclass(frozen=True)
class Snapshot:
    as_of: datetime
    min_experiment_version: int | None
    assigned: int
    #: Split by allocation period, segment, holdout (and contact rule, like every cell) and
    #: the day the pay window closes; ``churn_cells`` by the day the churn horizon closes.
    cells: list[OutcomeCell]
    churn_cells: list[OutcomeCell]
    maturity: list[Maturity]
    traffic: list[DailyTraffic]


def fingerprint(session: Session) -> Fingerprint:
    """Two ``max(id)`` over primary keys: an index lookup each."""
    return Fingerprint(
        int(session.scalar(select(func.max(col(Assignment.id)))) or 0),
        int(session.scalar(select(func.max(col(OutcomeEvent.id)))) or 0),
    )


def write_snapshot(
    session: Session, *, experiment_key: str, now: datetime, min_experiment_version: int | None
) -> None:
    """Aggregate the experiment's cells as of ``now`` and replace its snapshot with them.

    Takes the batch writers' outcome lock first (exclusively): on PostgreSQL an assigner or an
    ingester still in flight holds ids below the newest committed one, and a snapshot taken
    beside it would record a fingerprint that its rows, committed later, never move. With the
    lock, every id up to the fingerprint is committed and in the cells.
    """
    lock_writes(session, experiment_key=None)

    def split(due: Literal["pay", "churn"]) -> list[OutcomeCell]:
        return outcome_cells(
            session,
            experiment_key=experiment_key,
            now=now,
            by_period=True,
            by_segment=True,
            by_holdout=True,
            net_value=True,
            min_experiment_version=min_experiment_version,
            by_due_day=due,
        )

    cells, churn_cells = split("pay"), split("churn")
    arms = maturity(
        session,
        experiment_key=experiment_key,
        now=now,
        min_experiment_version=min_experiment_version,
    )
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    assigned = session.scalar(select(func.count()).where(a.experiment_key == experiment_key))
    mark = fingerprint(session)
    row = _row(session, experiment_key) or CellSnapshot(
        experiment_key=experiment_key, as_of=now, fields=[], cells=[], maturity=[], created_at=now
    )
    row.as_of = now
    row.min_experiment_version = min_experiment_version
    row.last_assignment_id = mark.last_assignment_id
    row.last_event_id = mark.last_event_id
    row.assigned = int(assigned or 0)
    row.segments = segment_values(session, experiment_key=experiment_key)
    row.fields = FIELDS
    row.cells = [_cell_row(c) for c in cells]
    row.churn_cells = [_cell_row(c) for c in churn_cells]
    row.traffic = [
        [t.day.isoformat(), t.arm, t.assigned]
        for t in daily_traffic(session, experiment_key=experiment_key, now=now)
    ]
    row.maturity = [[m.arm, _iso(m.first_pay_due), _iso(m.first_churn_due)] for m in arms]
    row.created_at = now
    session.add(row)
    session.flush()


def _cell_row(c: OutcomeCell) -> list[Any]:
    due = None if c.due_day is None else c.due_day.isoformat()
    return [
        c.arm,
        c.allocation_version,
        c.segment,
        c.holdout,
        c.constrained,
        due,
        [*_values(c.totals)],
    ]


def _cell(values: list[Any]) -> OutcomeCell:
    arm, version, segment, holdout, constrained, due, totals = values
    return OutcomeCell(
        arm=arm,
        allocation_version=version,
        segment=segment,
        holdout=holdout,
        constrained=bool(constrained),
        due_day=None if due is None else as_date(due),
        totals=ArmTotals(*totals),
    )


def _row(session: Session, experiment_key: str) -> CellSnapshot | None:
    statement = select(CellSnapshot).where(col(CellSnapshot.experiment_key) == experiment_key)
    return session.scalars(statement).first()


@dataclass(frozen=True)
class _Head:
    """A snapshot's scalar columns: what its time and the writes since need, without the
    parse of its cells (which grow with the filled cells, up to a few thousand)."""

    as_of: datetime
    min_experiment_version: int | None
    last_assignment_id: int
    last_event_id: int
    assigned: int
    current_fields: bool


def _head(session: Session, experiment_key: str) -> _Head | None:
    if not inspect(session.connection()).has_table(CellSnapshot.__tablename__):
        return None
    s = CellSnapshot.__table__.c  # type: ignore[attr-defined]
    row = session.execute(
        select(
            s.as_of,
            s.min_experiment_version,
            s.last_assignment_id,
            s.last_event_id,
            s.assigned,
            s.fields,
        ).where(s.experiment_key == experiment_key)
    ).first()
    if row is None:
        return None
    return _Head(
        as_of=row[0],
        min_experiment_version=row[1],
        last_assignment_id=int(row[2]),
        last_event_id=int(row[3]),
        assigned=int(row[4]),
        current_fields=row[5] == FIELDS,
    )


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _current(session: Session, experiment_key: str) -> CellSnapshot | None:
    """The experiment's snapshot if nothing was written since it was taken."""
    # A database created before snapshots existed has no table (read-only, it never gets one).
    if not inspect(session.connection()).has_table(CellSnapshot.__tablename__):
        return None
    row = _row(session, experiment_key)
    if row is None or row.fields != FIELDS:
        return None
    if fingerprint(session) != Fingerprint(row.last_assignment_id, row.last_event_id):
        return None
    return row


def fresh_assigned(session: Session, *, experiment_key: str) -> int | None:
    """The experiment's count of assignments from its snapshot, if nothing was written since."""
    row = _current(session, experiment_key)
    return None if row is None else row.assigned


def assigned_since_snapshot(session: Session, *, experiment_key: str) -> int | None:
    """The experiment's count of assignments: its snapshot's, plus those written since (a
    range scan of the ids above its fingerprint, not a count of them all); None without one.

    Exact: assignments are never deleted, and every id up to the fingerprint was committed
    and counted when it was taken (:func:`write_snapshot`).
    """
    row = _head(session, experiment_key)
    if row is None:
        return None
    return row.assigned + _assignments_after(session, experiment_key, row.last_assignment_id)


def _assignments_after(session: Session, experiment_key: str, last_id: int) -> int:
    """The experiment's assignments with an id above ``last_id`` (a snapshot's fingerprint)."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    later = session.scalar(
        select(func.count()).where(a.id > last_id, _later(a.experiment_key) == experiment_key)
    )
    return int(later or 0)


def snapshot_segments(session: Session, *, experiment_key: str) -> list[str] | None:
    """The distinct segments of the experiment's debtors when its snapshot was taken, even
    with writes since (the dashboard's read of the last cycle); None without a snapshot."""
    if not inspect(session.connection()).has_table(CellSnapshot.__tablename__):
        return None
    s = CellSnapshot.__table__.c  # type: ignore[attr-defined]
    found = session.scalar(select(s.segments).where(s.experiment_key == experiment_key))
    return None if found is None else list(found)


def fresh_segments(session: Session, *, experiment_key: str) -> list[str] | None:
    """The experiment's distinct segments from its snapshot, if nothing was written since."""
    row = _current(session, experiment_key)
    return None if row is None else list(row.segments)


@dataclass(frozen=True)
class SnapshotMark:
    """When the experiment's snapshot was taken and what was written after it: the
    assignments of the experiment and the events of its debtors above its fingerprint."""

    as_of: datetime
    min_experiment_version: int | None
    assigned: int  # the experiment's assignments when it was taken
    new_assignments: int
    new_events: int


def _later(column: Any) -> Any:
    """``column`` as an expression: no index on it applies, so the planner reads the range of
    ids above the fingerprint by primary key (without statistics, SQLite would otherwise pick
    the experiment's index and count every one of its assignments)."""
    return column + ""


def snapshot_time(session: Session, *, experiment_key: str) -> datetime | None:
    """When the experiment's snapshot was taken (the last scheduled cycle), or None."""
    head = _head(session, experiment_key)
    return None if head is None else head.as_of


def snapshot_mark(session: Session, *, experiment_key: str) -> SnapshotMark | None:
    """The experiment's snapshot's time and the writes since, or None without a usable one.

    Counts only the ids above the fingerprint: a range scan of each primary key, one index
    probe per new event for its debtor, however many rows came before.
    """
    row = _head(session, experiment_key)
    if row is None or not row.current_fields:
        return None
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    e = OutcomeEvent.__table__.c  # type: ignore[attr-defined]
    # Events carry no experiment: those of the experiment's debtors are the ones it reads.
    mine = select(a.id).where(a.experiment_key == experiment_key, a.debtor_id == e.debtor_id)
    events = session.scalar(select(func.count()).where(e.id > row.last_event_id, mine.exists()))
    return SnapshotMark(
        as_of=row.as_of,
        min_experiment_version=row.min_experiment_version,
        assigned=row.assigned,
        new_assignments=_assignments_after(session, experiment_key, row.last_assignment_id),
        new_events=int(events or 0),
    )


def fresh_snapshot(
    session: Session,
    *,
    experiment_key: str,
    now: datetime,
    min_experiment_version: int | None,
    written_since: bool = False,
) -> Snapshot | None:
    """The experiment's snapshot if it still describes the data: nothing written since, taken
    as of ``now`` over the same definition epoch. Else None: the caller aggregates live.

    ``written_since``: also when writes came after it (the dashboard's read of the last
    scheduled cycle, as of that cycle: the figures its decision was taken on). A live read as
    of the snapshot's time could not give them back: an event ingested since updates the
    outcome columns of a debtor assigned before it.
    """
    if written_since:
        if not inspect(session.connection()).has_table(CellSnapshot.__tablename__):
            return None
        row = _row(session, experiment_key)
        if row is not None and row.fields != FIELDS:
            row = None
    else:
        row = _current(session, experiment_key)
    if row is None or row.min_experiment_version != min_experiment_version or row.as_of != now:
        return None
    return Snapshot(
        as_of=row.as_of,
        min_experiment_version=row.min_experiment_version,
        assigned=row.assigned,
        cells=[_cell(values) for values in row.cells],
        churn_cells=[_cell(values) for values in row.churn_cells],
        maturity=[Maturity(arm, _time(pay), _time(churn)) for arm, pay, churn in row.maturity],
        traffic=[DailyTraffic(as_date(day), arm, int(n)) for day, arm, n in row.traffic],
    )


def coarsen(
    cells: Sequence[OutcomeCell],
    *,
    by_period: bool,
    by_segment: bool,
    by_holdout: bool,
    segments: Sequence[str] | None = None,
    by_due_day: bool = False,
) -> list[OutcomeCell]:
    """The cells :func:`outcome_cells` returns for these arguments, summed from finer ones
    (restricted to ``segments`` if given), in its order (NULL first, as SQLite sorts)."""
    # Plain tuples summed column by column: ArmTotals.__add__ per cell costs more than the
    # rest of the read for a few thousand cells.
    merged: dict[tuple[object, ...], list[tuple[float, ...]]] = {}
    for c in cells:
        if segments is not None and c.segment not in segments:
            continue
        key = (
            c.arm,
            c.allocation_version if by_period else None,
            c.segment if by_segment else None,
            c.holdout if by_holdout else None,
            c.constrained,
            c.due_day if by_due_day else None,
        )
        merged.setdefault(key, []).append(_values(c.totals))

    def order(key: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(p for v in key for p in (v is not None, v if v is not None else 0))

    return [
        OutcomeCell(
            arm=str(arm),
            allocation_version=version,  # type: ignore[arg-type]
            segment=segment,  # type: ignore[arg-type]
            holdout=holdout,  # type: ignore[arg-type]
            constrained=bool(constrained),
            due_day=due,  # type: ignore[arg-type]
            totals=ArmTotals(*(sum(column) for column in zip(*parts, strict=True))),
        )
        for (arm, version, segment, holdout, constrained, due), parts in sorted(
            merged.items(), key=lambda item: order(item[0])
        )
    ]
