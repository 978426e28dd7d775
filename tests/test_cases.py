"""Dunning cases (issue 14), as a user runs them: ``unit: {customer, case}`` in the YAML, a
debtor file with a case column sent once a month, events with and without case ids. One arm
and one assignment row per customer (the first case's propensity), one ``dunning_case`` row
per case, events on the right case, a file sent again changes nothing, bad rows set aside with
their lines (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from engine.batchio import DebtorStream, read_debtors
from engine.loader import load_experiment
from tests.conftest import CHANNELS
from tests.safety import invoke, snapshot

KEY = "cases-test"
#: Three monthly runs: a customer late k times has a case in the first k of them.
RUNS = ("2026-03-02T09:00:00Z", "2026-04-02T09:00:00Z", "2026-05-02T09:00:00Z")
#: Before the second run the split moves to the last arm: known customers keep their first
#: case's propensity, new ones get the new split's.
FIRST_SPLIT = "{friendly_sms: 0.7, direct_collection: 0.1, no_action: 0.1, discount_nudge: 0.1}"
LATER_SPLIT = "{friendly_sms: 0.1, direct_collection: 0.1, no_action: 0.1, discount_nudge: 0.7}"


def experiment_yaml(split: str = FIRST_SPLIT) -> str:
    source = CHANNELS.read_text(encoding="utf-8")
    replaced = (
        source.replace("key: dunning-channels", f"key: {KEY}")
        .replace(
            "segment: debtor_type\n",
            "segment: debtor_type\nunit: {customer: debtor_id, case: invoice_id}\n",
        )
        .replace("  churn_horizon_days: 60", "  churn_horizon_days: 60\n  late_again_days: 45")
        .replace("  policy: thompson\n", f"  policy: fixed\n  weights: {split}\n")
    )
    assert replaced.count(KEY) == 1
    assert "invoice_id" in replaced
    assert split in replaced
    return replaced


def sync(tmp_path: Path, db_url: str, split: str, as_of: str) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(experiment_yaml(split), encoding="utf-8")
    code, output = invoke("sync", str(path), "--db", db_url, "--as-of", as_of)
    assert code == 0, output


def assign(
    tmp_path: Path, db_url: str, rows: list[tuple[str, str]], as_of: str, name: str
) -> tuple[int, str, pd.DataFrame]:
    debtors = tmp_path / f"{name}.csv"
    pd.DataFrame(
        {
            "debtor_id": [d for d, _ in rows],
            "invoice_id": [c for _, c in rows],
            "debtor_type": "WAOE",
            "amount_owed": [10.0 + i for i in range(len(rows))],
        }
    ).to_csv(debtors, index=False)
    out = tmp_path / f"{name}.treatments.csv"
    code, output = invoke(
        "assign", KEY, "-i", str(debtors), "-o", str(out), "--db", db_url, "--as-of", as_of
    )
    frame = (
        pd.read_csv(out, dtype={"debtor_id": str, "invoice_id": str}) if code in (0, 3) else None
    )
    return code, output, frame  # type: ignore[return-value]


def rows(db_url: str, query: str) -> list[dict[str, Any]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(query))]
    finally:
        engine.dispose()


def utc(value: Any) -> datetime | None:
    """A stored time as aware UTC (SQLite returns text, PostgreSQL aware datetimes)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None  # (a NULL, as pandas shows it)
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


#: 30 customers late 1, 2 or 3 times; 6 more first late in the second run.
CUSTOMERS = {f"c{i:02d}": 1 + i % 3 for i in range(30)}
LATECOMERS = [f"n{i}" for i in range(6)]


def case_id(customer: str, run: int) -> str:
    return f"inv-{customer}-{run + 1}"


def run_rows(run: int) -> list[tuple[str, str]]:
    known = [(c, case_id(c, run)) for c, times in CUSTOMERS.items() if times > run]
    later = [(c, case_id(c, run)) for c in LATECOMERS if run >= 1 and run - 1 < 1 + int(c[1:]) % 2]
    return known + later


