"""Numbers and effects in the words a manager reads: one place for every surface (the
dashboard's scorecard, the demo's closing lines). Pure."""

from __future__ import annotations

import math

MINUS = "\u2212"

#: How a sentence says that an arm does better or worse on a metric: (verb phrase, unit kind).
#: Unit kinds: ``share`` (percentage points), ``money`` (the currency), ``count`` (per 1,000),
#: ``per_customer`` (dunning cases per customer, as they are).
PHRASES: dict[str, tuple[str, str]] = {
    "pay_on_time": ("pays on time", "share"),
    "churn": ("churns", "share"),
    "collected_per_debtor": ("collects", "money"),
    "net_value_per_debtor": ("earns a net value", "money"),
    "clv_per_debtor": ("keeps a customer lifetime value", "money"),
    "cases_per_1000": ("opens collection cases", "count"),
    "reminders_per_1000": ("sends reminders", "count"),
    "collection_cases": ("opens collection cases", "count"),
    "reminders": ("sends reminders", "count"),
    "late_again": ("has customers late again", "share"),
    "cases_per_customer": ("opens dunning cases", "per_customer"),
}
#: Guardrail metrics counted per debtor, shown per 1,000 debtors.
PER_DEBTOR_COUNTS = ("collection_cases", "reminders")


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def signed(x: float, digits: int = 1) -> str:
    sign = MINUS if x < 0 else "+"
    return f"{sign}{abs(x):,.{digits}f}"


def amount(x: float, currency: str, *, sign: bool = False) -> str:
    """``EUR 1,234`` (whole units above 100, cents below), signed on request."""
    digits = 0 if abs(x) >= 100 else 2
    head = (MINUS if x < 0 else "+") if sign else (MINUS if x < 0 else "")
    return f"{head}{currency} {abs(x):,.{digits}f}"


def in_unit(x: float, kind: str, currency: str, *, sign: bool = True) -> str:
    """One difference in its unit: ``+1.4 points``, ``+EUR 2.10``, ``+3.0 per 1,000``."""
    if kind == "share":
        return f"{signed(100 * x) if sign else f'{100 * x:.1f}'} points"
    if kind == "money":
        return amount(x, currency, sign=sign)
    if kind == "per_customer":
        return f"{signed(x, 2) if sign else f'{x:,.2f}'} cases per customer"
    return f"{signed(x) if sign else f'{x:,.1f}'} per 1,000 debtors"


def interval(low: float, high: float, kind: str, currency: str) -> str:
    """``95% interval +0.6 to +2.3``, in the unit of ``kind`` (named once)."""
    if not (finite(low) and finite(high)):
        return "no interval yet"
    if kind == "share":
        return f"95% interval {signed(100 * low)} to {signed(100 * high)}"
    if kind == "money":
        lo, hi = amount(low, currency, sign=True), amount(high, currency, sign=True)
        return f"95% interval {lo} to {hi}"
    digits = 2 if kind == "per_customer" else 1
    return f"95% interval {signed(low, digits)} to {signed(high, digits)}"


def effect_sentence(
    *,
    metric: str,
    arm: str,
    champion: str,
    estimate: float,
    low: float,
    high: float,
    currency: str,
    scale: float = 1.0,
) -> str:
    """``The 5% discount pays on time 1.4 points more often than the SMS (95% interval +0.6
    to +2.3).`` ``scale`` converts per-debtor counts to per 1,000 debtors."""
    verb, kind = PHRASES.get(metric, (f"scores on {metric.replace('_', ' ')}", "money"))
    if not finite(estimate):
        return f"Not enough data yet to compare {arm} with {champion}."
    value, lo, hi = scale * estimate, scale * low, scale * high
    span = interval(lo, hi, kind, currency)
    more = value >= 0
    if kind == "share":
        size = f"{abs(100 * value):.1f} points {'more' if more else 'less'} often"
        return f"{arm} {verb} {size} than {champion} ({span})."
    if kind == "money":
        size = f"{amount(abs(value), currency)} {'more' if more else 'less'} per debtor"
        return f"{arm} {verb} {size} than {champion} ({span})."
    if kind == "per_customer":
        size = f"{abs(value):,.2f} {'more' if more else 'fewer'} per customer"
        return f"{arm} {verb}: {size} than {champion} ({span})."
    size = f"{abs(value):,.1f} {'more' if more else 'fewer'} per 1,000 debtors"
    return f"{arm} {verb}: {size} than {champion} ({span})."


def days_phrase(days: float) -> str:
    """``about 12 more days`` / ``less than a day`` / ``more than a year``."""
    if not math.isfinite(days):
        return "more than a year"
    if days < 1:
        return "less than a day"
    return f"about {math.ceil(days):,} more days"
