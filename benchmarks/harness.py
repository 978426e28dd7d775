"""Timing helpers and the result row every benchmark returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """One line of ``make bench``: ours against a peer, as a ratio of wall-clock times.

    ``ratio`` is peer time / our time (> 1: we are faster). ``limit`` is the smallest ratio the
    issue accepts, if it names one; ``floor`` marks a peer that is a lower bound (a part of our
    own work), where a ratio close to 1 is the goal and above 1 is impossible.
    """

    benchmark: str
    ours: float
    peer: str
    peer_seconds: float
    limit: float | None = None
    floor: bool = False

    @property
    def ratio(self) -> float:
        return self.peer_seconds / self.ours

    @property
    def passed(self) -> bool | None:
        return None if self.limit is None else self.ratio >= self.limit


def best_of(fn: Callable[[], object], *, repeat: int = 5) -> float:
    """Minimum wall-clock seconds over ``repeat`` calls (the least disturbed measurement)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