@pytest.fixture
def three_runs(tmp_path: Path, db_url: str) -> list[pd.DataFrame]:
    """The three monthly assign runs (the split moves before the second)."""
    sync(tmp_path, db_url, FIRST_SPLIT, "2026-03-01T00:00:00Z")
    outputs = []
    for run, as_of in enumerate(RUNS):
        if run == 1:
            sync(tmp_path, db_url, LATER_SPLIT, "2026-04-01T00:00:00Z")
        code, output, frame = assign(tmp_path, db_url, run_rows(run), as_of, f"run{run}")
        assert code == 0, output
        outputs.append(frame)
    return outputs


def test_one_arm_and_assignment_per_customer_one_row_per_case(
    three_runs: list[pd.DataFrame], db_url: str
) -> None:
    first, second, third = three_runs
    # One row per case in every output, with its case id.
    for run, frame in enumerate(three_runs):
        assert list(frame.columns[:3]) == ["debtor_id", "invoice_id", "status"]
        assert [tuple(r) for r in frame[["debtor_id", "invoice_id"]].to_numpy()] == run_rows(run)
        assert (frame["status"] == "assigned").all()
    both = pd.concat(three_runs)
    assert (both.groupby("debtor_id")["arm"].nunique() == 1).all()  # one arm per customer
    # New in the first run: under the first split; the first split's propensity stays theirs.
    assert set(first["propensity"]) == {0.7, 0.1}
    assert first["new"].all()
    known = second[second["debtor_id"].str.startswith("c")]
    assert not known["new"].any()
    by_customer = first.set_index("debtor_id")["propensity"]
    assert known["propensity"].tolist() == by_customer[known["debtor_id"]].tolist()
    assert (known["arm"] == "friendly_sms").any()  # 0.7 then, 0.1 under the later split
    latecomers = second[second["debtor_id"].str.startswith("n")]
    assert latecomers["new"].all()
    expected = {"friendly_sms": 0.1, "direct_collection": 0.1, "no_action": 0.1}
    assert [expected.get(a, 0.7) for a in latecomers["arm"]] == latecomers["propensity"].tolist()
    assert not third["new"].any()

    stored = pd.DataFrame(
        rows(db_url, "SELECT debtor_id, arm, propensity, assigned_at FROM assignment")
    )
    assert sorted(stored["debtor_id"]) == sorted([*CUSTOMERS, *LATECOMERS])  # one per customer
    firsts = pd.concat([first, latecomers]).set_index("debtor_id")
    stored = stored.set_index("debtor_id").loc[firsts.index]
    assert stored["propensity"].tolist() == firsts["propensity"].tolist()
    assert stored["arm"].tolist() == firsts["arm"].tolist()
    assigned = [utc(v) for v in stored["assigned_at"]]
    assert assigned == [at(RUNS[0] if d.startswith("c") else RUNS[1]) for d in stored.index]

    cases = pd.DataFrame(
        rows(
            db_url,
            "SELECT case_id, debtor_id, arm, opened_at, pay_due_at, next_opened_at, amount_owed "
            "FROM dunning_case WHERE experiment_key = 'cases-test'",
        )
    ).set_index("case_id")
    expected_cases = [c for run in range(3) for _, c in run_rows(run)]
    assert sorted(cases.index) == sorted(expected_cases)  # one row per case, no more
    assert (cases["arm"] == stored["arm"].reindex(cases["debtor_id"]).to_numpy()).all()
    for run in range(3):
        for customer, case in run_rows(run):
            row = cases.loc[case]
            assert utc(row["opened_at"]) == at(RUNS[run])
            assert (utc(row["pay_due_at"]) - at(RUNS[run])).days == 14
            later = [
                r for r in range(run + 1, 3) if (customer, case_id(customer, r)) in run_rows(r)
            ]
            assert utc(row["next_opened_at"]) == (at(RUNS[later[0]]) if later else None), case
    # Each case keeps the amount owed of its own row.
    assert cases.loc[case_id("c02", 2), "amount_owed"] == 10.0 + run_rows(2).index(
        ("c02", case_id("c02", 2))
    )


