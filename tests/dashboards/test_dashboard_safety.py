"""The dashboard reads and never writes (SQLite opened with mode=ro: the file's bytes stay the
same), reports a bad database as one `database error:` line without its password, and listens
on 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import sqlite3
import tomllib
from pathlib import Path

import pytest

from engine import service
from tests.test_dashboard import PAGES, REPO, _run
from tests.test_dashboard import demo_db as demo_db  # the fixture: a small demo database


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_page_leaves_a_rollback_journal_database_byte_identical(
    demo_db: tuple[str, service.ExperimentReport],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "journal.sqlite3"
    url = f"sqlite:///{path}"
    source = sqlite3.connect(demo_db[0].removeprefix("sqlite:///"))
    connection = sqlite3.connect(path)
    source.backup(connection)
    source.close()
    assert connection.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    connection.close()
    before = digest(path)
    for page in PAGES:
        at = _run(url, monkeypatch, page=page)
        assert not at.exception, page
        assert not at.error, page
    assert digest(path) == before
    assert not Path(f"{path}-wal").exists(), "the journal mode was not switched to WAL"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://u:Pa55word@127.0.0.1/x", "use postgresql+psycopg://"),
        ("postgresql+psycopg://u:Pa55word@127.0.0.1:1/x", "connection"),
        ("u:Pa55word and garbage", "does not parse"),
    ],
)
def test_a_bad_database_is_one_error_without_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    for page in PAGES:
        at = _run(url, monkeypatch, page=page)
        assert not at.exception, page
        [error] = at.error
        assert error.value.startswith("database error: ")
        assert message in error.value
        shown = " ".join(str(e.value) for e in [*at.error, *at.caption, *at.markdown])
        assert "Pa55word" not in shown


def test_the_dashboard_listens_on_this_machine_only() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    readme = (REPO / "README.md").read_text()
    assert "st.login()" in readme
    assert "reverse proxy" in readme
