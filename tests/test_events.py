"""Tests for engine.events: EventBatch validation, concat/empty/take, time conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from engine.events import EVENT_KINDS, EventBatch, to_datetime64, to_datetimes

T0 = np.datetime64("2026-03-01T09:30:00", "us")


def batch(
    kinds: list[str], amounts: list[float], *, prefix: str = "e", times: list[str] | None = None
) -> EventBatch:
    n = len(kinds)
    occurred = (
        np.array(times, dtype="datetime64[us]")
        if times is not None
        else T0 + np.arange(n) * np.timedelta64(1, "h")
    )
    return EventBatch(
        event_id=np.array([f"{prefix}{i}" for i in range(n)], dtype=object),
        debtor_id=np.array([f"d{i % 2}" for i in range(n)], dtype=object),
        kind=np.array(kinds, dtype=object),
        amount=np.array(amounts, dtype=np.float64),
        occurred_at=occurred,
    )


def test_valid_batch() -> None:
    events = batch(["payment", "reminder", "churn"], [12.5, np.nan, np.nan])
    assert len(events) == 3
    assert events.kind.tolist() == ["payment", "reminder", "churn"]
    assert EVENT_KINDS == ("payment", "reminder", "collection_case", "churn", "inquiry")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("debtor_id", np.array(["d0"], dtype=object), "EventBatch.debtor_id has 1 rows, not 2"),
        ("kind", np.array(["churn"] * 3, dtype=object), "EventBatch.kind has 3 rows, not 2"),
        ("amount", np.array([1.0]), "EventBatch.amount has 1 rows, not 2"),
        ("occurred_at", np.array([], dtype="datetime64[us]"), "EventBatch.occurred_at has 0 rows"),
    ],
)
def test_length_mismatch_raises(field: str, value: np.ndarray, message: str) -> None:
    columns = {
        "event_id": np.array(["e0", "e1"], dtype=object),
        "debtor_id": np.array(["d0", "d1"], dtype=object),
        "kind": np.array(["churn", "inquiry"], dtype=object),
        "amount": np.array([np.nan, np.nan]),
        "occurred_at": np.array([T0, T0]),
    }
    columns[field] = value
    with pytest.raises(ValueError, match=message):
        EventBatch(**columns)


@pytest.mark.parametrize(
    ("kinds", "amounts", "message"),
    [
        (["payment", "fee"], [1.0, np.nan], "unknown event kinds: 'fee'"),
        (
            ["Payment", "refund", "churn"],
            [1.0, 1.0, np.nan],
            "unknown event kinds: 'Payment', 'refund'",
        ),
        (["payment"], [np.nan], "every payment needs a positive amount"),
        (["payment"], [0.0], "every payment needs a positive amount"),
        (["churn", "payment"], [np.nan, -5.0], "every payment needs a positive amount"),
    ],
)
def test_invalid_events_raise(kinds: list[str], amounts: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        batch(kinds, amounts)


def test_empty_and_concat() -> None:
    empty = EventBatch.empty()
    assert len(empty) == 0
    assert empty.occurred_at.dtype == np.dtype("datetime64[us]")
    assert len(EventBatch.concat([])) == 0

    first = batch(["payment", "reminder"], [10.0, np.nan], prefix="a")
    # Coarser time unit on the second batch: concat must bring it to microseconds.
    second = EventBatch(
        event_id=np.array(["b0"], dtype=object),
        debtor_id=np.array(["d9"], dtype=object),
        kind=np.array(["inquiry"], dtype=object),
        amount=np.array([np.nan]),
        occurred_at=np.array(["2026-03-02"], dtype="datetime64[D]"),
    )
    joined = EventBatch.concat([first, empty, second])
    assert len(joined) == 3
    assert joined.event_id.tolist() == ["a0", "a1", "b0"]
    assert joined.kind.tolist() == ["payment", "reminder", "inquiry"]
    np.testing.assert_array_equal(joined.amount, [10.0, np.nan, np.nan])
    assert joined.occurred_at.dtype == np.dtype("datetime64[us]")
    assert joined.occurred_at[2] == np.datetime64("2026-03-02T00:00:00", "us")


def test_take_by_positions_and_mask() -> None:
    events = batch(["payment", "reminder", "churn", "payment"], [5.0, np.nan, np.nan, 7.0])
    picked = events.take(np.array([3, 0]))
    assert picked.event_id.tolist() == ["e3", "e0"]
    np.testing.assert_array_equal(picked.amount, [7.0, 5.0])
    assert picked.occurred_at[0] == T0 + np.timedelta64(3, "h")
    payments = events.take(events.kind == "payment")
    assert payments.event_id.tolist() == ["e0", "e3"]
    assert len(events.take(np.zeros(4, dtype=bool))) == 0


def test_to_datetime64_converts_aware_times_to_naive_utc() -> None:
    cet = timezone(timedelta(hours=1))
    assert to_datetime64(datetime(2026, 3, 1, 10, 30, tzinfo=cet)) == T0
    assert to_datetime64(datetime(2026, 3, 1, 9, 30, tzinfo=UTC)) == T0
    value = to_datetime64(datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC))
    assert value.dtype == np.dtype("datetime64[us]")
    assert value - T0 == np.timedelta64(123456, "us")


def test_to_datetime64_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="has no time zone; the engine works in UTC"):
        to_datetime64(datetime(2026, 3, 1, 9, 30))


def test_to_datetimes_round_trip() -> None:
    values = np.array(["2026-03-01T09:30:00", "2026-12-31T23:59:59.5"], dtype="datetime64[us]")
    back = to_datetimes(values)
    assert back == [
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    ]
    np.testing.assert_array_equal(np.array([to_datetime64(v) for v in back]), values)
