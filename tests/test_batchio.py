"""Tests for engine.batchio: reading debtor and event CSV files, reporting every bad row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.batchio import InputFileError, RowIssue, read_debtors, read_events, write_csv

EVENT_HEADER = "event_id,debtor_id,kind,amount,occurred_at\n"
DEBTOR_HEADER = "debtor_id,debtor_type,amount_owed\n"
GOOD_EVENT = "e0,d0,reminder,,2026-03-01T08:00:00Z\n"  # line 2 in every bad-row case below


def write(tmp_path: Path, text: str | bytes, name: str = "batch.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def issues_of(call: object, path: Path, **kwargs: str) -> tuple[RowIssue, ...]:
    """The problems of the rows ``call`` set aside; the other rows are still read."""
    read = call(path, **kwargs)  # type: ignore[operator]
    issues: tuple[RowIssue, ...] = read.rejects.issues
    assert issues
    assert all(issue.file == str(path) for issue in issues)
    rejected = {issue.line for issue in issues}
    assert read.rejects.frame["reject_line"].tolist() == sorted(rejected)
    good = read.debtors.lines if hasattr(read, "debtors") else None
    if good is not None:
        assert not rejected & set(good.tolist())
    assert read.records == read.rejects.count + len(
        read.debtors.debtor_id if hasattr(read, "debtors") else read.events
    )
    return issues


def file_issues_of(call: object, path: Path, **kwargs: str) -> tuple[RowIssue, ...]:
    """The problems of a file that cannot be used at all."""
    with pytest.raises(InputFileError) as info:
        call(path, **kwargs)  # type: ignore[operator]
    assert info.value.issues
    assert all(issue.file == str(path) for issue in info.value.issues)
    return info.value.issues


# --- Good files ----------------------------------------------------------------------------------


def test_read_debtors_good_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        DEBTOR_HEADER + "d1,WAOE,10\nd2,DICE,\n  d3 , WAOR , 3.5\n007,WACE,0\n",
    )
    debtors = read_debtors(path, segment_columns=("debtor_type",)).debtors
    assert debtors.debtor_id.tolist() == ["d1", "d2", "d3", "007"]  # ids stay text: 007 != 7
    assert debtors.segment.tolist() == ["WAOE", "DICE", "WAOR", "WACE"]
    np.testing.assert_array_equal(debtors.amount_owed, [10.0, np.nan, 3.5, 0.0])
    assert debtors.amount_owed.dtype == np.float64


def test_read_debtors_optional_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "debtor_id,region\nd1,north\nd2,south\n")
    debtors = read_debtors(path, segment_columns=("debtor_type",)).debtors
    assert debtors.debtor_id.tolist() == ["d1", "d2"]
    assert debtors.segment.tolist() == [None, None]
    assert np.isnan(debtors.amount_owed).all()
    # The segment column is the experiment's choice.
    assert read_debtors(path, segment_columns=("region",)).debtors.segment.tolist() == [
        "north",
        "south",
    ]


def test_read_debtors_header_only(tmp_path: Path) -> None:
    debtors = read_debtors(write(tmp_path, DEBTOR_HEADER), segment_columns=("debtor_type",)).debtors
    assert len(debtors.debtor_id) == len(debtors.segment) == len(debtors.amount_owed) == 0


def test_empty_segment_cell_is_none(tmp_path: Path) -> None:
    path = write(tmp_path, DEBTOR_HEADER + "d1,WAOE,1\nd2,,2\n")
    debtors = read_debtors(path, segment_columns=("debtor_type",)).debtors
    assert debtors.segment.tolist() == ["WAOE", None]


def test_read_events_good_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        EVENT_HEADER
        + "e1,d1,payment,12.50,2026-03-01T09:30:00Z\n"
        + "e2,d1,reminder,,2026-03-01T09:30:00\n"  # no offset: taken as UTC
        + "e3,d2,churn,,2026-03-01T10:30:00+02:00\n"  # offset: converted to UTC
        + "e4,d3,collection_case,,2026-02-28T23:30:00-05:00\n"  # crosses midnight in UTC
        + "e5,d3,inquiry,,2026-03-02\n"
        + "e6,d4,reminder,0.06,2026-03-02T00:00:00Z\n",  # amount on a non-payment: ignored
    )
    events = read_events(path).events
    assert len(events) == 6
    assert events.event_id.tolist() == ["e1", "e2", "e3", "e4", "e5", "e6"]
    assert events.debtor_id.tolist() == ["d1", "d1", "d2", "d3", "d3", "d4"]
    assert events.kind.tolist() == [
        "payment",
        "reminder",
        "churn",
        "collection_case",
        "inquiry",
        "reminder",
    ]
    assert events.amount[0] == 12.5
    assert np.isnan(events.amount[1:]).all()
    assert events.occurred_at.dtype == np.dtype("datetime64[us]")
    expected = np.array(
        [
            "2026-03-01T09:30:00",
            "2026-03-01T09:30:00",
            "2026-03-01T08:30:00",
            "2026-03-01T04:30:00",
            "2026-03-02T00:00:00",
            "2026-03-02T00:00:00",
        ],
        dtype="datetime64[us]",
    )
    np.testing.assert_array_equal(events.occurred_at, expected)


def test_read_events_header_only_and_extra_columns(tmp_path: Path) -> None:
    assert len(read_events(write(tmp_path, EVENT_HEADER)).events) == 0
    path = write(tmp_path, "note," + EVENT_HEADER + "hello,e1,d1,churn,,2026-03-01\n", "x.csv")
    events = read_events(path).events
    assert events.kind.tolist() == ["churn"]
    assert events.event_id.tolist() == ["e1"]


# --- Bad rows: every problem with its line (header = line 1) and column --------------------------

BAD_DEBTORS = [
    pytest.param("d1,WAOE,1\n,DICE,2\n", [(3, "debtor_id", "empty debtor_id")], id="empty-id"),
    pytest.param(
        "d1,WAOE,1\nd2,DICE,2\nd1,WAOR,3\n",
        [(4, "debtor_id", "duplicate debtor_id 'd1' (first on line 2)")],
        id="duplicate-id",
    ),
    pytest.param(
        "d1,WAOE,-5\n", [(2, "amount_owed", "not a non-negative number")], id="negative-amount"
    ),
    pytest.param(
        "d1,WAOE,ten\n", [(2, "amount_owed", "not a non-negative number")], id="text-amount"
    ),
    pytest.param(
        "d1,WAOE,inf\n", [(2, "amount_owed", "not a non-negative number")], id="inf-amount"
    ),
    pytest.param(
        "d1,WAOE,1\n,DICE,-1\nd1,,x\n",
        [
            (3, "debtor_id", "empty debtor_id"),
            (3, "amount_owed", "not a non-negative number"),
            (4, "debtor_id", "duplicate debtor_id 'd1' (first on line 2)"),
            (4, "amount_owed", "not a non-negative number"),
        ],
        id="all-at-once",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), BAD_DEBTORS)
def test_bad_debtor_rows(tmp_path: Path, rows: str, expected: list[tuple[int, str, str]]) -> None:
    path = write(tmp_path, DEBTOR_HEADER + rows)
    issues = issues_of(read_debtors, path, segment_columns=("debtor_type",))
    lines = [issue.line for issue in issues]
    assert lines == sorted(lines)  # reported in file order
    # Within one line the order of columns is not part of the contract.
    assert sorted((i.line, i.column, i.message) for i in issues) == sorted(expected)


KINDS = "expected one of payment, reminder, collection_case, churn, inquiry"
BAD_EVENTS = [
    pytest.param(
        "e1,d1,paymnt,5,2026-03-01\n", [(3, "kind", f"unknown kind; {KINDS}")], id="unknown-kind"
    ),
    pytest.param(
        "e1,d1,Payment,5,2026-03-01\n", [(3, "kind", "unknown kind")], id="kind-is-case-sensitive"
    ),
    pytest.param(
        "e1,d1,payment,,2026-03-01\n",
        [(3, "amount", "a payment needs a positive amount")],
        id="payment-without-amount",
    ),
    pytest.param(
        "e1,d1,payment,0,2026-03-01\n",
        [(3, "amount", "a payment needs a positive amount")],
        id="payment-of-zero",
    ),
    pytest.param(
        "e1,d1,payment,-3,2026-03-01\n",
        [(3, "amount", "a payment needs a positive amount")],
        id="negative-payment",
    ),
    pytest.param(
        "e1,d1,reminder,abc,2026-03-01\n", [(3, "amount", "not a number")], id="bad-amount"
    ),
    pytest.param(
        "e1,d1,churn,,yesterday\n", [(3, "occurred_at", "not an ISO 8601 time")], id="bad-time"
    ),
    pytest.param("e1,d1,churn,,\n", [(3, "occurred_at", "not an ISO 8601 time")], id="empty-time"),
    pytest.param(
        "e1,d1,churn,,2026-02-30\n", [(3, "occurred_at", "not an ISO 8601 time")], id="no-such-day"
    ),
    pytest.param(
        "e0,d1,churn,,2026-03-01\n",
        [(3, "event_id", "duplicate event_id 'e0' (first on line 2)")],
        id="duplicate-event-id",
    ),
    pytest.param(
        ",d1,churn,,2026-03-01\n", [(3, "event_id", "empty event_id")], id="empty-event-id"
    ),
    pytest.param(
        "e1,,churn,,2026-03-01\n", [(3, "debtor_id", "empty debtor_id")], id="empty-debtor-id"
    ),
    pytest.param(
        "e1,d1,churn,,2026-03-01\ne1,,payment,,never\ne3,d1,fee,,2026-03-01\n",
        [
            (4, "event_id", "duplicate event_id 'e1' (first on line 3)"),
            (4, "debtor_id", "empty debtor_id"),
            (4, "amount", "a payment needs a positive amount"),
            (4, "occurred_at", "not an ISO 8601 time"),
            (5, "kind", "unknown kind"),
        ],
        id="all-at-once",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), BAD_EVENTS)
def test_bad_event_rows(tmp_path: Path, rows: str, expected: list[tuple[int, str, str]]) -> None:
    path = write(tmp_path, EVENT_HEADER + GOOD_EVENT + rows)
    issues = issues_of(read_events, path)
    lines = [issue.line for issue in issues]
    assert lines == sorted(lines)  # reported in file order
    # Within one line the order of columns is not part of the contract.
    found = sorted((i.line, i.column, i.message) for i in issues)
    wanted = sorted(expected)
    assert [(line, col) for line, col, _ in found] == [(line, col) for line, col, _ in wanted]
    for (_, _, message), (_, _, fragment) in zip(found, wanted, strict=True):
        assert fragment in message
    first = issues[0]
    assert str(first) == f"{path}:{first.line}: {first.column}: {first.message}"


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, EVENT_HEADER + GOOD_EVENT + "\n" + "e1,d1,paymnt,5,2026-03-01\n")
    [issue] = issues_of(read_events, path)
    assert (issue.line, issue.column) == (4, "kind")  # the bad row is on the 4th line


def test_trailing_delimiter_does_not_shift_columns(tmp_path: Path) -> None:
    path = write(tmp_path, EVENT_HEADER + "e1,d1,payment,5,2026-03-01,\n")
    read = read_events(path)
    assert read.rejects.count == 0
    assert read.events.event_id.tolist() == ["e1"]
    assert read.events.kind.tolist() == ["payment"]


def test_trailing_delimiter_never_loads_wrong_debtor_ids(tmp_path: Path) -> None:
    path = write(tmp_path, DEBTOR_HEADER + "d1,WAOE,10,\nd2,DICE,5,\n")
    debtors = read_debtors(path, segment_columns=("debtor_type",)).debtors
    assert debtors.debtor_id.tolist() == ["d1", "d2"]
    assert debtors.segment.tolist() == ["WAOE", "DICE"]


def test_infinite_payment_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, EVENT_HEADER + "e1,d1,payment,inf,2026-03-01\n")
    [issue] = issues_of(read_events, path)
    assert (issue.line, issue.column) == (2, "amount")


# --- Bad files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        pytest.param("empty.csv", "", 1, "file is empty", id="empty-file"),
        pytest.param("wrong.txt", EVENT_HEADER, 0, "unsupported file type '.txt'", id="suffix"),
        pytest.param("missing.csv", None, 0, "file not found", id="missing-file"),
        pytest.param(  # a record with such bytes is set aside alone (tests/batchio)
            "latin.csv",
            ("év" + EVENT_HEADER + "e1,d\xf3,churn,,2026-03-01\n").encode("latin-1"),
            1,
            "the header is not UTF-8 text",
            id="not-utf8",
        ),
        pytest.param(
            "cols.csv",
            "event_id,debtor,kind,occurred\ne1,d1,churn,2026-03-01\n",
            1,
            "missing column(s): debtor_id, occurred_at; found: event_id, debtor, kind, occurred",
            id="missing-columns",
        ),
    ],
)
def test_bad_event_files(
    tmp_path: Path, name: str, content: str | bytes | None, line: int, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        write(tmp_path, content, name)
    [issue] = file_issues_of(read_events, path)
    assert issue.line == line
    assert issue.column == ""
    assert message in issue.message


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        pytest.param("empty.csv", "", 1, "file is empty", id="empty-file"),
        pytest.param("debtors.tsv", "debtor_id\nd1\n", 0, "expected .csv or .parquet", id="suffix"),
        pytest.param("missing.csv", None, 0, "file not found", id="missing-file"),
        pytest.param(
            "cols.csv", "id,debtor_type\nd1,WAOE\n", 1, "missing column(s): debtor_id", id="no-id"
        ),
    ],
)
def test_bad_debtor_files(
    tmp_path: Path, name: str, content: str | None, line: int, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        write(tmp_path, content, name)
    [issue] = file_issues_of(read_debtors, path, segment_columns=("debtor_type",))
    assert issue.line == line
    assert message in issue.message
    assert str(issue).startswith(f"{path}:")


def test_write_csv_is_atomic_and_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "out" / "treatments.csv"
    frame = pd.DataFrame({"debtor_id": ["d1", "d2"], "arm": ["no_action", "friendly_sms"]})
    write_csv(frame, target)
    assert pd.read_csv(target, dtype=str).equals(frame.astype(str))
    assert [p.name for p in target.parent.iterdir()] == ["treatments.csv"]  # no .partial left


def test_read_tenure_names_lines(tmp_path: Path) -> None:
    from engine.batchio import read_tenure

    good = write(tmp_path, "customer_id,recency,T,cohort\nc1,3,12,2025\nc2,12,12,2025\n")
    table = read_tenure(good)
    assert table["recency"].tolist() == [3, 12]
    assert table.index.tolist() == [2, 3]  # line numbers
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,recency,T,cohort\nc1,3,12,2025\n\nc2,14,12,2025\nc3,x,12,2025\n")
    with pytest.raises(InputFileError) as caught:
        read_tenure(bad)
    message = str(caught.value)
    assert "whole number" in message
    assert "(line 5)" in message  # 'x' sits on line 5, after a blank line 3
