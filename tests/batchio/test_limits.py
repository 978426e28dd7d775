"""Boundary checks from the schema: a cell its column would refuse (too long, a NUL, bytes that
are not UTF-8) rejects its record alone, and both databases store the same good records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import String
from sqlmodel import SQLModel

import engine.store.tables  # noqa: F401  (registers the tables)
from engine.batchio import read_debtors, read_events
from engine.batchio.limits import STORE_TEXT
from engine.store.tables import Assignment, OutcomeEvent
from tests.conftest import CHANNELS
from tests.safety import invoke
from tests.test_batch_files import count

KEY = "dunning-channels"
#: Text columns that no batch file fills: the engine writes them from validated keys and its
#: own vocabulary (experiment and arm keys are at most 63 characters by their pattern).
ENGINE_TEXT = {
    "allocation.experiment_key",
    "allocation.kind",
    "allocation.champion",
    "allocation.reason",
    "assignment.experiment_key",
    "cell_snapshot.experiment_key",
    "dunning_case.experiment_key",
    "dunning_case.arm",
    "assignment.arm",
    "assignment.reason",
    "assignment.treatment",
    "experiment_version.experiment_key",
    "experiment_version.content_hash",
    "experiment_version.name",
    "experiment_version.source_yaml",
    "experiment_version.source_path",
    "outcome_event.kind",
    "promotion.experiment_key",
    "promotion.action",
    "promotion.reason",
    "promotion.champion_before",
    "promotion.champion_after",
    "promotion.explanation",
}


def store_text_columns() -> dict[str, int | None]:
    return {
        f"{table.name}.{column.name}": column.type.length
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, String) or hasattr(column.type, "length")
    }


def test_the_table_of_limits_is_the_store_s() -> None:
    """Every text column is either filled from files (and then in the limits table, with the
    store's length) or written by the engine: a new column must be classified."""
    store = store_text_columns()
    assert {name: store[name] for name in STORE_TEXT} == STORE_TEXT
    assert set(store) == set(STORE_TEXT) | ENGINE_TEXT


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_bad_cell_rejects_its_row_only(tmp_path: Path, suffix: str) -> None:
    ids = [f"d{i}" for i in range(6)]
    ids[1] = "x" * 129
    ids[2] = "n\x00ul"
    ids[3] = "y" * 128  # exactly the limit: fine
    types = ["WAOE"] * 6
    types[4] = "S" * 65
    path = tmp_path / f"debtors{suffix}"
    frame = pd.DataFrame({"debtor_id": ids, "debtor_type": types, "amount_owed": "10"})
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    read = read_debtors(path, segment_columns=("debtor_type",))
    found = [
        (i.line - (1 if suffix == ".csv" else 0), i.column, i.message) for i in read.rejects.issues
    ]
    assert found == [
        (2, "debtor_id", "129 characters; at most 128 allowed"),
        (3, "debtor_id", "contains a NUL character"),
        (5, "debtor_type", "65 characters; at most 64 allowed"),
    ]
    assert read.debtors.debtor_id.tolist() == ["d0", "y" * 128, "d5"]


def test_event_ids_and_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(
        b"event_id,debtor_id,kind,amount,occurred_at\n"
        b"e1,d1,churn,,2026-03-01\n" + b"e" * 129 + b",d1,churn,,2026-03-01\n"
        b"e3,d\x00,churn,,2026-03-01\n"
        b"e4,d\xff\xfe,churn,,2026-03-01\n"
        b"e5,d5,churn,,2026-03-01\n"
    )
    read = read_events(path)
    assert [(i.line, i.column, i.message) for i in read.rejects.issues] == [
        (3, "event_id", "129 characters; at most 128 allowed"),
        (4, "debtor_id", "contains a NUL character"),
        (5, "", "not UTF-8 text"),
    ]
    assert read.events.event_id.tolist() == ["e1", "e5"]
    header = tmp_path / "header.csv"
    header.write_bytes(b"event_id,debtor_\xff\n")
    with pytest.raises(Exception, match="the header is not UTF-8 text"):
        read_events(header)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_both_databases_store_the_same_999_of_1000_rows(
    db_url: str, tmp_path: Path, suffix: str
) -> None:
    """The measured failure: one over-long or NUL cell used to lose the whole file on
    PostgreSQL (a traceback, 0 of 1,000 stored) while SQLite stored all 1,000."""
    assert invoke("sync", str(CHANNELS), "--db", db_url, "--as-of", "2026-03-01")[0] == 0
    ids = [f"d{i}" for i in range(1_000)]
    ids[500] = "x" * 129
    debtors = pd.DataFrame({"debtor_id": ids, "debtor_type": "WAOE", "amount_owed": "50"})
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" if i != 7 else "e\x00" for i in range(1_000)],
            "debtor_id": ids,
            "kind": "payment",
            "amount": "10",
            "occurred_at": "2026-03-05",
        }
    )
    paths = {}
    for name, frame in (("debtors", debtors), ("events", events)):
        paths[name] = tmp_path / f"{name}{suffix}"
        if suffix == ".csv":
            frame.to_csv(paths[name], index=False)
        else:
            frame.to_parquet(paths[name])
    out = tmp_path / "t.csv"
    code, output = invoke(
        "assign",
        KEY,
        "-i",
        str(paths["debtors"]),
        "-o",
        str(out),
        "--db",
        db_url,
        "--as-of",
        "2026-03-02",
    )
    assert code == 3, output
    assert "1 of 1,000 row(s) rejected" in output
    assert count(db_url, Assignment) == 999
    code, output = invoke("ingest", str(paths["events"]), "--db", db_url)
    assert code == 3, output
    assert "contains a NUL character" in output
    assert count(db_url, OutcomeEvent) == 998  # the NUL id and the over-long debtor id