def write_events(path: Path, events: list[tuple[str, str, str, float | None, str, str]]) -> Path:
    frame = pd.DataFrame(
        events, columns=["event_id", "debtor_id", "kind", "amount", "occurred_at", "case_id"]
    )
    frame.to_csv(path, index=False)
    return path


def case_outcomes(db_url: str, customer: str) -> dict[str, tuple[Any, ...]]:
    found = rows(
        db_url,
        "SELECT case_id, paid_at, collected, reminders, collection_cases FROM dunning_case "
        f"WHERE debtor_id = '{customer}'",
    )
    return {
        r["case_id"]: (utc(r["paid_at"]), r["collected"], r["reminders"], r["collection_cases"])
        for r in found
    }


def test_events_land_on_their_case_by_id_or_by_time(tmp_path: Path, db_url: str) -> None:
    sync(tmp_path, db_url, FIRST_SPLIT, "2026-03-01T00:00:00Z")
    three = [("c02", case_id("c02", r)) for r in range(3)]
    for run in range(2):
        code, output, _ = assign(tmp_path, db_url, [three[run], ("x", f"x{run}")], RUNS[run], "r")
        assert code == 0, output
    events = write_events(
        tmp_path / "events.csv",
        [
            # Before the first case opened: no case's outcome.
            ("e0", "c02", "payment", 5.0, "2026-03-01T10:00:00Z", ""),
            # Named: case 1, although case 2 is the latest when it occurs (a late payment).
            ("e1", "c02", "payment", 40.0, "2026-04-05T10:00:00Z", case_id("c02", 0)),
            # Not named: the latest case opened at or before the event, case 2 ...
            ("e2", "c02", "reminder", None, "2026-04-03T10:00:00Z", ""),
            ("e3", "c02", "collection_case", None, "2026-04-20T10:00:00Z", ""),
            # ... until case 3 opens (next run): from then on, case 3's.
            ("e4", "c02", "payment", 25.0, "2026-05-03T10:00:00Z", ""),
            ("e5", "c02", "reminder", None, "2026-03-03T10:00:00Z", ""),
        ],
    )
    code, output = invoke("ingest", str(events), "--db", db_url, "--as-of", "2026-04-25T00:00:00Z")
    assert code == 0, output
    c1, c2, c3 = (c for _, c in three)
    paid_e4 = at("2026-05-03T10:00:00Z")
    assert case_outcomes(db_url, "c02") == {
        c1: (at("2026-04-05T10:00:00Z"), 0.0, 1, 0),  # paid after its window: nothing collected
        c2: (paid_e4, 0.0, 1, 1),  # e4 is case 2's until case 3 opens (after its window)
    }
    code, output, _ = assign(tmp_path, db_url, [three[2]], RUNS[2], "r")
    assert code == 0, output
    outcomes = case_outcomes(db_url, "c02")
    assert outcomes[c2] == (None, 0.0, 1, 1)  # e4 moved to the new case
    assert outcomes[c3] == (paid_e4, 25.0, 0, 0)
    assert outcomes[c1] == (at("2026-04-05T10:00:00Z"), 0.0, 1, 0)
    # The customer's assignment keeps the first-case outcome over all the debtor's events.
    (assignment,) = rows(db_url, "SELECT paid_at, collected FROM assignment WHERE debtor_id='c02'")
    assert utc(assignment["paid_at"]) == at("2026-04-05T10:00:00Z")
    assert assignment["collected"] == 0.0
    stored = rows(db_url, "SELECT event_id, case_id FROM outcome_event ORDER BY event_id")
    assert [(r["event_id"], r["case_id"]) for r in stored] == [
        ("e0", None),
        ("e1", c1),
        ("e2", None),
        ("e3", None),
        ("e4", None),
        ("e5", None),
    ]


