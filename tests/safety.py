"""Helpers of the safety tests (operator mistakes, hostile input): run a verb as a user does and
check that a refusal changed nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from typer.testing import CliRunner

import engine.store.tables  # noqa: F401  (registers the tables)
from engine.cli import app

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``dunning ARGS``; the exit code and everything printed (stdout and stderr).

    Fails when an exception escaped the command: a user would have seen a traceback.
    """
    result = runner.invoke(app, list(args), env=env)
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not escaped, f"dunning {' '.join(args)} raised {result.exception!r}\n{result.output}"
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(str(parsed.database)) if parsed.get_backend_name() == "sqlite" else None


def snapshot(url: str) -> Any:
    """What a refused command must leave unchanged: the SQLite file's bytes (journal files
    included), or every row of every engine table on PostgreSQL."""
    path = sqlite_file(url)
    if path is not None:
        # An empty log is no content: it comes and goes with the connections.
        files = [path, *(path.with_name(path.name + s) for s in ("-wal", "-journal"))]
        return {
            f.name: hashlib.sha256(f.read_bytes()).hexdigest()
            for f in files
            if f.exists() and f.stat().st_size
        }
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: connection.execute(text(f'SELECT * FROM "{name}" ORDER BY id')).all()
                for name in sorted(SQLModel.metadata.tables)
            }
    finally:
        engine.dispose()


def settle(url: str) -> None:
    """Fold an SQLite write-ahead log into the database file, so its bytes stay put while
    nothing writes (a reader's connection may otherwise checkpoint it)."""
    path = sqlite_file(url)
    if path is None or not path.exists():
        return
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def documented_exit_codes(readme: Path) -> dict[str, set[int]]:
    """The README's exit-code table: verb -> the codes it documents (a non-empty cell)."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    start = lines.index("### Exit codes")
    table: dict[str, set[int]] = {}
    header: list[str] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            if table:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "verb":
            header = cells
        elif not set(cells[0]) <= {"-"}:
            verb = cells[0].strip("`")
            codes = zip(header[1:], cells[1:], strict=True)
            table[verb] = {int(code) for code, cell in codes if cell}
    return table
