"""Progress of long verbs (engine.progress): JSON lines on a pipe, a bar on a terminal, always
on stderr, and the analysis reports its steps through it."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.progress import progress

runner = CliRunner()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_pipe_gets_the_latest_state_every_interval_while_a_step_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUNNING_PROGRESS_INTERVAL", "0.05")
    out = io.StringIO()
    with progress("ingest", stream=out) as shown:
        shown.update(done=0.25, rows=250, status="writing")
        time.sleep(0.4)  # one long step without an update: the heartbeat still reports
    written = out.getvalue()
    lines = _lines(written)
    assert len(lines) >= 3, written
    assert {line["progress"] for line in lines} == {"ingest"}
    assert lines[-1]["done"] == 0.25
    assert lines[-1]["rows"] == 250
    assert lines[-1]["status"] == "writing"
    elapsed = [float(str(line["elapsed_s"])) for line in lines]
    assert elapsed == sorted(elapsed)
    time.sleep(0.2)
    assert out.getvalue() == written, "nothing is printed once the work has ended"


def test_nothing_is_printed_before_the_first_update_or_within_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUNNING_PROGRESS_INTERVAL", "0.05")
    out = io.StringIO()
    with progress("assign", stream=out):
        time.sleep(0.2)
    assert out.getvalue() == ""
    monkeypatch.setenv("DUNNING_PROGRESS_INTERVAL", "10")
    with progress("assign", stream=out) as shown:
        shown.update(done=1.0, rows=10)
    assert out.getvalue() == "", "a run shorter than the interval prints nothing"


def test_a_zero_or_broken_interval_does_not_spin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNNING_PROGRESS_INTERVAL", "0")
    out = io.StringIO()
    with progress("demo", stream=out) as shown:
        shown.update(done=0.5, rows=5)
        time.sleep(0.3)
    assert 1 <= len(_lines(out.getvalue())) <= 10  # at most one line per MIN_INTERVAL_S
    monkeypatch.setenv("DUNNING_PROGRESS_INTERVAL", "soon")
    with progress("demo", stream=io.StringIO()) as shown:
        shown.update(done=0.5, rows=5)


def test_a_terminal_gets_a_bar_with_the_label_and_rows() -> None:
    out = _Terminal()
    with progress("assign", stream=out) as shown:
        shown.update(done=0.5, rows=12_345, status="writing")
        time.sleep(0.2)  # rich refreshes the bar on its own thread
    assert "assign" in out.getvalue()
    assert "12,345" in out.getvalue()


def test_analyze_reports_its_steps_on_stderr_and_keeps_stdout_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    demo = runner.invoke(app, ["demo", "--days", "3", "--per-day", "30", "--db", db, "--json"])
    assert demo.exit_code == 0, demo.output
    monkeypatch.setenv("DUNNING_PROGRESS_INTERVAL", "0")
    steps: list[str] = []
    from engine import service

    real = service.analyze_experiment

    def slow(*args: object, **kwargs: object) -> object:
        step = kwargs["step"]

        def slowed(done: float, rows: int, status: str) -> None:
            steps.append(status)
            step(done, rows, status)  # type: ignore[operator]
            time.sleep(0.1)  # each step outlasts the interval: each is reported

        kwargs["step"] = slowed
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "analyze_experiment", slow)
    result = runner.invoke(app, ["analyze", "dunning-channels", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["experiment"] == "dunning-channels"
    assert steps[0] == "reading the experiment"
    assert steps[-1] == "estimating"
    lines = _lines(result.stderr)
    assert {line["progress"] for line in lines} == {"analyze"}
    assert {line.get("status") for line in lines} >= {"estimating"}
    # The rows read are the randomised debtors the analysis counts.
    randomised = sum(arm["assigned"] for arm in payload["arms"])
    assert 0 < randomised <= 90  # 3 days x 30 debtors
    assert max(float(str(line["rows"])) for line in lines) == randomised
