"""Tests for engine.cron: parsing and next fire times, checked against hand-worked dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.cron import CronError, parse_cron


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 6 * * *", "2026-01-01T05:59", "2026-01-01T06:00"),
        ("0 6 * * *", "2026-01-01T06:00", "2026-01-02T06:00"),  # strictly after
        ("*/15 * * * *", "2026-01-01T10:07", "2026-01-01T10:15"),
        ("5-10/2 3 * * *", "2026-01-01T03:06", "2026-01-01T03:07"),
        ("0 0 1 jan,jul *", "2026-02-01T00:00", "2026-07-01T00:00"),
        ("30 8 * * mon-fri", "2026-01-02T09:00", "2026-01-05T08:30"),  # Fri -> Mon
        ("0 12 * * 7", "2026-01-01T00:00", "2026-01-04T12:00"),  # 7 = Sunday
        ("0 0 13 * fri", "2026-01-01T00:00", "2026-01-02T00:00"),  # either day matches
        ("0 0 29 feb *", "2026-03-01T00:00", "2028-02-29T00:00"),
        ("59 23 31 12 *", "2026-12-31T23:59", "2027-12-31T23:59"),
        ("0 9/6 * * *", "2026-01-01T10:00", "2026-01-01T15:00"),
    ],
)
def test_next_fire_time(expression: str, after: str, expected: str) -> None:
    schedule = parse_cron(expression)
    fire = schedule.next_after(at(after))
    assert fire == at(expected)
    assert schedule.matches(fire)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 6 * *", "expected 5 fields"),
        ("60 6 * * *", "minute: 60 is outside 0-59"),
        ("0 24 * * *", "hour: 24 is outside 0-23"),
        ("0 6 0 * *", "day of month: 0 is outside 1-31"),
        ("0 6 * foo *", "month: 'foo' is not a number or a name"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("0 10-5 * * *", "runs backwards"),
        ("0 6 1,,2 * *", "empty list item"),
    ],
)
def test_invalid_expressions(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expression)


def test_impossible_date_never_fires() -> None:
    with pytest.raises(CronError, match="never fires"):
        parse_cron("0 0 30 feb *").next_after(at("2026-01-01T00:00"))


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("* * * * *").next_after(datetime(2026, 1, 1))
