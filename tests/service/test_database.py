"""One error path for the database: every way a database URL can fail is one `database error:`
line and exit code 1, in every verb that uses the database, without a password or a traceback;
verbs that only read open the database read-only and never create it."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from engine import service
from engine.loader import load_experiment
from tests.conftest import CHANNELS
from tests.safety import invoke

SECRET = "s3cr3t-Pa55"
KEY = "dunning-channels"


def bad_urls(tmp_path: Path) -> dict[str, str]:
    """Each failure the issue measured, as a URL (with a password where a URL can carry one)."""
    regular = tmp_path / "regular-file"
    regular.write_text("not a folder")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello, not a database\n" * 100)
    return {
        "non-numeric port": f"postgresql+psycopg://u:{SECRET}@127.0.0.1:abc/x",
        "postgres:// scheme": f"postgres://u:{SECRET}@127.0.0.1/x",
        "postgresql:// without driver": f"postgresql://u:{SECRET}@127.0.0.1/x",
        "driver not installed": f"mysql://u:{SECRET}@127.0.0.1/x",
        "not a URL": f"u:{SECRET} at the db",
        "unreachable server": f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x",
        "unknown role": f"postgresql+psycopg://no_such_role_x:{SECRET}@127.0.0.1:5432/x",
        "sqlite under a regular file": f"sqlite:///{regular}/db.sqlite3",
        "sqlite file that is not a database": f"sqlite:///{text_file}",
        "sqlite path that is a folder": f"sqlite:///{tmp_path}",
    }


def verb_args(tmp_path: Path) -> dict[str, list[str]]:
    """Every verb that uses the database, with arguments that are valid but for ``--db``."""
    debtors = tmp_path / "debtors.csv"
    debtors.write_text("debtor_id\nd1\n")
    events = tmp_path / "events.csv"
    events.write_text("event_id,debtor_id,kind,occurred_at\ne1,d1,churn,2026-03-01\n")
    return {
        "sync": ["sync", str(CHANNELS)],
        "history": ["history", KEY],
        "assign": ["assign", KEY, "-i", str(debtors), "-o", str(tmp_path / "t.csv")],
        "ingest": ["ingest", str(events)],
        "update": ["update", KEY],
        "promote": ["promote", KEY],
        "promote --dry-run": ["promote", KEY, "--dry-run"],
        "promote --all": ["promote", "--all"],
        "run-cycle": ["run-cycle"],
        "rollback": ["rollback", KEY, "--to", "1"],
        "schedule": ["schedule", "--max-cycles", "1", "--now", "2026-03-01"],
        "report": ["report", KEY],
        "analyze": ["analyze", KEY],
        "outcomes": ["outcomes", KEY],
        "list": ["list"],
        "demo": ["demo", "--experiment", str(CHANNELS), "--days", "1", "--per-day", "5"],
    }


@pytest.mark.postgres
def test_every_bad_url_is_one_database_error_line_in_every_verb(tmp_path: Path) -> None:
    urls = bad_urls(tmp_path)
    verbs = verb_args(tmp_path)
    for problem, url in urls.items():
        for verb, args in verbs.items():
            code, output = invoke(*args, "--db", url)
            where = f"{verb} with {problem}: {output}"
            assert code == 1, where
            lines = [line for line in output.splitlines() if line.strip()]
            assert len(lines) == 1, where
            assert lines[0].startswith("database error: "), where
            assert SECRET not in output, where
    assert not (tmp_path / "t.csv").exists()


def test_messages_say_what_to_fix(tmp_path: Path) -> None:
    urls = bad_urls(tmp_path)
    expected = {
        "non-numeric port": "the port is not a number",
        "postgres:// scheme": "use postgresql+psycopg://",
        "postgresql:// without driver": "use postgresql+psycopg://",
        "driver not installed": "unsupported database scheme 'mysql://'",
        "not a URL": "does not parse; expected sqlite:///PATH or postgresql+psycopg://",
        "sqlite under a regular file": "regular-file is a file, not a folder",
        "sqlite file that is not a database": "notes.txt is not an SQLite database",
        "sqlite path that is a folder": "is a folder, not an SQLite database file",
    }
    for problem, message in expected.items():
        code, output = invoke("sync", str(CHANNELS), "--db", urls[problem])
        assert (code, message in output, SECRET in output) == (1, True, False), (problem, output)


def test_a_verb_that_only_reads_never_creates_the_database(tmp_path: Path) -> None:
    missing = tmp_path / "var" / "typo.sqlite3"
    for args in (["list"], ["report", KEY], ["analyze", KEY], ["history", KEY]):
        code, output = invoke(*args, "--db", f"sqlite:///{missing}")
        assert code == 1, output
        assert f"database error: the database sqlite:///{missing} does not exist" in output
    assert not missing.parent.exists()
    (tmp_path / "var").mkdir()
    code, output = invoke("list", "--db", f"sqlite:///{missing}")
    assert "(`dunning sync`, `dunning demo`) creates it" in output
    assert not missing.exists()


def test_verbs_that_only_read_leave_a_rollback_journal_file_byte_identical(
    tmp_path: Path,
) -> None:
    """The dashboard and the read verbs open SQLite with mode=ro: the writers' pragmas (WAL)
    never run, so a database kept in rollback-journal mode is not rewritten."""
    path = tmp_path / "db.sqlite3"
    url = f"sqlite:///{path}"
    engine = service.open_db(url)
    service.sync_experiment(engine, load_experiment(CHANNELS), now=service.utc_now())
    engine.dispose()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for args in (["list"], ["history", KEY], ["report", KEY], ["outcomes", KEY]):
        code, output = invoke(*args, "--db", url)
        assert code == 0, output
    engine = service.connect_db(url)
    assert [e.key for e in service.list_experiments(engine)] == [KEY]
    engine.dispose()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not Path(f"{path}-wal").exists()


def test_a_read_only_engine_refuses_to_write(db_url: str) -> None:
    service.open_db(db_url).dispose()
    engine = service.connect_db(db_url)
    with pytest.raises(service.StorageError), engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM experiment_version")
    engine.dispose()


def test_redaction() -> None:
    url = f"postgresql+psycopg://dunning:{SECRET}@db.example.org:5432/dunning"
    assert (
        service.display_url(url) == "postgresql+psycopg://dunning:***@db.example.org:5432/dunning"
    )
    assert SECRET not in service.display_url(f"not://a url:{SECRET}@x")
    text = f"failed for {url}; dsn password={SECRET} host=x"
    assert SECRET not in service.redact(text)
    assert SECRET not in service.redact(f"odd {SECRET.upper()} {SECRET}", url).replace(
        SECRET.upper(), ""
    )
    encoded = "postgresql+psycopg://u:p%40ss@h/x"
    assert "p@ss" not in service.redact("the password p@ss was refused", encoded)
