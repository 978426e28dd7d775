"""Debtors assigned per UTC day and arm, aggregated in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from engine.store.queries.cells import as_date
from engine.store.tables import Assignment


@dataclass(frozen=True)
class DailyTraffic:
    day: date
    arm: str
    assigned: int


def daily_traffic(session: Session, *, experiment_key: str, now: datetime) -> list[DailyTraffic]:
    """Debtors assigned per (UTC day, arm) up to ``now``, oldest first: one grouped scan."""
    a = Assignment.__table__.c  # type: ignore[attr-defined]
    day = func.date(a.assigned_at)
    statement = (
        select(day, a.arm, func.count())
        .where(a.experiment_key == experiment_key, a.assigned_at <= now)
        .group_by(day, a.arm)
        .order_by(day, a.arm)
    )
    return [
        DailyTraffic(as_date(row[0]), str(row[1]), int(row[2]))
        for row in session.execute(statement)
    ]
