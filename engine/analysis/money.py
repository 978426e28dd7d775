"""Money per arm and the monthly impact of switching, read off the analysis. Pure.

Every figure with an interval is an estimate of the analysis (the one comparison), scaled by a
volume that is taken as known; a configured constant (the treatment cost per debtor, the
discount rate) has no interval at all rather than a zero-width one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.analysis.results import NAN, Analysis

#: Days in the month the impact is stated for.
MONTH_DAYS = 30


@dataclass(frozen=True)
class MoneyLine:
    """One line: ``value`` with its 95% interval (NaN bounds: a configured constant, no
    interval), and what it rests on."""

    item: str
    value: float
    low: float
    high: float
    assumption: str
    unit: str = "money"  # or "share" (a rate, e.g. the discount)

    @property
    def constant(self) -> bool:
        return self.low != self.low  # NaN: no interval


@dataclass(frozen=True)
class ArmMoney:
    arm: str
    label: str
    champion: bool
    lines: tuple[MoneyLine, ...]


@dataclass(frozen=True)
class SwitchImpact:
    """Moving the champion's monthly volume to ``arm``: per month, challenger - champion."""

    arm: str
    label: str
    debtors_per_month: float
    lines: tuple[MoneyLine, ...]


def _metric_line(analysis: Analysis, arm: str, metric: str, item: str, note: str) -> MoneyLine:
    m = analysis.arm(arm).metrics[metric]
    if not m.has_figures:
        return MoneyLine(item, NAN, NAN, NAN, m.message or "not enough data")
    return MoneyLine(item, m.estimate, m.low, m.high, note)


def arm_money(analysis: Analysis, *, discounts: Mapping[str, float]) -> list[ArmMoney]:
    """Per debtor and arm: collected, treatment cost, discount given, CLV and net value."""
    pay = analysis.pay_window_days
    result = []
    for a in analysis.arms:
        d = discounts.get(a.arm, 0.0)
        lines = (
            _metric_line(
                analysis,
                a.arm,
                "collected_per_debtor",
                "Collected",
                f"paid within {pay} days, per debtor whose window closed",
            ),
            MoneyLine(
                "Treatment cost",
                a.cost_per_debtor,
                NAN,
                NAN,
                "configured cost per treated debtor (a constant)",
            ),
            MoneyLine(
                "Discount given",
                d,
                NAN,
                NAN,
                f"configured: {d:.0%} of the amount for paying within the window, "
                "already deducted from collected"
                if d
                else "no discount offered",
                unit="share",
            ),
            _metric_line(
                analysis, a.arm, "clv_per_debtor", "Customer lifetime value", analysis.clv.statement
            ),
            _metric_line(
                analysis,
                a.arm,
                "net_value_per_debtor",
                "Net value",
                "collected \u2212 treatment cost \u2212 churn \u00d7 residual CLV",
            ),
        )
        result.append(ArmMoney(a.arm, a.label, a.champion, lines))
    return result


def switch_impact(analysis: Analysis, *, arm: str, debtors_per_day: float) -> SwitchImpact:
    """Per month at today's volume, if every debtor got ``arm`` instead of the champion."""
    volume = MONTH_DAYS * debtors_per_day
    champion = analysis.arm(analysis.champion)
    chosen = analysis.arm(arm)
    basis = f"{volume:,.0f} debtors a month (today's volume)"

    def uplift(metric: str, item: str, note: str) -> MoneyLine:
        m = chosen.metrics[metric]
        if m.status != "ok":
            return MoneyLine(item, NAN, NAN, NAN, m.message or "not enough data")
        return MoneyLine(
            item,
            volume * m.uplift,
            volume * m.uplift_low,
            volume * m.uplift_high,
            f"{note}; {basis}",
        )

    cost = volume * (chosen.cost_per_debtor - champion.cost_per_debtor)
    lines = (
        uplift("collected_per_debtor", "Collected", "difference in collected per debtor"),
        MoneyLine(
            "Treatment cost", cost, NAN, NAN, f"configured costs per debtor, a constant; {basis}"
        ),
        uplift("clv_per_debtor", "CLV change (churn)", analysis.clv.statement.rstrip(".")),
        uplift("net_value_per_debtor", "Net value", "collected \u2212 cost \u2212 churn cost"),
    )
    return SwitchImpact(arm, chosen.label, volume, lines)
