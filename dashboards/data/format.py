"""Number, money, interval and time formatting for display."""

from __future__ import annotations

import math
from datetime import datetime

from .constants import CURRENCY_SYMBOLS, DASH, MINUS

# -- formatting ----------------------------------------------------------------------------


def _nan(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def nan(x: float | None) -> bool:
    """Whether ``x`` is a missing number (None or NaN)."""
    return _nan(x)


def pct(x: float | None, digits: int = 1) -> str:
    return DASH if _nan(x) else f"{x:.{digits}%}"


def money(x: float | None, currency: str, *, signed: bool = False, digits: int = 2) -> str:
    if _nan(x):
        return DASH
    assert x is not None
    sign = MINUS if x < 0 else ("+" if x > 0 else "±") if signed else ""
    symbol = CURRENCY_SYMBOLS.get(currency)
    amount = f"{abs(x):,.{digits}f}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def number(x: float | None, digits: int = 0) -> str:
    return DASH if _nan(x) else f"{x:,.{digits}f}"


def when(t: datetime | None) -> str:
    return DASH if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


def points(value: float, low: float, high: float) -> str:
    """A difference of rates in percentage points with its interval: ``+3.2 pp [+1.0, +5.5]``."""
    if _nan(value):
        return DASH

    def signed(x: float) -> str:
        return f"{MINUS if x < 0 else '+'}{abs(100 * x):.1f}"

    head = f"{signed(value)}\u00a0pp"
    return head if _nan(low) or _nan(high) else f"{head} [{signed(low)}, {signed(high)}]"


def share(value: float, low: float, high: float) -> str:
    """A rate in percent with its interval: ``58.8% [57.0, 60.5]``."""
    if _nan(value):
        return DASH
    head = f"{100 * value:.1f}%"
    return head if _nan(low) or _nan(high) else f"{head} [{100 * low:.1f}, {100 * high:.1f}]"
