"""Number, money, interval and time formatting for display."""

from __future__ import annotations

import math
from datetime import datetime

from .constants import CURRENCY_SYMBOLS, DASH, MINUS, NO_BREAK_DASH

# -- formatting ----------------------------------------------------------------------------


def _nan(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def nan(x: float | None) -> bool:
    """Whether ``x`` is a missing number (None or NaN)."""
    return _nan(x)


def pct(x: float | None, digits: int = 1) -> str:
    return DASH if _nan(x) else f"{x:.{digits}%}"


def money(x: float | None, currency: str, *, signed: bool = False) -> str:
    if _nan(x):
        return DASH
    assert x is not None
    sign = MINUS if x < 0 else ("+" if x > 0 else "±") if signed else ""
    symbol = CURRENCY_SYMBOLS.get(currency)
    amount = f"{abs(x):,.2f}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def number(x: float | None, digits: int = 0) -> str:
    return DASH if _nan(x) else f"{x:,.{digits}f}"


def interval(low: float, high: float) -> str:
    if _nan(low) or _nan(high):
        return DASH
    return f"{100 * low:.1f}{NO_BREAK_DASH}{high:.1%}"


def when(t: datetime | None) -> str:
    return DASH if t is None else t.strftime("%Y-%m-%d %H:%M UTC")