def test_a_file_sent_again_changes_nothing(
    three_runs: list[pd.DataFrame], tmp_path: Path, db_url: str
) -> None:
    before = snapshot(db_url) if not db_url.startswith("sqlite") else None
    counts = rows(
        db_url,
        "SELECT (SELECT count(*) FROM dunning_case) AS c, (SELECT count(*) FROM assignment) AS a",
    )
    tables = "SELECT * FROM dunning_case ORDER BY id"
    cases = rows(db_url, tables)
    code, output, again = assign(tmp_path, db_url, run_rows(2), "2026-05-10T09:00:00Z", "again")
    assert code == 0, output
    assert "0 new" in output
    assert again.drop(columns="new").equals(three_runs[2].drop(columns="new"))
    assert not again["new"].any()
    assert rows(db_url, tables) == cases
    assert (
        rows(
            db_url,
            "SELECT (SELECT count(*) FROM dunning_case) AS c, (SELECT count(*) "
            "FROM assignment) AS a",
        )
        == counts
    )
    if before is not None:
        assert snapshot(db_url) == before


def test_bad_rows_are_set_aside_with_their_lines(
    three_runs: list[pd.DataFrame], tmp_path: Path, db_url: str
) -> None:
    debtors = tmp_path / "bad.csv"
    debtors.write_text(
        "debtor_id,invoice_id,debtor_type,amount_owed\n"
        "c00,inv-new-1,WAOE,10\n"
        "c01,inv-c00-1,WAOE,10\n"  # case 1 of another customer
        "c03,,WAOE,10\n"  # no case id
        "c04,inv-new-1,WAOE,10\n"  # repeated in the file
        "c05,inv-c05-1,WAOE,10\n"  # its own case, sent again: kept, no new row
    )
    out = tmp_path / "bad.treatments.csv"
    code, output = invoke(
        "assign",
        KEY,
        "-i",
        str(debtors),
        "-o",
        str(out),
        "--db",
        db_url,
        "--as-of",
        "2026-05-20T00:00:00Z",
    )
    assert code == 3, output
    assert (
        f"{debtors}:3: invoice_id: invoice_id 'inv-c00-1' is already a case of another "
        "customer" in output
    )
    assert f"{debtors}:4: invoice_id: empty invoice_id" in output
    assert f"{debtors}:5: invoice_id: duplicate invoice_id 'inv-new-1' (first on line 2)" in output
    rejects = pd.read_csv(tmp_path / "bad.rejects.csv")
    assert rejects["reject_line"].tolist() == [3, 4, 5]
    written = pd.read_csv(out)
    assert written["invoice_id"].tolist() == ["inv-new-1", "inv-c05-1"]
    owners = rows(
        db_url,
        "SELECT case_id, debtor_id FROM dunning_case WHERE case_id IN ('inv-c00-1', 'inv-new-1')",
    )
    assert sorted((r["case_id"], r["debtor_id"]) for r in owners) == [
        ("inv-c00-1", "c00"),
        ("inv-new-1", "c00"),
    ]

    events = write_events(
        tmp_path / "events.csv",
        [
            ("e1", "c00", "payment", 5.0, "2026-05-21T10:00:00Z", "inv-c00-1"),
            ("e2", "c01", "payment", 5.0, "2026-05-21T10:00:00Z", "inv-c00-1"),  # not c01's
            ("e3", "c01", "payment", 5.0, "2026-05-21T10:00:00Z", "no-such-case"),
            ("e4", "c01", "payment", 5.0, "2026-05-21T10:00:00Z", ""),
        ],
    )
    code, output = invoke("ingest", str(events), "--db", db_url, "--as-of", "2026-05-22T00:00:00Z")
    assert code == 3, output
    assert f"{events}:3: case_id: 'inv-c00-1' is not a stored case of debtor 'c01'" in output
    assert f"{events}:4: case_id: 'no-such-case' is not a stored case of debtor 'c01'" in output
    stored = rows(db_url, "SELECT event_id FROM outcome_event ORDER BY event_id")
    assert [r["event_id"] for r in stored] == ["e1", "e4"]


