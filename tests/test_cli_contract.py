"""The CLI contract: every verb, as a user types it, with its exit code and the phrase it must
print, in order on one database (SQLite and PostgreSQL); no traceback for any of them. Plus the
conventions every verb shares: --json, --help without type noise, read-only verbs that create
nothing, DATABASE_URL for the demo too."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from engine import service
from engine.cli import app
from tests.conftest import CHANNELS
from tests.test_crosscheck import EIGHT_MISTAKES

runner = CliRunner()
KEY = "dunning-channels"

#: (command line after ``dunning``, exit code, phrase in the output), run in order on one
#: database. Placeholders: KEY the experiment, {db} the database URL, {shown} it with the
#: password hidden, and the files of the ``files`` fixture.
CONTRACT: list[tuple[str, int, str]] = [
    ("--version", 0, "dunning "),
    ("validate {exp}", 0, "ok"),
    ("validate {exp} --json", 0, '"valid": true'),
    ("validate {eight}", 2, "8 problem(s); nothing was changed"),
    ("validate {eight}", 2, "did you mean 'sms'?"),
    ("validate {eight}", 2, "write 0.10 for 10%"),
    ("validate {eight}", 2, "exactly one arm must have champion: true"),
    ("validate {eight} --json", 2, '"field": "arms.4.key"'),
    ("validate {tmp}/missing.yaml", 2, "cannot read"),
    ("schema --json", 0, '"$schema"'),
    ("sync {exp} --db {db} --as-of 2026-01-01T06:00:00Z", 0, "v1 (new version"),
    ("sync {exp} --db {db} --json", 0, '"created": false'),
    ("sync {exp} --db {db} --as-of 2025-12-31", 0, "unchanged"),
    ("list --db {db}", 0, "running"),
    ("list --db {db} --json", 0, '"experiment": "dunning-channels"'),
    ("history KEY --db {db} --json", 0, '"versions"'),
    ("history dunning-chanels --db {db}", 2, "did you mean 'dunning-channels'?"),
    ("report nope --db {db}", 2, "is not in the database {shown}"),
    (
        "assign KEY -i {debtors} -o {out} --db {db} --as-of 2026-01-02T06:00:00Z",
        0,
        "400 newly assigned",
    ),
    (
        "assign KEY -i {debtors} -o {out} --db {db} --as-of 2026-01-01",
        1,
        "its history only moves forward",
    ),
    (
        "assign KEY -i {debtors} -o {out} --db {db} --as-of 2026-01-02T07:00:00+01:00 --json",
        0,
        '"kept": 400',
    ),
    (
        "assign KEY -i {debtors} -o {out} --db {db} --as-of 2026-13-01",
        2,
        "is not an ISO 8601 date or time",
    ),
    ("ingest {events} --db {db} --as-of 2026-01-04T00:00:00+01:00", 0, "100 new"),
    ("ingest {events} --db {db} --as-of 2026-01-04 --json", 0, '"duplicates": 100'),
    ("ingest {events} --db {db} --as-of 2026-01-01", 1, "events were already ingested"),
    ("update KEY --db {db} --as-of 2026-01-20 --seed 3", 0, "allocation v2"),
    ("update KEY --db {db} --as-of 2026-01-20 --json", 0, '"changed": false'),
    ("promote KEY --db {db} --as-of 2026-01-20 --dry-run --json", 0, '"dry_run": true'),
    ("promote KEY --db {db} --as-of 2026-01-19 --dry-run", 1, "only moves forward"),
    ("promote KEY --db {db} --as-of 2026-01-20", 0, "continue (too_early)"),
    ("promote --db {db}", 2, "give an experiment KEY or --all"),
    ("run-cycle --db {db} --as-of 2026-01-20T12:00:00Z", 0, "already decided today"),
    ("run-cycle --db {db} --as-of 2026-01-21 --json", 0, '"event": "decision"'),
    ("rollback KEY --to 1 --db {db} --as-of 2026-01-21 --json", 0, '"action": "rollback"'),
    ("rollback KEY --to 99 --db {db} --as-of 2026-01-21", 1, "has no allocation v99"),
    ("pause KEY --db {db} --as-of 2026-01-22 --note freeze --by ana", 0, "running -> paused"),
    ("pause KEY --db {db} --as-of 2026-01-22", 0, "already paused; nothing written"),
    ("list --db {db} --json", 0, '"status": "paused"'),
    ("update KEY --db {db} --as-of 2026-01-22", 1, "is paused, so it does not update"),
    ("promote KEY --db {db} --as-of 2026-01-22", 1, "resume it with `dunning resume"),
    ("run-cycle --db {db} --as-of 2026-01-22", 0, "skipped (paused)"),
    (
        "assign KEY -i {newcomers} -o {out} --db {db} --as-of 2026-01-22 --json",
        0,
        '"ineligible": 50',
    ),
    ("report KEY --db {db} --as-of 2026-01-22", 0, "paused by ana (dunning pause): freeze"),
    ("resume KEY --db {db} --as-of 2026-01-23 --json", 0, '"status": "running"'),
    ("stop KEY --db {db} --as-of 2026-01-24 --by ops", 0, "running -> stopped"),
    ("resume KEY --db {db} --as-of 2026-01-25", 1, "a stopped experiment stays stopped"),
    ("resume nope --db {db}", 2, "is not in the database"),
    ("outcomes KEY --db {db} --limit 3", 0, "0.2500"),
    ("outcomes KEY --db {db} --json -d d0", 0, '"debtor_id": "d0"'),
    ("analyze KEY --db {db} --json", 0, '"definition"'),
    ("analyze KEY --db {db} --as-of yesterday", 2, "is not an ISO 8601"),
    ("sync {exp7} --db {db} --as-of 2026-01-26", 1, "refusing change(s)"),
    ("sync {exp7} --db {db} --as-of 2026-01-26 --force --json", 0, '"new_definition": true'),
    ("report KEY --db {db} --as-of 2026-01-26", 0, "not pooled"),
    ("history KEY --db {db}", 0, "forced:"),
    ("schedule --db {db} --now 2026-02-01 --max-cycles 1 --json", 0, '"event": "stopped"'),
    ("demo --db {db} --days 1 --per-day 5", 1, "already holds debtors"),
    ("ope {tmp}/missing.csv --target {tmp}/missing.csv", 2, "missing.csv"),
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    exp = tmp_path / "channels.yaml"
    exp.write_text(CHANNELS.read_text())
    exp7 = tmp_path / "channels7.yaml"
    exp7.write_text(CHANNELS.read_text().replace("pay_window_days: 14 ", "pay_window_days: 7 "))
    eight = tmp_path / "eight.yaml"
    eight.write_text(EIGHT_MISTAKES)
    debtors = tmp_path / "debtors.csv"
    ids = [f"d{i}" for i in range(400)]
    pd.DataFrame({"debtor_id": ids, "debtor_type": "WAOR", "amount_owed": 50.0}).to_csv(
        debtors, index=False
    )
    newcomers = tmp_path / "newcomers.csv"
    pd.DataFrame(
        {"debtor_id": [f"n{i}" for i in range(50)], "debtor_type": "WAOR", "amount_owed": 50.0}
    ).to_csv(newcomers, index=False)
    events = tmp_path / "events.csv"
    pd.DataFrame(
        {
            "event_id": [f"pay-{i}" for i in range(100)],
            "debtor_id": ids[:100],
            "kind": "payment",
            "amount": 50.0,
            "occurred_at": "2026-01-03T10:00:00Z",
        }
    ).to_csv(events, index=False)
    return {
        "exp": str(exp),
        "exp7": str(exp7),
        "eight": str(eight),
        "debtors": str(debtors),
        "newcomers": str(newcomers),
        "events": str(events),
        "out": str(tmp_path / "treatments.csv"),
        "tmp": str(tmp_path),
    }


def invoke(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(argv), env=env)
    output = result.output
    assert "Traceback" not in output, output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, output


def test_every_verb_keeps_its_contract(db_url: str, files: dict[str, str]) -> None:
    values = {**files, "db": db_url, "shown": service.display_url(db_url)}
    for line, code, phrase in CONTRACT:
        args = [word.format(**values) for word in shlex.split(line.replace("KEY", KEY))]
        got, output = invoke(*args)
        assert (got, phrase.format(**values) in output) == (code, True), (
            f"dunning {line}\nexit {got} (expected {code}), output:\n{output}"
        )


def _verbs() -> list[list[str]]:
    names = [c.name or c.callback.__name__ for c in app.registered_commands if c.callback]
    return [[name] for name in names] + [["uplift", "fit"]]


@pytest.mark.parametrize("verb", _verbs(), ids=" ".join)
def test_every_verb_has_clean_help_exit_codes_and_json(verb: list[str]) -> None:
    code, output = invoke(*verb, "--help")
    assert code == 0
    assert "<bool>" not in output, "a flag takes no value: no type in its help"
    assert "Exit codes" in output
    if verb != ["report"]:  # issue 10 gives `report` its JSON
        assert "--json" in output


def _help_at(columns: int) -> str:
    """``dunning sync --help`` in a real process (the test runner forces 80 columns)."""
    done = subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", "sync", "--help"],
        env={**os.environ, "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_help_wraps_to_the_terminal_width() -> None:
    wide, narrow = _help_at(200), _help_at(60)
    assert max(map(len, wide.splitlines())) > 100
    assert max(map(len, narrow.splitlines())) <= 60
    assert "default: sqlite:///var/dunning.sqlite3]" in " ".join(narrow.split()), "not cut"


@pytest.mark.parametrize(
    "argv",
    [
        ("list",),
        ("history", KEY),
        ("report", KEY),
        ("outcomes", KEY),
        ("analyze", KEY),
        ("promote", KEY, "--dry-run"),
    ],
    ids=lambda argv: argv[0],
)
def test_read_only_verbs_create_no_database(tmp_path: Path, argv: tuple[str, ...]) -> None:
    target = tmp_path / "no" / "such" / "dir" / "x.sqlite3"
    code, output = invoke(*argv, "--db", f"sqlite:///{target}")
    assert code == 1
    assert f"the database sqlite:///{target} does not exist" in " ".join(output.split())
    assert not (tmp_path / "no").exists(), "neither the file nor its folder"


def test_a_read_only_verb_names_an_empty_database(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    code, output = invoke("list", "--db", f"sqlite:///{empty}")
    assert code == 1
    assert "holds no dunning tables yet" in output


def test_the_demo_honours_database_url(tmp_path: Path) -> None:
    target = tmp_path / "demo-from-env.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{target}"}
    result = runner.invoke(app, ["demo", "--days", "2", "--per-day", "20", "--json"], env=env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # the progress went to stderr
    assert payload["database"] == f"sqlite:///{target}"
    assert payload["debtors"] == 40
    assert target.exists()


def test_after_the_demo_a_report_on_the_default_database_points_at_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "demo.sqlite3").touch()  # what `make demo` leaves behind
    result = runner.invoke(app, ["report", KEY], env={"DATABASE_URL": None})
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "the database sqlite:///var/dunning.sqlite3 does not exist" in message
    assert "hint: `make demo` writes sqlite:///var/demo.sqlite3: pass --db" in message
    assert not (tmp_path / "var" / "dunning.sqlite3").exists(), "reading creates nothing"
