"""Progress of long verbs, always on stderr (stdout carries the ``--json`` output).

On a terminal: a rich progress bar, gone when the work ends. Otherwise (cron, CI, a pipe): one
JSON line every :data:`INTERVAL_S` seconds, e.g. ``{"progress": "assign", "done": 0.42,
"rows": 420000, "elapsed_s": 30.1}``, so a log shows a long job is alive and how far it got;
a run shorter than the interval prints nothing. rich is imported only on a terminal.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

#: Seconds between two JSON progress lines (``DUNNING_PROGRESS_INTERVAL`` overrides it).
INTERVAL_S = 10.0


class Progress(Protocol):
    def update(self, *, done: float, rows: int, status: str = "") -> None:
        """``done``: the share of the work finished, in [0, 1]; ``rows``: records so far;
        ``status``: a few words on where the work stands (optional)."""


class _JsonLines:
    """Prints the latest state every ``interval`` seconds from a heartbeat thread, so a log
    shows the job alive also while one long step (a large SQL aggregate) runs between two
    updates. Nothing before the first update, nothing when the work ends within the interval.
    """

    def __init__(self, label: str, stream: TextIO, interval: float) -> None:
        self.label, self.stream, self.interval = label, stream, interval
        self.start = time.monotonic()
        self._state: dict[str, object] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._run, name=f"progress-{label}", daemon=True)
        self._beat.start()

    def update(self, *, done: float, rows: int, status: str = "") -> None:
        state: dict[str, object] = {"done": round(min(max(done, 0.0), 1.0), 4), "rows": rows}
        if status:
            state["status"] = status
        with self._lock:
            self._state = state

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                state = self._state
                if state is None:
                    continue
                line = {"progress": self.label, **state}
                line["elapsed_s"] = round(time.monotonic() - self.start, 1)
                self.stream.write(json.dumps(line) + "\n")
                self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        self._beat.join()


class _Bar:
    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def update(self, *, done: float, rows: int, status: str = "") -> None:
        share = min(max(done, 0.0), 1.0)
        self.bar.update(self.task, completed=share, rows=f"{rows:,}", status=status)


#: The shortest interval honoured (``DUNNING_PROGRESS_INTERVAL=0`` in tests: as often as this).
MIN_INTERVAL_S = 0.05


def _interval() -> float:
    try:
        seconds = float(os.environ.get("DUNNING_PROGRESS_INTERVAL", INTERVAL_S))
    except ValueError:
        return INTERVAL_S
    return max(seconds, MIN_INTERVAL_S)


@contextmanager
def progress(label: str, *, stream: TextIO | None = None) -> Iterator[Progress]:
    """Report the progress of ``label`` (e.g. ``"assign"``) on ``stream`` (default stderr)."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        lines = _JsonLines(label, out, _interval())
        try:
            yield lines
        finally:
            lines.close()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%  {task.fields[rows]} rows"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=Console(file=out), transient=True) as bar:
        yield _Bar(bar, bar.add_task(label, total=1.0, rows="0", status=""))