def test_the_yaml_needs_a_case_column_for_case_metrics(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        experiment_yaml()
        .replace("unit: {customer: debtor_id, case: invoice_id}\n", "")
        .replace("  late_again_days: 45", "  late_again_days: 45\n  secondary: [late_again]"),
        encoding="utf-8",
    )
    code, output = invoke("validate", str(path))
    assert code != 0
    assert (
        "metrics.secondary.0: late_again needs unit.case: the debtor file must carry a case id"
        in " ".join(output.split())
    )
    good = tmp_path / "good.yaml"
    good.write_text(experiment_yaml(), encoding="utf-8")
    experiment = load_experiment(good).experiment
    assert (experiment.customer_column, experiment.case_column) == ("debtor_id", "invoice_id")
    assert experiment.metrics.late_again_days == 45


#: What the engine wrote before cases existed (commit eea766b, the parent of this work) for the
#: two runs of :func:`test_a_file_without_cases_gives_what_it_gave_before`: the treatments of
#: each run and the second run's rejects.
BEFORE_CASES = (
    "debtor_id,status,arm,treatment,propensity,allocation_version,experiment_version,holdout,"
    "new,reason\n"
    "d1,assigned,discount_nudge,discount_nudge,0.25,1,1,False,True,\n"
    "d2,assigned,direct_collection,direct_collection,0.25,1,1,False,True,\n"
    "d3,assigned,direct_collection,direct_collection,0.25,1,1,False,True,\n",
    "debtor_id,status,arm,treatment,propensity,allocation_version,experiment_version,holdout,"
    "new,reason\n"
    "d1,assigned,discount_nudge,discount_nudge,0.25,1,1,False,False,\n"
    "d4,assigned,direct_collection,direct_collection,0.25,1,1,False,True,\n"
    "d6,assigned,direct_collection,direct_collection,0.25,1,1,False,True,\n",
    "reject_line,reject_reason,debtor_id,debtor_type,amount_owed\n"
    "4,debtor_id: duplicate debtor_id 'd4' (first on line 3),d4,WAOE,5\n"
    "5,amount_owed: not a non-negative number,d5,WACE,-1\n",
)


def test_a_file_without_cases_gives_what_it_gave_before(tmp_path: Path, db_url: str) -> None:
    """The string form of ``unit`` (one case per debtor): byte for byte the files the engine
    wrote before cases, the same summaries, and no case row."""
    code, output = invoke("sync", str(CHANNELS), "--db", db_url, "--as-of", "2026-03-01")
    assert code == 0, output
    files = [
        "debtor_id,debtor_type,amount_owed\nd1,WAOE,10\nd2,DICE,20\nd3,WAOE,5\n",
        "debtor_id,debtor_type,amount_owed\nd1,WAOE,10\nd4,DICE,20\nd4,WAOE,5\nd5,WACE,-1\n"
        "d6,WAOR,7\n",
    ]
    summaries = [
        "3 debtors: 3 newly assigned, 0 kept their arm, 0 ineligible",
        "3 debtors: 2 newly assigned, 1 kept their arm, 0 ineligible",
    ]
    for run, (content, summary) in enumerate(zip(files, summaries, strict=True)):
        debtors = tmp_path / f"debtors{run}.csv"
        debtors.write_text(content)
        out = tmp_path / f"out{run}.csv"
        code, output = invoke(
            "assign",
            "dunning-channels",
            "-i",
            str(debtors),
            "-o",
            str(out),
            "--db",
            db_url,
            "--as-of",
            RUNS[run],
        )
        assert code == (0 if run == 0 else 3), output
        assert summary in output
        assert out.read_text() == BEFORE_CASES[run]
    assert (tmp_path / "debtors1.rejects.csv").read_text() == BEFORE_CASES[2]
    assert rows(db_url, "SELECT count(*) AS n FROM dunning_case") == [{"n": 0}]


CASE_FILE = """debtor_id,invoice_id,debtor_type
a,i1,WAOE
a,i2,WAOE

b,i1,WAOE
c,,WAOE
,i3,WAOE
b,i4,WAOE
d,i2,WAOE
e,i5,WAOE
"""


