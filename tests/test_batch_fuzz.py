"""Malformed batch files never crash a run, every bad row is reported with its line (CSV) or row
(Parquet), and a file is loaded whole (its good rows) or not at all: Hypothesis generates the
files, the ``dunning`` command loads them into SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import Session

from engine import service
from engine.store.tables import Assignment, OutcomeEvent
from tests.conftest import CHANNELS
from tests.test_cli import run

KEY = "dunning-channels"
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: A fresh prefix per example: the database is shared by the examples of one test.
_run_ids = itertools.count()

# Each row is (cells, defect); defect None means the row is good and must be loaded.
GOOD_TIME = st.sampled_from(["2026-03-01T09:30:00Z", "2026-03-01", "2026-03-01T10:30:00+02:00"])
EVENT_DEFECTS: dict[str, dict[str, Any]] = {
    "empty event_id": {"event_id": ""},
    "empty debtor_id": {"debtor_id": ""},
    "unknown kind": {"kind": st.sampled_from(["paymnt", "Payment", "fee", " "])},
    "bad amount": {
        "kind": "payment",
        "amount": st.sampled_from(["abc", "-1", "0", "nan", "inf", ""]),
    },
    "bad time": {
        "occurred_at": st.sampled_from(["yesterday", "2026-02-30", "", "12/31/2026 25:00"])
    },
}


Row = tuple[dict[str, str], str | None]


def with_defects(
    draw: st.DrawFn,
    good_cells: Callable[[int], dict[str, str]],
    defects: dict[str, dict[str, Any]],
    unique: str,
) -> list[Row]:
    """Up to 12 rows, each good or with one of ``defects`` (column -> value or strategy), and
    now and then a repeat of an earlier row's ``unique`` column."""
    rows: list[Row] = []
    for i in range(draw(st.integers(0, 12))):
        cells = good_cells(i)
        defect = draw(st.one_of(st.none(), st.sampled_from(sorted(defects))))
        if defect is not None:
            for column, value in defects[defect].items():
                cells[column] = draw(value) if isinstance(value, st.SearchStrategy) else value
        if rows and draw(st.integers(0, 9)) == 0:
            cells[unique] = draw(st.sampled_from(rows))[0][unique]
            defect = defect or "duplicate"
        rows.append((cells, defect))
    return rows


@st.composite
def event_rows(draw: st.DrawFn) -> list[Row]:
    def good(i: int) -> dict[str, str]:
        kind = draw(st.sampled_from(["payment", "reminder", "churn", "inquiry", "collection_case"]))
        return {
            "event_id": f"e{i}",
            "debtor_id": f"d{draw(st.integers(0, 5))}",
            "kind": kind,
            "amount": draw(st.sampled_from(["10", "0.5"])) if kind == "payment" else "",
            "occurred_at": draw(GOOD_TIME),
        }

    return with_defects(draw, good, EVENT_DEFECTS, "event_id")


def write_rows(path: Path, columns: list[str], rows: list[dict[str, str]]) -> list[int]:
    """Write ``rows`` as CSV or Parquet (by suffix); return each row's expected position."""
    if path.suffix == ".parquet":
        pd.DataFrame(rows, columns=columns, dtype=object).astype("string").to_parquet(path)
        return list(range(1, len(rows) + 1))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([[row[c] for c in columns] for row in rows])
    return list(range(2, len(rows) + 2))


def blank(cells: dict[str, str], suffix: str) -> bool:
    """A CSV record of empty cells is skipped like a blank line (spreadsheets export ``,,,``);
    a Parquet row of nulls is a row, checked like any other."""
    return suffix == ".csv" and not any(value.strip() for value in cells.values())


def count(db_url: str, table: type) -> int:
    with Session(service.open_db(db_url)) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def invoke(*args: str) -> int:
    """Run the command; only a clean exit is allowed (no other exception, no traceback)."""
    return run(*args)[0]


def rejected_positions(path: Path) -> list[int]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [int(p) for p in frame.iloc[:, 0]] if len(frame) else []


def write_file(
    path: Path, columns: list[str], rows: list[Row]
) -> tuple[Path, list[Row], list[int]]:
    """Write the rows (ids made unique to this example); return the rows, blank CSV records
    marked "skipped", and the positions the rejects file must list."""
    prefix = f"r{next(_run_ids)}-"
    for cells, _ in rows:
        cells[columns[0]] = prefix + cells[columns[0]] if cells[columns[0]] else ""
    positions = write_rows(path, columns, [cells for cells, _ in rows])
    rows = [(c, d) if not blank(c, path.suffix) else (c, "skipped") for c, d in rows]
    expected_bad = [
        p for p, (_, defect) in zip(positions, rows, strict=True) if defect not in (None, "skipped")
    ]
    return path, rows, expected_bad


