"""The README's exit-code table covers every verb, and each documented code of each verb is
what the verb returns in a scenario that calls for it. A new verb is a README row and its
scenarios in SCENARIOS (e.g. ``("pause", 0): lambda w: ["pause", KEY]``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer.main

from engine.cli import app
from engine.simulate import randomised_log
from tests.conftest import CHANNELS, ROOT
from tests.safety import documented_exit_codes, invoke

KEY = "dunning-channels"
EXIT_CODES = documented_exit_codes(ROOT / "README.md")
LATER = ["--as-of", "2026-05-04T06:00:00"]
#: After run-cycle's decision (the clock only moves forward).
AFTER_CYCLE = ["--as-of", "2026-05-05T07:00:00"]
#: After every other scenario's time.
STATUS_TIME = ["--as-of", "2026-05-07T06:00:00"]


@dataclass(frozen=True)
class World:
    """Files and databases the scenarios use."""

    folder: Path
    db: str  # the experiment synced, 400 debtors assigned, their payments ingested
    broken_db: str  # an SQLite path under a regular file: every verb's database error

    def file(self, name: str) -> str:
        return str(self.folder / name)


def _world_files(folder: Path) -> None:
    (folder / "bad.yaml").write_text("key: [unclosed\n")
    ids = [f"d{i}" for i in range(400)]
    pd.DataFrame({"debtor_id": ids, "debtor_type": "WAOE", "amount_owed": "10"}).to_csv(
        folder / "debtors.csv", index=False
    )
    (folder / "partial.csv").write_text("debtor_id,amount_owed\nn1,10\nn2,-1\n")
    (folder / "nocolumn.csv").write_text("id,amount_owed\nn1,10\n")
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(200)],
            "debtor_id": ids[::2],
            "kind": "payment",
            "amount": "10",
            "occurred_at": "2026-03-03",
        }
    )
    events.to_csv(folder / "events.csv", index=False)
    (folder / "events_partial.csv").write_text(
        "event_id,debtor_id,kind,occurred_at\nx1,d1,churn,2026-03-04\nx2,d1,oops,2026-03-04\n"
    )
    (folder / "notes.json").write_text('{"mine": true}\n')
    (folder / "tenure.csv").write_text("customer_id,recency,T,cohort\nc1,13,12,a\n")
    log = randomised_log(2_000, rng=np.random.default_rng(1))
    log.to_csv(folder / "log.csv", index=False)
    arms = sorted(set(log["action"]))
    pd.DataFrame({a: np.full(len(log), 1 / len(arms)) for a in arms}).to_csv(
        folder / "target.csv", index=False
    )
    (folder / "badtarget.csv").write_text(",".join(arms) + "\n" + ",".join(["2"] * len(arms)))
    (folder / "badlog.csv").write_text("action,reward,propensity,debtor_type,amount_owed\n")
    (folder / "regular").write_text("a file, not a folder")


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> World:
    _world_files(tmp_path)
    w = World(tmp_path, db_url, f"sqlite:///{tmp_path / 'regular' / 'x.sqlite3'}")
    for args in (
        ["sync", str(CHANNELS), "--as-of", "2026-03-01"],  # writes only move forward
        [
            "assign",
            KEY,
            "-i",
            w.file("debtors.csv"),
            "-o",
            w.file("t.csv"),
            "--as-of",
            "2026-03-02",
        ],
        ["ingest", w.file("events.csv")],
    ):
        assert invoke(*args, "--db", db_url)[0] == 0
    return w


Scenario = Callable[[World], list[str]]


def db(w: World) -> list[str]:
    return ["--db", w.db]


def broken(w: World) -> list[str]:
    return ["--db", w.broken_db]


def assign(w: World, debtors: str) -> list[str]:
    # Dated before the later scenarios: an experiment's history only moves forward.
    return ["assign", KEY, "-i", w.file(debtors), "-o", w.file("t.csv"), "--as-of", "2026-03-03"]


def demo(experiment: Path) -> list[str]:
    return ["demo", "--experiment", str(experiment), "--days", "2", "--per-day", "20"]


#: (verb, exit code) -> the arguments that call for it, run in this order on one database.
SCENARIOS: dict[tuple[str, int], Scenario] = {
    ("validate", 0): lambda w: ["validate", str(CHANNELS)],
    ("validate", 2): lambda w: ["validate", w.file("bad.yaml")],
    ("schema", 0): lambda w: ["schema", "-o", w.file("schema.json")],
    ("schema", 1): lambda w: ["schema", "-o", w.file("full/schema.json")],
    ("schema", 2): lambda w: ["schema", "-o", w.file("notes.json")],
    ("sync", 0): lambda w: ["sync", str(CHANNELS), *db(w)],
    ("sync", 1): lambda w: ["sync", str(CHANNELS), *broken(w)],
    ("sync", 2): lambda w: ["sync", w.file("bad.yaml"), *db(w)],
    ("history", 0): lambda w: ["history", KEY, *db(w)],
    ("history", 1): lambda w: ["history", KEY, *broken(w)],
    ("history", 2): lambda w: ["history", "nope", *db(w)],
    ("assign", 0): lambda w: [*assign(w, "debtors.csv"), *db(w)],
    ("assign", 1): lambda w: [*assign(w, "debtors.csv"), *broken(w)],
    ("assign", 2): lambda w: [*assign(w, "nocolumn.csv"), *db(w)],
    ("assign", 3): lambda w: [*assign(w, "partial.csv"), *db(w)],
    ("db current", 0): lambda w: ["db", "current", *db(w)],
    ("db current", 1): lambda w: ["db", "current", *broken(w)],
    ("db upgrade", 0): lambda w: ["db", "upgrade", *db(w)],
    ("db upgrade", 1): lambda w: ["db", "upgrade", *broken(w)],
    ("ingest", 0): lambda w: ["ingest", w.file("events.csv"), *db(w)],
    ("ingest", 1): lambda w: ["ingest", w.file("events.csv"), *broken(w)],
    ("ingest", 2): lambda w: ["ingest", w.file("events_partial.csv"), "--strict", *db(w)],
    ("ingest", 3): lambda w: ["ingest", w.file("events_partial.csv"), *db(w)],
    ("update", 0): lambda w: ["update", KEY, *LATER, *db(w)],
    ("update", 1): lambda w: ["update", KEY, *broken(w)],
    ("update", 2): lambda w: ["update", "nope", *db(w)],
    ("promote", 0): lambda w: ["promote", KEY, *LATER, *db(w)],
    ("promote", 1): lambda w: ["promote", "--all", *broken(w)],
    ("promote", 2): lambda w: ["promote", *db(w)],
    ("run-cycle", 0): lambda w: ["run-cycle", "--as-of", "2026-05-05T06:00:00", *db(w)],
    ("run-cycle", 1): lambda w: ["run-cycle", *broken(w)],
    ("run-cycle", 2): lambda w: ["run-cycle", "--as-of", "yesterday", *db(w)],
    ("rollback", 0): lambda w: ["rollback", KEY, "--to", "1", *AFTER_CYCLE, *db(w)],
    ("rollback", 1): lambda w: ["rollback", KEY, "--to", "99", *db(w)],
    ("rollback", 2): lambda w: ["rollback", "nope", "--to", "1", *db(w)],
    ("schedule", 0): lambda w: ["schedule", "--now", "2026-05-06", "--max-cycles", "1", *db(w)],
    ("schedule", 1): lambda w: ["schedule", "--max-cycles", "1", *broken(w)],
    ("schedule", 2): lambda w: ["schedule", "--max-cycles", "many", *db(w)],
    ("report", 0): lambda w: ["report", KEY, *LATER, *db(w)],
    ("report", 1): lambda w: ["report", KEY, *broken(w)],
    ("report", 2): lambda w: ["report", "nope", *db(w)],
    ("analyze", 0): lambda w: ["analyze", KEY, *LATER, *db(w)],
    ("analyze", 1): lambda w: ["analyze", KEY, *broken(w)],
    ("analyze", 2): lambda w: ["analyze", KEY, "--tenure", w.file("tenure.csv"), *db(w)],
    ("outcomes", 0): lambda w: ["outcomes", KEY, "-o", w.file("outcomes.csv"), *db(w)],
    ("outcomes", 1): lambda w: ["outcomes", KEY, "-o", w.file("full/outcomes.csv"), *db(w)],
    ("outcomes", 2): lambda w: ["outcomes", KEY, "-o", w.file("debtors.csv"), *db(w)],
    ("list", 0): lambda w: ["list", *db(w)],
    ("list", 1): lambda w: ["list", *broken(w)],
    ("list", 2): lambda w: ["list", "--nope", *db(w)],
    ("ope", 0): lambda w: ["ope", w.file("log.csv"), "--target", w.file("target.csv")],
    ("ope", 2): lambda w: ["ope", w.file("log.csv"), "--target", w.file("badtarget.csv")],
    ("uplift fit", 0): lambda w: ["uplift", "fit", w.file("log.csv"), "-o", w.file("r.json")],
    ("uplift fit", 1): lambda w: ["uplift", "fit", w.file("log.csv"), "-o", w.file("full/m.json")],
    ("uplift fit", 2): lambda w: ["uplift", "fit", w.file("badlog.csv"), "-o", w.file("r.json")],
    ("demo", 0): lambda w: [*demo(CHANNELS), "--db", f"sqlite:///{w.folder / 'demo.sqlite3'}"],
    ("demo", 1): lambda w: [*demo(CHANNELS), *db(w)],  # the database holds debtors already
    ("demo", 2): lambda w: ["demo", "--experiment", w.file("bad.yaml"), *db(w)],
    ("pause", 0): lambda w: ["pause", KEY, *STATUS_TIME, *db(w)],
    ("pause", 1): lambda w: ["pause", KEY, *broken(w)],
    ("pause", 2): lambda w: ["pause", "nope", *db(w)],
    ("resume", 0): lambda w: ["resume", KEY, *STATUS_TIME, *db(w)],
    ("resume", 1): lambda w: ["resume", KEY, *broken(w)],
    ("resume", 2): lambda w: ["resume", "nope", *db(w)],
    ("stop", 0): lambda w: ["stop", KEY, *STATUS_TIME, *db(w)],
    ("stop", 1): lambda w: ["stop", KEY, *broken(w)],
    ("stop", 2): lambda w: ["stop", "nope", *db(w)],
}  # fmt: skip


def app_verbs() -> set[str]:
    def walk(command: object, prefix: str = "") -> Iterator[str]:
        for name, sub in command.commands.items():  # type: ignore[attr-defined]
            if hasattr(sub, "commands"):
                yield from walk(sub, f"{prefix}{name} ")
            else:
                yield prefix + name

    return set(walk(typer.main.get_command(app)))


def test_the_table_covers_every_verb() -> None:
    assert set(EXIT_CODES) == app_verbs()
    documented = {(verb, code) for verb, codes in EXIT_CODES.items() for code in codes}
    assert set(SCENARIOS) == documented, "a scenario for each documented code, nothing else"


def test_each_verb_returns_its_documented_codes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = world.folder / "full"
    real_mkstemp = __import__("tempfile").mkstemp

    def disk_full(*args: object, **kwargs: object) -> tuple[int, str]:
        # Only the files under full/ are on a disk that is full: "could not be written".
        if Path(str(kwargs.get("dir", ""))).resolve() == full.resolve():
            raise OSError(28, "No space left on device")
        return real_mkstemp(*args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr("engine.batchio.outputs.tempfile.mkstemp", disk_full)
    for (_, code), scenario in SCENARIOS.items():
        args = scenario(world)
        got, output = invoke(*args)
        assert got == code, f"dunning {' '.join(args)}: exit {got}, documented {code}\n{output}"