def test_case_checks_are_the_same_whatever_the_chunks(tmp_path: Path) -> None:
    """A customer may repeat, a case id may not (across chunks too); a case id the store has
    for another customer is refused by the caller's check, with its line."""
    path = tmp_path / "debtors.csv"
    path.write_text(CASE_FILE)
    stored = {"i5": "z"}  # the store's case i5 belongs to customer z

    def foreign(cases: Any, debtors: Any) -> Any:
        import numpy as np

        return np.array([stored.get(c, d) != d for c, d in zip(cases, debtors, strict=True)])

    found = []
    for rows_per_chunk in (1, 2, 3, 100):
        debtors = DebtorStream(
            path, segment_columns=("debtor_type",), case_column="invoice_id", rows=rows_per_chunk
        )
        chunks = list(debtors.chunks(foreign))
        kept = [
            (str(d), str(c))
            for p in chunks
            if p.case_id is not None
            for d, c in zip(p.debtor_id, p.case_id, strict=True)
        ]
        found.append((kept, [str(i) for i in debtors.rejects.issues]))
    assert all(f == found[0] for f in found)
    kept, issues = found[0]
    assert kept == [("a", "i1"), ("a", "i2"), ("b", "i4")]
    assert issues == [
        f"{path}:5: invoice_id: duplicate invoice_id 'i1' (first on line 2)",
        f"{path}:6: invoice_id: empty invoice_id",
        f"{path}:7: debtor_id: empty debtor_id",
        f"{path}:9: invoice_id: duplicate invoice_id 'i2' (first on line 3)",
        f"{path}:10: invoice_id: invoice_id 'i5' is already a case of another customer",
    ]
    # Without the case column the same file repeats customers: rejected as before.
    plain = read_debtors(path, segment_columns=("debtor_type",))
    assert f"{path}:3: debtor_id: duplicate debtor_id 'a' (first on line 2)" in [
        str(i) for i in plain.rejects.issues
    ]
    assert plain.debtors.case_id is None


def test_the_service_refuses_case_ids_it_cannot_store(tmp_path: Path, db: Any) -> None:
    """Callers other than the file readers (the demo, scripts) get a clear refusal, and nothing
    of the refused batch is stored."""
    import numpy as np

    from engine import service
    from engine.events import EventBatch

    path = tmp_path / "cases.yaml"
    path.write_text(experiment_yaml(), encoding="utf-8")
    service.sync_experiment(db, load_experiment(path), now=at("2026-03-01T00:00:00Z"))
    now = at(RUNS[0])
    with pytest.raises(service.ServiceError, match="every debtor row needs a case id"):
        service.assign_debtors(db, experiment_key=KEY, debtor_ids=["a"], now=now)
    result = service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=["a", "a"], case_ids=["i1", "i2"], now=now
    )
    assert result.new_cases == 2
    assert result.case_id is not None
    assert result.case_id.tolist() == ["i1", "i2"]
    for cases, message in ((["i1"], "another customer"), (["i3", "i3"], "unique")):
        with pytest.raises(service.ServiceError, match=message):
            service.assign_debtors(
                db, experiment_key=KEY, debtor_ids=["b"] * len(cases), case_ids=cases, now=now
            )
    plain = load_experiment(CHANNELS)
    service.sync_experiment(db, plain, now=at("2026-03-01T00:00:00Z"))
    with pytest.raises(service.ServiceError, match="it takes no case ids"):
        service.assign_debtors(
            db, experiment_key="dunning-channels", debtor_ids=["a"], case_ids=["i9"], now=now
        )

    def events(case: str | None) -> EventBatch:
        return EventBatch(
            np.array(["e1"], dtype=object),
            np.array(["b"], dtype=object),
            np.array(["payment"], dtype=object),
            np.array([5.0]),
            np.array(["2026-03-03T10:00:00"], dtype="datetime64[us]"),
            np.array([case], dtype=object),
        )

    with pytest.raises(service.ServiceError, match="no stored case of debtor 'b'"):
        service.ingest_events(db, events("i1"), now=at("2026-03-04T00:00:00Z"))
    assert service.ingest_events(db, events(None), now=at("2026-03-04T00:00:00Z")).inserted == 1
    stored = rows(str(db.url), "SELECT count(*) AS n FROM dunning_case")
    assert stored == [{"n": 2}]
