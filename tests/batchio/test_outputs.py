"""Output paths that cannot hurt: every verb that writes a file refuses (exit 2, the path and
the reason named) a path that is its input, another of its outputs, the database or a file it
did not write, and writes atomically; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.batchio import Output, OutputWriteError, check_outputs, write_csv, write_text
from engine.batchio.outputs import write_atomic
from engine.batchio.rejects import REJECTS_FILE
from engine.cli.batch import treatments_file
from tests.conftest import CHANNELS
from tests.safety import invoke, settle, snapshot, sqlite_file

TREATMENTS_FILE = treatments_file()

KEY = "dunning-channels"
AS_OF = "2026-03-02T06:00:00"
DEBTORS = "debtor_id,debtor_type,amount_owed\nd1,WAOE,10\nd2,DICE,20\n"
EVENTS = "event_id,debtor_id,kind,amount,occurred_at\ne1,d1,payment,10,2026-03-03\n"


@pytest.fixture
def synced(db_url: str, tmp_path: Path) -> str:
    assert invoke("sync", str(CHANNELS), "--db", db_url, "--as-of", "2026-03-01")[0] == 0
    (tmp_path / "debtors.csv").write_text(DEBTORS)
    (tmp_path / "events.csv").write_text(EVENTS)
    return db_url


def refused(args: list[str], url: str, *, message: str, path: Path) -> None:
    """The command exits 2 naming ``path`` and ``message``, and the database is unchanged."""
    settle(url)
    before = snapshot(url)
    code, output = invoke(*args)
    assert code == 2, output
    assert f"{path}: " in output, output
    assert message in output, output
    assert "nothing was changed" in output
    assert snapshot(url) == before


# --- the shared check ----------------------------------------------------------------------


def test_a_previous_output_may_be_replaced_anything_else_only_with_overwrite(
    tmp_path: Path,
) -> None:
    treatments = tmp_path / "t.csv"
    treatments.write_text("debtor_id,status,arm,treatment,propensity,allocation_version,new\n")
    check_outputs([Output(treatments, TREATMENTS_FILE)])
    other = tmp_path / "notes.csv"
    other.write_text("name,value\na,1\n")
    with pytest.raises(Exception, match="not a treatments file written by dunning"):
        check_outputs([Output(other, TREATMENTS_FILE)])
    check_outputs([Output(other, TREATMENTS_FILE)], overwrite=True)
    (tmp_path / "empty.csv").touch()  # nothing to lose
    check_outputs([Output(tmp_path / "empty.csv", TREATMENTS_FILE)])
    rejects = tmp_path / "r.csv"
    rejects.write_text("reject_row,reject_reason,event_id\n")
    check_outputs([Output(rejects, REJECTS_FILE, "--rejects")])
    # A Parquet treatments file is recognised by its schema.
    parquet = tmp_path / "t.parquet"
    pd.DataFrame(
        {c: [1] for c in ("id", "status", "arm", "treatment", "propensity")}
        | {"allocation_version": [1], "new": [True]}
    ).to_parquet(parquet)
    check_outputs([Output(parquet, TREATMENTS_FILE)])


def test_links_to_a_protected_file_are_refused(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    database.write_bytes(b"SQLite format 3\x00")
    link = tmp_path / "rejects.csv"
    link.symlink_to(database)
    hard = tmp_path / "hard.csv"
    os.link(database, hard)
    for path in (link, hard):
        with pytest.raises(Exception, match="would overwrite the database file"):
            check_outputs([Output(path, REJECTS_FILE, "--rejects")], protected=[database])
    assert database.read_bytes() == b"SQLite format 3\x00"


def test_folders_and_impossible_paths_are_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    regular = tmp_path / "file"
    regular.write_text("x")
    cases = {
        tmp_path / "folder.csv": "names a folder",
        regular / "under" / "t.csv": "is not a folder",
    }
    for path, message in cases.items():
        with pytest.raises(Exception, match=message):
            check_outputs([Output(path, TREATMENTS_FILE)])


def test_writes_are_atomic_and_keep_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    target.chmod(0o640)

    def crash(partial: Path) -> None:
        partial.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputWriteError, match="No space left on device"):
        write_atomic(target, crash)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"], "no temporary file left"
    write_csv(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "a\n1\n"
    assert target.stat().st_mode & 0o777 == 0o640, "the replaced file's mode is kept"
    write_text("{}", tmp_path / "new" / "deep" / "x.json")
    assert (tmp_path / "new" / "deep" / "x.json").read_text() == "{}"
    with pytest.raises(OutputWriteError):
        write_text("{}", tmp_path / "out.csv" / "x.json")  # under a regular file


# --- every verb that writes a file -----------------------------------------------------------


def test_assign_refuses_outputs_that_destroy_data(synced: str, tmp_path: Path) -> None:
    debtors = tmp_path / "debtors.csv"
    assign = ["assign", KEY, "-i", str(debtors), "--db", synced, "--as-of", AS_OF]
    out = tmp_path / "t.csv"
    refused([*assign, "-o", str(debtors)], synced, message="overwrite the input", path=debtors)
    refused(
        [*assign, "-o", str(out), "--rejects", str(out)],
        synced,
        message="would overwrite the treatments file (--output)",
        path=out,
    )
    refused(
        [*assign, "-o", str(out), "--rejects", str(debtors)],
        synced,
        message="the rejects file would overwrite the input",
        path=debtors,
    )
    notes = tmp_path / "notes.csv"
    notes.write_text("keep,me\n1,2\n")
    refused([*assign, "-o", str(notes)], synced, message="--overwrite", path=notes)
    assert notes.read_text() == "keep,me\n1,2\n"
    database = sqlite_file(synced)
    if database is not None:
        for path in (database, Path(f"{database}-wal")):
            refused(
                [*assign, "-o", str(out), "--rejects", str(path)],
                synced,
                message="would overwrite the database file",
                path=path,
            )
    # A file it wrote before is replaced; anything else needs --overwrite.
    assert invoke(*assign, "-o", str(out))[0] == 0
    assert invoke(*assign, "-o", str(out))[0] == 0
    code, output = invoke(*assign, "-o", str(notes), "--overwrite")
    assert code == 0, output
    assert pd.read_csv(notes)["status"].tolist() == ["assigned", "assigned"]


def test_ingest_never_overwrites_the_database_with_its_rejects(synced: str, tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    database = sqlite_file(synced)
    target = database if database is not None else tmp_path / "debtors.csv"
    message = "would overwrite the database file" if database is not None else "--overwrite"
    refused(
        ["ingest", str(events), "--rejects", str(target), "--db", synced],
        synced,
        message=message,
        path=target,
    )
    refused(
        ["ingest", str(events), "--rejects", str(events), "--db", synced],
        synced,
        message="would overwrite the input",
        path=events,
    )


def test_schema_outcomes_and_uplift_outputs(synced: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    code, output = invoke("schema", "-o", str(notes))
    assert (code, "--overwrite" in output, notes.read_text()) == (2, True, '{"mine": true}')
    schema = tmp_path / "schema.json"
    assert invoke("schema", "-o", str(schema))[0] == 0
    assert invoke("schema", "-o", str(schema))[0] == 0, "its own earlier output"
    (tmp_path / "file").write_text("x")
    code, output = invoke("schema", "-o", str(tmp_path / "file" / "x.json"))
    assert (code, "is not a folder" in output) == (2, True), output

    outcomes = ["outcomes", KEY, "--db", synced, "--as-of", AS_OF]
    debtors = tmp_path / "debtors.csv"
    refused([*outcomes, "-o", str(debtors)], synced, message="--overwrite", path=debtors)
    database = sqlite_file(synced)
    if database is not None:
        wal = database.with_name(database.name + "-wal")
        refused(
            [*outcomes, "-o", str(wal)], synced, message="would overwrite the database", path=wal
        )
    out = tmp_path / "outcomes.csv"
    assert invoke(*outcomes, "-o", str(out))[0] == 0
    assert list(pd.read_csv(out).columns)[:2] == ["debtor_id", "arm"], "a header, even if empty"
    assert invoke(*outcomes, "-o", str(out))[0] == 0

    log = tmp_path / "log.csv"
    log.write_text("action,reward,propensity,debtor_type,amount_owed\n")
    code, output = invoke("uplift", "fit", str(log), "-o", str(log))
    assert (code, "would overwrite the input" in output) == (2, True), output
    code, output = invoke("uplift", "fit", str(log), "-o", str(notes))
    assert (code, "not a router model written by dunning" in output) == (2, True), output


@pytest.mark.parametrize("name", ["o[old].csv", "o[/x].csv", "[bold]x[/bold].csv"])
def test_paths_are_printed_verbatim(synced: str, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    code, output = invoke(
        "assign", KEY, "-i", str(tmp_path / "debtors.csv"), "-o", str(out), "--db", synced
    )
    assert code == 0, output
    assert f"-> {out}" in output
    code, output = invoke("outcomes", KEY, "-o", str(out.with_suffix(".x.csv")), "--db", synced)
    assert code == 0, output
    assert str(out.with_suffix(".x.csv")) in output


def test_a_path_that_is_not_utf8_prints_on_a_strict_terminal(tmp_path: Path) -> None:
    """Python keeps such bytes as escapes; printing them must not raise UnicodeEncodeError."""
    name = os.fsdecode(b"schema-\xff.json")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", "schema", "-o", name],
        cwd=tmp_path,
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert b"wrote schema-\\udcff.json" in done.stdout
    assert (tmp_path / name).exists()
