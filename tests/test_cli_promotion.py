"""The promotion verbs end to end: promote --all/--json, run-cycle's isolation and log lines,
rollback, the webhook (a local HTTP server) and the long-lived schedule."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from engine import service
from engine.loader import LoadedExperiment, parse_experiment
from tests.test_cli import run
from tests.test_promotion_service import KEY, READY, T0, relaxed, simulate


@pytest.fixture
def ready(db_url: str, channels: LoadedExperiment) -> Iterator[str]:
    """A database where discount_nudge wins at READY."""
    engine = service.open_db(db_url)
    service.sync_experiment(engine, relaxed(channels), now=T0)
    simulate(engine, 6_000, seed=21)
    engine.dispose()
    return db_url


class Receiver:
    """A local HTTP server collecting the JSON bodies posted to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_promote_json_and_webhook(ready: str, receiver: Receiver) -> None:
    when = READY.strftime("%Y-%m-%dT%H:%M:%S")
    code, output = run("promote", KEY, "--db", ready, "--as-of", when, "--dry-run", "--json")
    assert code == 0
    assert json.loads(output)["dry_run"] is True
    assert receiver.received == [], "a dry run is not a decision"
    code, output = run(
        "promote", KEY, "--db", ready, "--as-of", when, "--json", "--webhook", receiver.url
    )
    assert code == 0, output
    line = json.loads(output)
    assert (line["action"], line["champion_after"], line["allocation_version"]) == (
        "promote",
        "discount_nudge",
        2,
    )
    [body] = receiver.received
    assert body == line
    assert body["numbers"]["difference"]["discount_nudge"]["always_valid_low"] > 0
    # A repeat the same day is neither a new decision nor a new notification.
    code, output = run("promote", KEY, "--db", ready, "--as-of", when, "--webhook", receiver.url)
    assert "already decided today" in output
    assert len(receiver.received) == 1


def test_a_failing_webhook_never_fails_the_job(
    ready: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead = Receiver()
    url = dead.url
    dead.close()  # nothing listens on the port any more
    code, output = run(
        "promote",
        "--all",
        "--db",
        ready,
        "--as-of",
        READY.strftime("%Y-%m-%dT%H:%M:%S"),
        "--webhook",
        url,
    )
    assert code == 0, output
    assert "promote (promote)" in output
    assert any("webhook" in r.message and "failed" in r.message for r in caplog.records)


def test_promote_needs_a_key_or_all(db_url: str) -> None:
    assert run("promote", "--db", db_url)[0] == 2
    assert run("promote", KEY, "--all", "--db", db_url)[0] == 2
    assert run("promote", "nope", "--db", db_url)[0] == 2


def test_run_cycle_isolates_failures(
    ready: str, channels: LoadedExperiment, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = channels.source.replace("key: dunning-channels", "key: other-channels")
    engine = service.open_db(ready)
    service.sync_experiment(
        engine,
        LoadedExperiment(Path("o.yaml"), parse_experiment(other, file="o.yaml"), other),
        now=T0,
    )
    engine.dispose()
    real = service.run_cycle

    def flaky(db: Engine, *, experiment_key: str, **kwargs: Any) -> service.CycleResult:
        if experiment_key == "other-channels":
            raise RuntimeError("disk on fire")
        return real(db, experiment_key=experiment_key, **kwargs)

    monkeypatch.setattr(service, "run_cycle", flaky)
    when = READY.strftime("%Y-%m-%dT%H:%M:%S")
    code, output = run("run-cycle", "--db", ready, "--as-of", when, "--json")
    assert code == 1, "a failed experiment is reported in the exit code"
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    by_key = {line["experiment"]: line for line in lines}
    assert by_key["other-channels"]["error"] == "disk on fire"
    assert by_key[KEY]["action"] == "promote", "the other experiment still ran"
    assert "Exit codes" in run("run-cycle", "--help")[1]


def test_scheduled_jobs_skip_experiments_that_are_not_running(
    ready: str, channels: LoadedExperiment
) -> None:
    paused = channels.source.replace("key: dunning-channels", "key: paused-channels").replace(
        "status: running ", "status: paused "
    )
    engine = service.open_db(ready)
    service.sync_experiment(
        engine,
        LoadedExperiment(Path("p.yaml"), parse_experiment(paused, file="p.yaml"), paused),
        now=T0,
    )
    engine.dispose()
    as_of = READY.strftime("%Y-%m-%dT%H:%M:%S")
    code, output = run("run-cycle", "--db", ready, "--as-of", as_of)
    assert code == 0
    assert "paused-channels: skipped (paused)" in output
    code, output = run("run-cycle", "--db", ready, "--as-of", as_of, "--json")
    assert code == 0
    lines = {
        json.loads(x)["experiment"]: json.loads(x) for x in output.splitlines() if x[:1] == "{"
    }
    assert lines["paused-channels"] == {
        "event": "skipped",
        "level": "info",
        "experiment": "paused-channels",
        "status": "paused",
    }
    assert lines[KEY]["action"] == "promote"
    assert lines[KEY]["repeated"] is True, "the text run above decided the day already"
    code, output = run("promote", "--all", "--db", ready, "--as-of", as_of, "--dry-run", "--json")
    assert code == 0
    assert "paused-channels" not in output


def test_rollback_verb(ready: str) -> None:
    when = READY.strftime("%Y-%m-%dT%H:%M:%S")
    assert run("promote", KEY, "--db", ready, "--as-of", when)[0] == 0
    code, output = run("rollback", KEY, "--to", "1", "--db", ready, "--as-of", when, "--note", "x")
    assert code == 0, output
    assert "allocation v3 restores v1 (champion discount_nudge -> friendly_sms" in output
    code, output = run("rollback", KEY, "--to", "3", "--db", ready)
    assert code == 1
    assert "already in force" in output


def test_schedule_fires_on_the_cron_expression(ready: str) -> None:
    start = (T0 + timedelta(days=60)).strftime("%Y-%m-%d")
    code, output = run("schedule", "--db", ready, "--now", start, "--max-cycles", "3", "--json")
    assert code == 0, output
    lines = [json.loads(line) for line in output.splitlines()]
    decisions = [line for line in lines if line["event"] == "decision"]
    fired = [line["fired"] for line in decisions]
    day = T0 + timedelta(days=60)
    assert fired == [
        (day + timedelta(days=i)).replace(hour=6, minute=0).isoformat() for i in range(3)
    ], "06:00 UTC each day (promotion.schedule of the file)"
    assert [d["action"] for d in decisions] == ["promote", "continue", "continue"], decisions
    assert lines[-1] == {"event": "stopped", "level": "info", "cycles": 3}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_schedule_stops_cleanly_on_a_signal(ready: str, sig: int) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from engine.cli import main; main()",
            "schedule",
            "--db",
            ready,
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        # Signal only once it says the handlers are in place; a fixed sleep races slow imports.
        assert json.loads(process.stdout.readline())["event"] == "started"
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:  # a failed assertion must not leave a scheduler running
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["event"] == "stopped"


def test_simulated_schedule_without_experiments_ends(db_url: str) -> None:
    code, output = run("schedule", "--db", db_url, "--now", "2026-01-01", "--max-cycles", "2")
    assert code == 0
    assert output.splitlines()[-1] == "schedule stopped after 0 cycle(s)"
    code, output = run(
        "schedule", "--db", db_url, "--now", "2026-01-01", "--max-cycles", "2", "--json"
    )
    assert json.loads(output.splitlines()[-1]) == {"event": "stopped", "level": "info", "cycles": 0}
