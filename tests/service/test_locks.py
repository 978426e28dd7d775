"""Every verb that writes allocations takes the experiment's lock: two simultaneous `update`s, or
`update` beside `run-cycle`, take turns (real processes, both databases); and run-cycle's
same-day idempotence is kept per kind of decision."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from engine import service
from engine.loader import LoadedExperiment
from engine.store import queries
from engine.store.db import transaction
from tests.test_promotion_service import KEY, READY, T0, relaxed, simulate

WHEN = READY.strftime("%Y-%m-%dT%H:%M:%S")
#: Long enough for a loaded CI machine; the processes finish in seconds once released.
DEADLINE = 120.0


def start(db_url: str, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", "from engine.cli import main; main()", *args]
    return subprocess.Popen(
        [*command, "--db", db_url, "--as-of", WHEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_until(condition: object, what: str) -> None:
    """Poll ``condition()`` until it holds (a state of the other processes, not a delay)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def blocked_on_the_lock(
    db_url: str, session: Session, processes: Sequence[subprocess.Popen[str]]
) -> bool:
    """Whether every process waits for the experiment's lock, which the test holds.

    PostgreSQL shows waiting advisory locks in ``pg_locks``. SQLite shows nothing: there the
    processes must at least have opened the database file (they then queue behind the
    test's write lock, whatever they do next).
    """
    if db_url.startswith("postgresql"):
        waiting = session.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ).scalar_one()
        return int(waiting) == len(processes)
    database = os.path.realpath(db_url.removeprefix("sqlite:///"))
    for process in processes:
        fds = Path(f"/proc/{process.pid}/fd")
        try:
            if not any(os.path.realpath(fd) == database for fd in fds.iterdir()):
                return False
        except FileNotFoundError:  # exited (it will fail the test below) or not yet there
            return process.poll() is not None
    return True


def run_together(db: Engine, db_url: str, commands: Sequence[Sequence[str]]) -> list[str]:
    """Start ``commands`` while the test holds the experiment's lock, release it once all of
    them wait for it, and return their outputs (each must exit 0 without a traceback)."""
    with transaction(db) as session:
        queries.lock_experiment(session, experiment_key=KEY)
        processes = [start(db_url, *command) for command in commands]
        wait_until(lambda: blocked_on_the_lock(db_url, session, processes), "the lock waiters")
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=DEADLINE)
        assert process.returncode == 0, err
        assert "Traceback" not in err, err
        assert "IntegrityError" not in err, err
        outputs.append(out + err)
    return outputs


@pytest.fixture
def ready(db: Engine, db_url: str, channels: LoadedExperiment) -> Engine:
    service.sync_experiment(db, relaxed(channels), now=T0)
    simulate(db, 3_000, seed=5)
    return db


def kinds(db: Engine) -> list[str]:
    with Session(db) as session:
        return [row.kind for row in queries.allocations(session, experiment_key=KEY)]


def test_two_simultaneous_updates_take_turns(ready: Engine, db_url: str) -> None:
    outputs = run_together(ready, db_url, [["update", KEY], ["update", KEY]])
    assert kinds(ready) == ["initial", "update"], "one update per day (daily cadence)"
    assert sum("unchanged" in output for output in outputs) == 1, outputs


def test_update_beside_run_cycle(ready: Engine, db_url: str) -> None:
    outputs = run_together(ready, db_url, [["update", KEY], ["run-cycle", "--json"]])
    history = kinds(ready)
    assert history.count("update") == 1, history
    assert history[0] == "initial"
    assert any('"event": "decision"' in output for output in outputs), outputs


def test_a_manual_promote_does_not_swallow_the_day_s_update(ready: Engine) -> None:
    early = READY.replace(hour=1)
    manual = service.evaluate_promotion(ready, experiment_key=KEY, now=early)
    assert manual.audit_id is not None
    assert not manual.repeated
    cycle = service.run_cycle(ready, experiment_key=KEY, now=early + timedelta(hours=5))
    assert cycle.allocation.unchanged is None, "the bandit update of the day still runs"
    assert cycle.promotion.repeated
    assert cycle.promotion.audit_id == manual.audit_id
    again = service.run_cycle(ready, experiment_key=KEY, now=early + timedelta(hours=9))
    assert again.allocation.unchanged is not None
    assert again.promotion.repeated
    assert kinds(ready).count("update") == 1
    # A manual update earlier in the day is the day's update; the cycle still decides.
    tomorrow = early + timedelta(days=1)
    service.update_allocation(ready, experiment_key=KEY, now=tomorrow)
    cycle = service.run_cycle(ready, experiment_key=KEY, now=tomorrow + timedelta(hours=5))
    assert cycle.allocation.unchanged is not None
    assert not cycle.promotion.repeated
    assert kinds(ready).count("update") == 2
