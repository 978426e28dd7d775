"""``dunning schedule``: run each experiment's cycle when its ``promotion.schedule`` fires.

One long-lived process for users without cron. Schedules are re-read from the database before
each wait, so a newly synced experiment or a changed cron expression takes effect without a
restart. The clock is injected: the real one sleeps (waking early on a stop request), the
simulated one of ``--now`` jumps straight to the next fire time, which is how tests run days
of schedule in a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine

from engine.cron import parse_cron
from engine.service.common import utc_now
from engine.service.promotion import CycleResult, run_cycle
from engine.service.reports import list_experiments

#: Longest real sleep before the schedules are read again (new experiments, edited crons).
POLL_SECONDS = 60.0


class Clock(Protocol):
    #: False for a simulated clock: with nothing scheduled there is nothing to wait for.
    real: bool

    def now(self) -> datetime: ...

    def sleep_until(self, when: datetime, stop: threading.Event) -> None: ...


class RealClock:
    """Wall-clock time; sleeps in slices of at most :data:`POLL_SECONDS`."""

    real = True

    def now(self) -> datetime:
        return utc_now()

    def sleep_until(self, when: datetime, stop: threading.Event) -> None:
        seconds = (when - utc_now()).total_seconds()
        stop.wait(min(max(seconds, 0.0), POLL_SECONDS))


@dataclass
class SimulatedClock:
    """A clock that starts at ``current`` and jumps to whatever time it is asked to wait for."""

    current: datetime
    real: bool = False

    def now(self) -> datetime:
        return self.current

    def sleep_until(self, when: datetime, stop: threading.Event) -> None:
        self.current = max(self.current, when)


#: Called once per experiment cycle with (key, fire time, result or the error it raised).
Report = Callable[[str, datetime, CycleResult | Exception], None]


def _schedules(engine: Engine) -> dict[str, str]:
    """Cron expression of every running experiment (draft, paused and stopped ones wait)."""
    return {s.key: s.schedule for s in list_experiments(engine) if s.status == "running"}


def run_schedule(
    engine: Engine,
    *,
    clock: Clock,
    stop: threading.Event,
    report: Report,
    max_cycles: int | None = None,
) -> int:
    """Run cycles until ``stop`` is set or ``max_cycles`` experiment cycles ran; returns
    the number run. A failing experiment is reported and never stops the others."""
    started = clock.now() - timedelta(minutes=1)  # a schedule firing this minute counts
    last_fired: dict[str, datetime] = {}
    cycles = 0
    while not stop.is_set() and (max_cycles is None or cycles < max_cycles):
        schedules = _schedules(engine)
        if not schedules:
            if not clock.real:
                break  # a simulated run with no experiment would spin forever
            clock.sleep_until(clock.now() + timedelta(seconds=POLL_SECONDS), stop)
            continue
        due = {
            key: parse_cron(expr).next_after(last_fired.get(key, started))
            for key, expr in schedules.items()
        }
        when = min(due.values())
        if clock.now() < when:
            clock.sleep_until(when, stop)
            if clock.now() < when:
                continue  # woken early (stop request or poll): read the schedules again
        for key in sorted(k for k, t in due.items() if t <= clock.now()):
            if stop.is_set() or (max_cycles is not None and cycles >= max_cycles):
                break
            fire = due[key]
            last_fired[key] = fire
            outcome: CycleResult | Exception
            try:
                outcome = run_cycle(engine, experiment_key=key, now=clock.now())
            except Exception as exc:
                outcome = exc
            cycles += 1
            report(key, fire, outcome)
    return cycles
