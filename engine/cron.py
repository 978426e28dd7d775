"""Five-field cron expressions (``minute hour day-of-month month day-of-week``). Pure.

Supported, as in Vixie cron / POSIX crontab(5): ``*``, numbers, ranges ``a-b``, steps ``*/n``
and ``a-b/n`` (and ``a/n``, meaning ``a-max/n``), lists ``a,b-c``, month names ``jan``-``dec``
and weekday names ``sun``-``sat``; day of week 0 and 7 are both Sunday. As in Vixie cron, when
both day of month and day of week are restricted (neither starts with ``*``), a day matches if
*either* matches. Times are evaluated in UTC (the engine's clock); a schedule in a local zone
can be written as its UTC equivalent.

Written here rather than taken from a dependency: the engine needs parsing at load time (so a
typo in ``promotion.schedule`` is an error with its line) and the next fire time, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

#: (name, lowest, highest, names) of the five fields.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)

#: A schedule that fires at all fires within this many days (Feb 29 on a given weekday: 28 y).
_SEARCH_DAYS = 366 * 29


class CronError(ValueError):
    """A cron expression that cannot be parsed, with a message naming the bad field."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression: the allowed values of each field."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday ... 6 = Saturday
    day_restricted: bool
    weekday_restricted: bool

    def _day_matches(self, when: datetime) -> bool:
        weekday = (when.weekday() + 1) % 7  # Python: Monday = 0; cron: Sunday = 0
        in_days = when.day in self.days
        in_weekdays = weekday in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def matches(self, when: datetime) -> bool:
        """Whether the schedule fires at the minute of ``when`` (UTC)."""
        when = when.astimezone(UTC)
        return (
            when.minute in self.minutes
            and when.hour in self.hours
            and when.month in self.months
            and self._day_matches(when)
        )

    def next_after(self, when: datetime) -> datetime:
        """The first fire time strictly after ``when`` (aware UTC, whole minute).

        Walks day by day and then over the allowed hours and minutes of a matching day, so
        the cost is bounded by days searched, not minutes.
        """
        if when.tzinfo is None:
            raise ValueError("when must be timezone-aware")
        start = when.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for offset in range(_SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if current.month not in self.months or not self._day_matches(current):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    candidate = current.replace(hour=hour, minute=minute)
                    if candidate >= start:
                        return candidate
        raise CronError(f"{self.expression!r} never fires")


def _value(text: str, low: int, high: int, names: tuple[str, ...], field: str) -> int:
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + (1 if names is _MONTHS else 0)
    if not text.isdigit():
        raise CronError(f"{field}: {text!r} is not a number or a name")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _parse_field(text: str, low: int, high: int, names: tuple[str, ...], field: str) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{field}: empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = (_value(x, low, high, names, field) for x in (a, b))
            if first > last:
                raise CronError(f"{field}: range {base!r} runs backwards")
        else:
            first = _value(base, low, high, names, field)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return values


def parse_cron(expression: str) -> CronSchedule:
    """Parse a five-field expression such as ``"0 6 * * *"`` (06:00 UTC daily).

    Raises
    ------
    CronError
        Naming the field at fault, e.g. ``hour: 24 is outside 0-23``.
    """
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise CronError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    sets = [
        _parse_field(text, low, high, names, name)
        for text, (name, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    weekdays = frozenset(d % 7 for d in sets[4])
    return CronSchedule(
        expression=" ".join(parts),
        minutes=frozenset(sets[0]),
        hours=frozenset(sets[1]),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=weekdays,
        day_restricted=not parts[2].startswith("*"),
        weekday_restricted=not parts[4].startswith("*"),
    )
