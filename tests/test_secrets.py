"""No planted secret appears in any output of any verb: the database password (in
``DATABASE_URL``), the webhook's token (path, query and credentials of ``DUNNING_WEBHOOK_URL``),
in stdout, stderr and log lines, on success and on failure, in the demo too."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.cli import app
from engine.simulate import randomised_log
from engine.store.db import drop_schema
from tests.conftest import CHANNELS
from tests.safety import runner

DB_SECRET = "Db-Pa55-" + uuid.uuid4().hex[:8]
HOOK_SECRET = "H00k-T0ken-" + uuid.uuid4().hex[:8]
KEY = "dunning-channels"


@pytest.fixture
def secret_pg_url(pg_server_url: str) -> Iterator[str]:
    """The test database reached through a role whose password is the planted secret (the
    server may or may not check it: trust or password authentication)."""
    role = f"dunning_secret_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    # The session's database may hold what another module of this worker left: the sweep
    # starts from nothing (its first write creates the schema), as on SQLite.
    drop_schema(admin)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{DB_SECRET}'"))
    yield (
        make_url(pg_server_url)
        .set(username=role, password=DB_SECRET)
        .render_as_string(hide_password=False)
    )
    with admin.connect() as connection:
        connection.execute(text(f"REASSIGN OWNED BY {role} TO CURRENT_USER"))
        connection.execute(text(f"DROP OWNED BY {role}"))
        connection.execute(text(f"DROP ROLE {role}"))
    admin.dispose()


def dead_webhook() -> str:
    """A webhook URL full of secrets on a port nothing listens on: every delivery fails and
    is logged."""
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://hook:{HOOK_SECRET}@127.0.0.1:{port}/services/T0/{HOOK_SECRET}?t={HOOK_SECRET}"


def files(tmp_path: Path) -> dict[str, Path]:
    # Enough debtors on every arm for the analysis; one bad row in each file.
    debtors = tmp_path / "debtors.csv"
    ids = [f"d{i}" for i in range(400)]
    amounts = ["10"] * 399 + ["-1"]
    pd.DataFrame({"debtor_id": ids, "debtor_type": "WAOE", "amount_owed": amounts}).to_csv(
        debtors, index=False
    )
    events = tmp_path / "events.csv"
    pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(200)],
            "debtor_id": ids[::2],
            "kind": ["payment"] * 199 + ["paymnt"],
            "amount": "10",
            "occurred_at": "2026-03-03",
        }
    ).to_csv(events, index=False)
    log = tmp_path / "log.csv"
    target = tmp_path / "target.csv"
    rng = np.random.default_rng(3)
    actions = rng.choice(["a", "b"], size=200)
    pd.DataFrame({"action": actions, "reward": rng.integers(0, 2, 200), "propensity": 0.5}).to_csv(
        log, index=False
    )
    pd.DataFrame({"a": np.ones(200), "b": np.zeros(200)}).to_csv(target, index=False)
    uplift_log = tmp_path / "uplift.csv"
    randomised_log(2_000, rng=np.random.default_rng(1)).to_csv(uplift_log, index=False)
    return {
        "debtors": debtors,
        "events": events,
        "log": log,
        "target": target,
        "uplift": uplift_log,
        "out": tmp_path / "out",
    }


def every_verb(paths: dict[str, Path], db: str) -> list[list[str]]:
    """Each verb as an operator runs it, in an order where each finds what it needs; failures
    (bad rows, a refused rollback, a repeated demo) included."""
    out = paths["out"]
    when = ["--as-of", "2026-05-04T06:00:00"]
    demo = ["demo", "--experiment", str(CHANNELS), "--days", "2", "--per-day", "20", "--db", db]
    return [
        ["--help"],
        *[[verb, "--help"] for verb in VERBS],
        ["uplift", "fit", "--help"],
        ["validate", str(CHANNELS)],
        ["schema", "-o", str(out / "schema.json")],
        ["sync", str(CHANNELS), "--as-of", "2026-03-01"],
        ["history", KEY],
        ["list"],
        [
            "assign",
            KEY,
            "-i",
            str(paths["debtors"]),
            "-o",
            str(out / "t.csv"),
            "--as-of",
            "2026-03-02",
        ],
        ["ingest", str(paths["events"])],
        ["update", KEY, *when],
        ["promote", KEY, "--dry-run", *when],
        ["promote", KEY, *when],
        ["promote", "--all", *when],
        ["run-cycle", "--as-of", "2026-05-05T06:00:00"],
        ["rollback", KEY, "--to", "1", "--as-of", "2026-05-05T07:00:00"],
        ["rollback", KEY, "--to", "99", "--as-of", "2026-05-05T07:00:00"],
        ["schedule", "--now", "2026-05-06", "--max-cycles", "1"],
        ["report", KEY, *when],
        ["analyze", KEY, *when],
        ["outcomes", KEY, "-o", str(out / "outcomes.csv"), *when],
        ["outcomes", KEY, *when],
        ["ope", str(paths["log"]), "--target", str(paths["target"])],
        ["uplift", "fit", str(paths["uplift"]), "-o", str(out / "router.json")],
        demo,
        demo,  # refused: the database holds debtors now
        [*demo, "--reset"],
        ["list", "--db", unreachable(db)],
    ]


def unreachable(db: str) -> str:
    """The same database URL (password and all) where no database answers."""
    url = make_url(db)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{Path(str(url.database)).parent / 'missing' / 'x.sqlite3'}"
    return url.set(port=1).render_as_string(hide_password=False)


VERBS = (
    "validate", "schema", "sync", "history", "assign", "ingest", "update", "promote",
    "run-cycle", "rollback", "schedule", "report", "analyze", "outcomes", "list", "ope", "demo",
)  # fmt: skip


def sweep(db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    env = {"DATABASE_URL": db, "DUNNING_WEBHOOK_URL": dead_webhook()}
    seen = []
    for args in every_verb(files(tmp_path), db):
        caplog.clear()
        result = runner.invoke(app, args, env=env)
        escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
        assert not escaped, (args, result.exception)
        shown = result.output + caplog.text
        for secret in (DB_SECRET, HOOK_SECRET):
            assert secret not in shown, (args, shown)
        seen.append((args[0], result.exit_code, "webhook" in caplog.text))
    # The sweep exercised the failure paths it is about.
    assert ("promote", 0, True) in seen, f"a failing webhook was logged: {seen}"
    assert ("demo", 1, False) in seen, "the demo refused a database that holds debtors"
    assert seen[-1][:2] == ("list", 1), "a database error"


@pytest.mark.postgres
def test_no_secret_in_any_output_on_postgresql(
    secret_pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sweep(secret_pg_url, tmp_path, caplog)


def test_no_secret_in_any_output_on_sqlite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sweep(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, caplog)
