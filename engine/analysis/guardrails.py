"""The guardrail panel: each guardrail per challenger, as the promotion rule last judged it. Pure.

Figures are the stored decision's (the rule's own comparison, :mod:`engine.promotion.rule`):
the estimate with its 95% interval, the always-valid bounds the rule acts on, and the margin.
Status, in the rule's terms:

``breached``       the always-valid lower bound of the increase is above the margin
``ok``             the always-valid upper bound is below the margin (shown non-inferior)
``unclear``        neither yet
``arm stopped``    the arm lost its traffic (this guardrail or another one)
``not enough data``  no comparison yet (no matured outcome in the pair)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from engine.analysis.wording import PER_DEBTOR_COUNTS, finite
from engine.promotion import MIN_UNITS_TO_STOP

NAN = float("nan")


@dataclass(frozen=True)
class GuardrailRow:
    """One guardrail of one challenger; differences per debtor (rates as fractions; counts
    per debtor, ``scale`` 1,000 to show them per 1,000 debtors)."""

    metric: str
    arm: str
    label: str
    estimate: float
    low: float
    high: float
    always_valid_low: float
    always_valid_high: float
    margin: float
    status: str
    matures_on: date | None  # when today's debtors' outcome for this guardrail is known
    first_matured: date | None  # when the first cohort's outcome was (or is) known
    scale: float


def _float(x: Any) -> float:
    return float(x) if finite(x) else NAN


def guardrail_rows(
    *,
    numbers: Mapping[str, Any] | None,
    metrics: Sequence[str],
    arms: Sequence[tuple[str, str]],
    champion: str,
    stopped: Sequence[str],
    as_of: datetime,
    windows: Mapping[str, int],
    first_due: Mapping[str, datetime | None],
) -> list[GuardrailRow]:
    """One row per (guardrail metric, challenger) of the latest decision's ``numbers``
    (None: no decision yet). ``arms`` are (key, label) in report order; ``windows`` the days
    until each guardrail's outcome is known; ``first_due`` when the first cohort's was."""
    guardrails: Mapping[str, Any] = (numbers or {}).get("guardrails", {}) or {}
    rows = []
    for metric in metrics:
        per_arm = guardrails.get(metric, {}) or {}
        scale = 1000.0 if metric in PER_DEBTOR_COUNTS else 1.0
        window = windows.get(metric)
        due = first_due.get(metric)
        for arm, label in arms:
            if arm == champion:
                continue
            g = per_arm.get(arm) or {}
            low, high = _float(g.get("always_valid_low")), _float(g.get("always_valid_high"))
            margin = _float(g.get("margin"))
            units = int(g.get("units") or 0)
            if arm in stopped:
                status = "arm stopped"
            elif not finite(g.get("estimate")):
                status = "not enough data"
            elif low > margin and units >= MIN_UNITS_TO_STOP:
                status = "breached"
            elif high < margin:
                status = "ok"
            else:
                status = "unclear"
            rows.append(
                GuardrailRow(
                    metric=metric,
                    arm=arm,
                    label=label,
                    estimate=_float(g.get("estimate")),
                    low=_float(g.get("low")),
                    high=_float(g.get("high")),
                    always_valid_low=low,
                    always_valid_high=high,
                    margin=margin,
                    status=status,
                    matures_on=None if window is None else (as_of + timedelta(days=window)).date(),
                    first_matured=None if due is None else due.date(),
                    scale=scale,
                )
            )
    return rows
