"""How often the bandit may move its weights (``allocation.update_cadence``).

Periods are calendar periods in UTC (an hour, a day, an ISO week), not rolling intervals: a job
scheduled daily at 06:00 that once runs at 06:02 and next at 05:59 must still update both days.
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.config import Cadence


def period_of(cadence: Cadence, when: datetime) -> tuple[int, ...]:
    """The UTC calendar period ``when`` falls in, as a comparable tuple."""
    utc = when.astimezone(UTC)
    if cadence == "hourly":
        return (utc.year, utc.month, utc.day, utc.hour)
    if cadence == "daily":
        return (utc.year, utc.month, utc.day)
    iso = utc.isocalendar()
    return (iso.year, iso.week)


def update_due(cadence: Cadence, last_update: datetime | None, now: datetime) -> bool:
    """Whether a bandit update may run at ``now`` given the time of the last one."""
    return last_update is None or period_of(cadence, now) != period_of(cadence, last_update)