@pytest.fixture
def synced(db_url: str) -> str:
    assert invoke("sync", str(CHANNELS), "--db", db_url) == 0
    return db_url


@FUZZ
@given(rows=event_rows(), suffix=st.sampled_from([".csv", ".parquet"]))
def test_event_files(
    synced: str, tmp_path_factory: pytest.TempPathFactory, rows: Any, suffix: str
) -> None:
    columns = ["event_id", "debtor_id", "kind", "amount", "occurred_at"]
    folder = tmp_path_factory.mktemp("events")
    path, rows, expected_bad = write_file(folder / f"events{suffix}", columns, rows)
    loaded = sum(defect is None for _, defect in rows)
    before = count(synced, OutcomeEvent)
    code = invoke("ingest", str(path), "--db", synced)
    assert rejected_positions(folder / "events.rejects.csv") == expected_bad
    if expected_bad and not loaded:
        assert code == 2  # every row rejected: nothing to load
    else:
        assert code == (3 if expected_bad else 0)
    assert count(synced, OutcomeEvent) == before + loaded
    # The same file again changes nothing.
    invoke("ingest", str(path), "--db", synced)
    assert count(synced, OutcomeEvent) == before + loaded


DEBTOR_DEFECTS: dict[str, dict[str, Any]] = {
    "empty debtor_id": {"debtor_id": ""},
    "bad amount": {"amount_owed": st.sampled_from(["-5", "ten", "nan", "inf", "-inf", "1e999"])},
}


@st.composite
def debtor_rows(draw: st.DrawFn) -> list[Row]:
    def good(i: int) -> dict[str, str]:
        return {
            "debtor_id": f"c{i}",
            "debtor_type": draw(st.sampled_from(["WAOR", "DICE", ""])),
            "amount_owed": draw(st.sampled_from(["50", "4.99", "", "1200.5", "0"])),
        }

    return with_defects(draw, good, DEBTOR_DEFECTS, "debtor_id")


def _eligible(cells: dict[str, str]) -> bool:
    """The shipped rule: amount_owed >= 5, a missing amount included."""
    return cells["amount_owed"] == "" or float(cells["amount_owed"]) >= 5


@FUZZ
@given(rows=debtor_rows(), suffix=st.sampled_from([".csv", ".parquet"]))
def test_debtor_files(
    synced: str, tmp_path_factory: pytest.TempPathFactory, rows: Any, suffix: str
) -> None:
    folder = tmp_path_factory.mktemp("debtors")
    columns = ["debtor_id", "debtor_type", "amount_owed"]
    path, rows, expected_bad = write_file(folder / f"debtors{suffix}", columns, rows)
    good = [cells for cells, defect in rows if defect is None]
    before = count(synced, Assignment)
    out = folder / f"treatments{suffix}"
    code = invoke("assign", KEY, "-i", str(path), "-o", str(out), "--db", synced)
    assert rejected_positions(folder / "debtors.rejects.csv") == expected_bad
    if expected_bad and not good:
        assert code == 2
        assert not out.exists()
    else:
        assert code == (3 if expected_bad else 0)
        treatments = read_output(out)
        assert treatments["debtor_id"].astype(str).tolist() == [c["debtor_id"] for c in good]
        eligible = [_eligible(c) for c in good]
        assert (treatments["status"] == "assigned").tolist() == eligible
        # The same file again: the same arms, nothing new stored.
        assert invoke("assign", KEY, "-i", str(path), "-o", str(out), "--db", synced) == code
        pd.testing.assert_series_equal(read_output(out)["arm"], treatments["arm"])
    assert count(synced, Assignment) == before + sum(_eligible(c) for c in good)


def read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"debtor_id": str, "arm": str}, keep_default_na=False)


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=200).map(lambda b: b"PAR1" + b + b"PAR1"),
        st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    ),
    suffix=st.sampled_from([".csv", ".parquet"]),
    verb=st.sampled_from(["ingest", "assign"]),
)
def test_garbage_files_load_nothing(
    synced: str, tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str, verb: str
) -> None:
    folder = tmp_path_factory.mktemp("garbage")
    path = folder / f"input{suffix}"
    path.write_bytes(content)
    before = count(synced, Assignment), count(synced, OutcomeEvent)
    if verb == "ingest":
        code = invoke("ingest", str(path), "--db", synced)
    else:
        code = invoke("assign", KEY, "-i", str(path), "-o", str(folder / "o.csv"), "--db", synced)
    # Garbage has no usable header (the required columns): input error, nothing loaded.
    assert code == 2
    assert (count(synced, Assignment), count(synced, OutcomeEvent)) == before
