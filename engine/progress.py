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
    def __init__(self, label: str, stream: TextIO, interval: float) -> None:
        self.label, self.stream, self.interval = label, stream, interval
        self.start = self.last = time.monotonic()

    def update(self, *, done: float, rows: int, status: str = "") -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        line: dict[str, object] = {
            "progress": self.label,
            "done": round(min(max(done, 0.0), 1.0), 4),
            "rows": rows,
            "elapsed_s": round(now - self.start, 1),
        }
        if status:
            line["status"] = status
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()


class _Bar:
    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def update(self, *, done: float, rows: int, status: str = "") -> None:
        share = min(max(done, 0.0), 1.0)
        self.bar.update(self.task, completed=share, rows=f"{rows:,}", status=status)


def _interval() -> float:
    try:
        return float(os.environ.get("DUNNING_PROGRESS_INTERVAL", INTERVAL_S))
    except ValueError:
        return INTERVAL_S


@contextmanager
def progress(label: str, *, stream: TextIO | None = None) -> Iterator[Progress]:
    """Report the progress of ``label`` (e.g. ``"assign"``) on ``stream`` (default stderr)."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        yield _JsonLines(label, out, _interval())
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
