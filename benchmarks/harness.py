"""Timing helpers and the result row every benchmark returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """One line of ``make bench``: ours against a peer, as a ratio of wall-clock times.

    ``ratio`` is peer / ours (for times: > 1 means we are faster). ``limit`` is the smallest
    ratio the issue accepts, if it names one, and ``upper`` the largest (a band, e.g. a regret
    slope within 0.6-1.3 of the Lai-Robbins constant); ``floor`` marks a peer that is a lower
    bound (a part of our own work), where a ratio close to 1 is the goal. ``unit`` is ``"s"``
    for wall-clock seconds (printed in ms); any other unit names raw values (regret, bias).
    """

    benchmark: str
    ours: float
    peer: str
    peer_seconds: float
    limit: float | None = None
    floor: bool = False
    upper: float | None = None
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.peer_seconds / self.ours

    @property
    def passed(self) -> bool | None:
        if self.limit is None and self.upper is None:
            return None
        low = self.limit if self.limit is not None else float("-inf")
        high = self.upper if self.upper is not None else float("inf")
        return low <= self.ratio <= high


def best_of(fn: Callable[[], object], *, repeat: int = 5) -> float:
    """Minimum wall-clock seconds over ``repeat`` calls (the least disturbed measurement)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
