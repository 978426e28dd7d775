"""`dunning assign` and `dunning ingest` with CSV and Parquet files, eligibility, rejects files and
one transaction per file, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from engine import service
from engine.events import EventBatch
from engine.loader import LoadedExperiment, parse_experiment
from engine.store import queries
from engine.store.tables import Assignment, OutcomeEvent
from tests.conftest import CHANNELS
from tests.test_cli import run

KEY = "dunning-channels"
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RULES = """
  - column: country
    one_of: [DE, AT]
  - column: days_past_due
    min: 1
"""


def count(url_or_engine: str | Engine, table: type) -> int:
    engine = service.open_db(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def sync_with_rules(db_url: str, tmp_path: Path) -> Path:
    """The shipped experiment with two more eligibility rules (country, days past due)."""
    path = tmp_path / "experiment.yaml"
    path.write_text(CHANNELS.read_text(encoding="utf-8") + RULES, encoding="utf-8")
    assert run("sync", str(path), "--db", db_url)[0] == 0
    return path


DEBTORS = (
    "debtor_id,debtor_type,amount_owed,country,days_past_due\n"
    "d1,WAOR,50,DE,3\n"  # line 2: assigned
    "d2,WAOR,2,DE,3\n"  # line 3: ineligible, amount under 5
    "d3,WAOR,50,FR,3\n"  # line 4: ineligible, country
    "d4,WAOR,-1,DE,3\n"  # line 5: rejected, negative amount
    "d5,WAOR,50,AT,\n"  # line 6: ineligible, days past due missing
    "\n"  # line 7: blank
    "d1,WAOR,50,DE,3\n"  # line 8: rejected, repeated id
    "d6,WAOR,,AT,soon\n"  # line 9: rejected, days_past_due not a number
    "d7,WAOR,,AT,1\n"  # line 10: assigned, unknown amount included
)


def test_assign_with_eligibility_rejects_and_a_rerun(db_url: str, tmp_path: Path) -> None:
    sync_with_rules(db_url, tmp_path)
    debtors = tmp_path / "debtors.csv"
    debtors.write_text(DEBTORS, encoding="utf-8")
    out = tmp_path / "treatments.csv"
    code, output = run("assign", KEY, "-i", str(debtors), "-o", str(out), "--db", db_url)
    assert code == 3, output
    assert "debtors.csv:5: amount_owed: not a non-negative number" in output
    assert "debtors.csv:8: debtor_id: duplicate debtor_id 'd1' (first on line 2)" in output
    assert "debtors.csv:9: days_past_due: not a number" in output
    assert "3 of 8 row(s) rejected" in output
    assert "5 debtors: 2 newly assigned, 0 kept their arm, 3 ineligible" in output

    treatments = pd.read_csv(out, dtype={"debtor_id": str})
    assert treatments["debtor_id"].tolist() == ["d1", "d2", "d3", "d5", "d7"]
    assert treatments["status"].tolist() == [
        "assigned",
        "ineligible",
        "ineligible",
        "ineligible",
        "assigned",
    ]
    ineligible = treatments[treatments["status"] == "ineligible"]
    assert ineligible["reason"].tolist() == [
        "amount_owed 2 < min 5",
        "country FR not one of DE, AT",
        "days_past_due missing",
    ]
    assert ineligible[["arm", "propensity", "allocation_version", "holdout"]].isna().all().all()
    assigned = treatments[treatments["status"] == "assigned"]
    assert set(assigned["arm"]) <= {
        "friendly_sms",
        "direct_collection",
        "no_action",
        "discount_nudge",
    }
    assert assigned["propensity"].eq(0.25).all()
    assert assigned[["allocation_version", "experiment_version"]].eq(1).all().all()
    assert count(db_url, Assignment) == 2  # ineligible debtors are not stored

    rejects = pd.read_csv(tmp_path / "debtors.rejects.csv", dtype=str, keep_default_na=False)
    assert rejects["reject_line"].tolist() == ["5", "8", "9"]
    assert rejects["debtor_id"].tolist() == ["d4", "d1", "d6"]

    # The same file again: the same answers, nothing new stored.
    code, output = run("assign", KEY, "-i", str(debtors), "-o", str(out), "--db", db_url)
    assert code == 3
    assert "0 newly assigned, 2 kept their arm, 3 ineligible" in output
    again = pd.read_csv(out, dtype={"debtor_id": str})
    pd.testing.assert_frame_equal(
        again.drop(columns="new"), treatments.drop(columns="new"), check_dtype=False
    )
    assert count(db_url, Assignment) == 2

    # Once in, a debtor keeps the arm even when no longer eligible (intent to treat).
    debtors.write_text("debtor_id,amount_owed,country,days_past_due\nd1,1,FR,0\n", encoding="utf-8")
    code, output = run("assign", KEY, "-i", str(debtors), "-o", str(out), "--db", db_url)
    assert code == 0, output
    kept = pd.read_csv(out)
    assert kept["status"].tolist() == ["assigned"]
    assert kept["arm"].tolist() == assigned["arm"].iloc[:1].tolist()
    # A clean run leaves a rejects file with a header only.
    assert len(pd.read_csv(tmp_path / "debtors.rejects.csv")) == 0


def test_assign_parquet_in_and_out(db_url: str, tmp_path: Path) -> None:
    sync_with_rules(db_url, tmp_path)
    frame = pd.DataFrame(
        {
            "debtor_id": ["p1", "p2", "p3", None, "p5"],
            "amount_owed": [50.0, 3.0, np.inf, 20.0, 8.0],
            "country": ["DE", "AT", "DE", "DE", None],
            "days_past_due": pd.array([5, 5, 5, 5, 5], dtype="Int64"),
            "debtor_type": "WAOR",
        }
    )
    debtors = tmp_path / "debtors.parquet"
    frame.to_parquet(debtors)
    out = tmp_path / "out.parquet"
    rejects = tmp_path / "bad" / "rows.csv"
    code, output = run(
        "assign", KEY, "-i", str(debtors), "-o", str(out), "--rejects", str(rejects), "--db", db_url
    )
    assert code == 3, output
    assert f"{debtors}: row 3: amount_owed: not a non-negative number" in output
    assert f"{debtors}: row 4: debtor_id: empty debtor_id" in output
    result = pd.read_parquet(out)
    assert result["debtor_id"].tolist() == ["p1", "p2", "p5"]
    assert result["status"].tolist() == ["assigned", "ineligible", "ineligible"]
    assert result["reason"].tolist()[1:] == ["amount_owed 3 < min 5", "country missing"]
    assert str(result["allocation_version"].dtype) == "Int64"
    assert result["propensity"].dtype == np.float64
    assert pd.read_csv(rejects, dtype=str)["reject_row"].tolist() == ["3", "4"]


def test_ingest_parquet_with_typed_columns(db_url: str, tmp_path: Path) -> None:
    assert run("sync", str(CHANNELS), "--db", db_url)[0] == 0
    frame = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "debtor_id": ["d1", "d1", "d2", "d3"],
            "kind": ["payment", "reminder", "payment", "churn"],
            "amount": [12.5, None, np.nan, None],
            "occurred_at": pd.to_datetime(
                ["2026-03-01T09:30:00Z", "2026-03-01T10:00:00Z", "2026-03-02T00:00:00Z", None]
            ),
        }
    )
    events = tmp_path / "events.parquet"
    frame.to_parquet(events)
    code, output = run("ingest", str(events), "--db", db_url)
    assert code == 3, output
    assert f"{events}: row 3: amount: a payment needs a positive amount" in output
    assert f"{events}: row 4: occurred_at: not an ISO 8601 time" in output
    assert "2 events: 2 new, 0 already known" in output
    with Session(service.open_db(db_url)) as session:
        stored = session.execute(select(OutcomeEvent.event_id, OutcomeEvent.occurred_at)).all()
    when = {event_id: at.replace(tzinfo=None) for event_id, at in stored}
    assert when == {"e1": datetime(2026, 3, 1, 9, 30), "e2": datetime(2026, 3, 1, 10, 0)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "file is empty", id="empty"),
        pytest.param(b"\x00\xff\xfe garbage", "not UTF-8", id="garbage"),
        pytest.param(b"debtor,amount_owed\nd1,5\n", "missing column(s): debtor_id", id="no-id"),
        pytest.param(
            b"debtor_id,amount_owed\nd1,5\n", "missing column(s): country, days_past_due", id="rule"
        ),
        pytest.param(
            b"debtor_id,amount_owed,country,days_past_due\n,5,DE,1\nd2,x,DE,1\n",
            "2 of 2 row(s) rejected",
            id="every-row-rejected",
        ),
    ],
)
def test_unusable_debtor_files_load_nothing(
    db_url: str, tmp_path: Path, content: bytes, message: str
) -> None:
    sync_with_rules(db_url, tmp_path)
    debtors = tmp_path / "debtors.csv"
    debtors.write_bytes(content)
    out = tmp_path / "out.csv"
    code, output = run("assign", KEY, "-i", str(debtors), "-o", str(out), "--db", db_url)
    assert code == 2, output
    assert message in output
    assert not out.exists()
    assert count(db_url, Assignment) == 0


def test_bad_output_type_and_garbage_parquet_change_nothing(db_url: str, tmp_path: Path) -> None:
    assert run("sync", str(CHANNELS), "--db", db_url)[0] == 0
    debtors = tmp_path / "debtors.csv"
    debtors.write_text("debtor_id\nd1\n", encoding="utf-8")
    code, output = run(
        "assign", KEY, "-i", str(debtors), "-o", str(tmp_path / "o.xlsx"), "--db", db_url
    )
    assert (code, "unsupported output type '.xlsx'" in output) == (2, True)
    code, output = run("assign", KEY, "-i", str(debtors), "-o", str(debtors), "--db", db_url)
    assert (code, "overwrite the input" in output) == (2, True)
    events = tmp_path / "events.csv"
    events.write_text("event_id,debtor_id,kind,occurred_at\ne1,d1,churn,2026-03-01\n")
    code, output = run("ingest", str(events), "--rejects", str(events), "--db", db_url)
    assert (code, "the rejects file would overwrite the input" in output) == (2, True)
    assert events.read_text().startswith("event_id,debtor_id")
    garbage = tmp_path / "events.parquet"
    garbage.write_bytes(b"PAR1 this is not parquet PAR1")
    code, output = run("ingest", str(garbage), "--db", db_url)
    assert (code, "not a readable Parquet file" in output) == (2, True)
    assert count(db_url, Assignment) == count(db_url, OutcomeEvent) == 0


# --- One transaction per file: a failure half-way leaves the database as it was ----------------


class Boom(RuntimeError):
    pass


def _fail(*args: object, **kwargs: object) -> None:
    raise Boom("database failed half-way")


def test_a_failure_half_way_loads_nothing(
    db: Engine, channels: LoadedExperiment, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.sync_experiment(db, channels, now=T0)
    events = EventBatch(
        event_id=np.array(["e1", "e2"], dtype=object),
        debtor_id=np.array(["d1", "d2"], dtype=object),
        kind=np.array(["payment", "churn"], dtype=object),
        amount=np.array([10.0, np.nan]),
        occurred_at=np.array(["2026-03-02T07:00", "2026-03-02T08:00"], dtype="datetime64[us]"),
    )
    # The rows are inserted, then the outcome refresh fails: the insert must be rolled back.
    monkeypatch.setattr(queries, "refresh_outcomes", _fail)
    with pytest.raises(Boom):
        service.ingest_events(db, events, now=T0)
    with pytest.raises(Boom):
        service.assign_debtors(db, experiment_key=KEY, debtor_ids=["d1", "d2"], now=T0)
    assert count(db, OutcomeEvent) == count(db, Assignment) == 0
    monkeypatch.undo()
    assert service.ingest_events(db, events, now=T0).inserted == 2
    assert (
        service.assign_debtors(db, experiment_key=KEY, debtor_ids=["d1", "d2"], now=T0).new_count
        == 2
    )


def test_service_applies_eligibility_to_api_callers(db: Engine, channels: LoadedExperiment) -> None:
    text = channels.source + RULES
    variant = LoadedExperiment(Path("v.yaml"), parse_experiment(text, file="v.yaml"), text)
    service.sync_experiment(db, variant, now=T0)
    result = service.assign_debtors(
        db,
        experiment_key=KEY,
        debtor_ids=["a", "b", "a"],
        amounts_owed=[10.0, 10.0, 10.0],
        attributes={"country": ["DE", "FR", "DE"], "days_past_due": [2, 2, 2]},
        now=T0,
    )
    assert result.eligible.tolist() == [True, False, True]
    assert result.reason.tolist()[1] == "country FR not one of DE, AT"
    assert result.arm[0] == result.arm[2] is not None
    assert result.new.tolist() == [True, False, False]
    with pytest.raises(service.ServiceError, match="eligibility rules on country, days_past_due"):
        service.assign_debtors(db, experiment_key=KEY, debtor_ids=["c"], now=T0)


def test_parquet_nan_is_not_null_and_unused_odd_columns_are_ignored(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.batchio import InputFileError, read_debtors

    table = pa.table(
        {
            "debtor_id": ["a", "b", "c"],
            "amount_owed": pa.array([1.5, None, float("nan")], from_pandas=False),
            "tags": pa.array([[1], [2, 3], []]),  # a list column no check reads
        }
    )
    path = tmp_path / "debtors.parquet"
    pq.write_table(table, path)
    read = read_debtors(path, segment_columns=("debtor_type",))
    assert read.debtors.debtor_id.tolist() == ["a", "b"]  # null: amount unknown
    assert [(i.line, i.column) for i in read.rejects.issues] == [(3, "amount_owed")]
    with pytest.raises(InputFileError, match=r"column .tags. has type list<.*cannot be read"):
        read_debtors(path, segment_columns=("tags",))


def test_unit_names_the_id_column(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    text = CHANNELS.read_text(encoding="utf-8").replace(
        "segment: debtor_type", "unit: customer_id\nsegment: debtor_type", 1
    )
    path.write_text(text, encoding="utf-8")
    assert run("sync", str(path), "--db", db_url)[0] == 0
    debtors = tmp_path / "customers.csv"
    debtors.write_text("customer_id,debtor_type,amount_owed\nc1,WAOR,50\nc1,WAOR,60\nc2,DICR,9\n")
    out = tmp_path / "treatments.csv"
    code, output = run("assign", KEY, "-i", str(debtors), "-o", str(out), "--db", db_url)
    assert code == 3, output
    assert "customers.csv:3: customer_id: duplicate customer_id 'c1'" in output
    treatments = pd.read_csv(out)
    assert treatments["customer_id"].tolist() == ["c1", "c2"]
    assert (treatments["status"] == "assigned").all()
    missing = tmp_path / "debtors.csv"
    missing.write_text("debtor_id,amount_owed\nd1,50\n")
    code, output = run("assign", KEY, "-i", str(missing), "-o", str(out), "--db", db_url)
    assert code == 2
    assert "customer_id" in output


def test_several_segment_attributes_form_one_segment(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    text = CHANNELS.read_text(encoding="utf-8").replace(
        "segment: debtor_type", "segment: [debtor_type, country]", 1
    )
    path.write_text(text, encoding="utf-8")
    assert run("sync", str(path), "--db", db_url)[0] == 0
    debtors = tmp_path / "debtors.csv"
    debtors.write_text(
        "debtor_id,debtor_type,country,amount_owed\nd1,WAOR,DE,50\nd2,DICR,,50\nd3,DICR,AT,9\n"
    )
    out = tmp_path / "treatments.csv"
    code, output = run("assign", KEY, "-i", str(debtors), "-o", str(out), "--db", db_url)
    assert code == 0, output
    engine = service.open_db(db_url)
    with Session(engine) as session:
        rows = session.scalars(select(Assignment).order_by(Assignment.debtor_id)).all()
    assert [r.segment for r in rows] == ["WAOR|DE", None, "DICR|AT"]
