"""Display tables and labels of the analysis page."""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from engine.analysis import Analysis, ArmResult, MetricResult
from engine.plural import counted

from .constants import DASH, MINUS, NBSP, WORD_JOINER
from .format import money, nan, number, pct

# -- analysis --------------------------------------------------------------------------------


class MetricInfo(NamedTuple):
    """How the dashboard names a metric of :class:`engine.analysis.Analysis`."""

    title: str  # heading
    short: str  # selector label
    what: str  # one line: what is measured, with placeholders {pay}, {churn}, {cur}


METRICS: dict[str, MetricInfo] = {
    "pay_on_time": MetricInfo(
        "Pay on time", "Pay on time", "share of matured debtors who paid within {pay}"
    ),
    "churn": MetricInfo("Churn", "Churn", "share of matured debtors who churned within {churn}"),
    "collected_per_debtor": MetricInfo(
        "Collected per debtor",
        "Collected / debtor",
        "{cur} collected within {pay} per matured debtor",
    ),
    "cases_per_1000": MetricInfo(
        "Collection cases per 1,000 debtors",
        "Cases / 1,000",
        "collection cases opened per 1,000 assigned debtors",
    ),
    "reminders_per_1000": MetricInfo(
        "Reminders per 1,000 debtors",
        "Reminders / 1,000",
        "reminders sent per 1,000 assigned debtors",
    ),
    "net_value_per_debtor": MetricInfo(
        "Net value per debtor",
        "Net value / debtor",
        "{cur} per debtor: collected \u2212 treatment cost \u2212 churn \u00d7 residual CLV",
    ),
    "clv_per_debtor": MetricInfo(
        "CLV per debtor",
        "CLV / debtor",
        "{cur} of residual customer lifetime value per debtor, at the arm's retention",
    ),
    "late_again": MetricInfo(
        "Late again",
        "Late again",
        "share of matured dunning cases whose customer was late again within {late} "
        "(the customer, not the case, is the unit of the interval)",
    ),
    "cases_per_customer": MetricInfo(
        "Dunning cases per customer",
        "Cases / customer",
        "dunning cases per customer opened within {churn} of the first",
    ),
}


def metric_heading(analysis: Analysis, metric: str) -> tuple[str, str]:
    """Title and one-line description (with the unit) of ``metric``."""
    info = METRICS[metric]
    what = info.what.format(
        pay=counted(analysis.pay_window_days, "day"),
        churn=counted(analysis.churn_horizon_days, "day"),
        cur=analysis.currency,
        # None without repeat cases (then no metric names {late}).
        late="" if analysis.late_again_days is None else counted(analysis.late_again_days, "day"),
    )
    return info.title, what


def _signed(x: float, digits: int) -> str:
    sign = MINUS if x < 0 else "+" if x > 0 else "±"
    return f"{sign}{abs(x):,.{digits}f}"


def _plain(x: float, digits: int) -> str:
    """A bound inside brackets: the unit is the estimate's, the minus typographic."""
    return f"{MINUS if x < 0 else ''}{abs(x):,.{digits}f}"


def _is_share(unit: str) -> bool:
    return unit == "share"


def _is_count(unit: str) -> bool:
    return unit.startswith("per ")


def metric_value(x: float, unit: str) -> str:
    """A value in the metric's unit: percent, currency or a rate per 1,000."""
    if nan(x):
        return DASH
    if _is_share(unit):
        return pct(x)
    if _is_count(unit):
        return number(x, 1)
    return money(x, unit)


def metric_uplift(x: float, unit: str) -> str:
    """A signed difference: percentage points for shares, currency or a rate otherwise."""
    if nan(x):
        return DASH
    if _is_share(unit):
        return f"{_signed(100 * x, 1)}{NBSP}pp"
    if _is_count(unit):
        return _signed(x, 1)
    return money(x, unit, signed=True)


def _bounds(low: float, high: float, unit: str, *, scale: float = 1.0) -> str:
    if nan(low) or nan(high):
        return ""
    digits = 1 if _is_share(unit) or _is_count(unit) else 2
    return f"[{_plain(scale * low, digits)},{NBSP}{_plain(scale * high, digits)}]"


def with_interval(text: str, bounds: str) -> str:
    """``value [low, high]`` on one line: no break after a minus sign or inside the cell."""
    joined = text if not bounds or text == DASH else f"{text}{NBSP}{bounds}"
    return joined.replace(MINUS, MINUS + WORD_JOINER)


def estimate_cell(m: MetricResult) -> str:
    scale = 100.0 if _is_share(m.unit) else 1.0
    return with_interval(
        metric_value(m.estimate, m.unit), _bounds(m.low, m.high, m.unit, scale=scale)
    )


def uplift_cell(value: float, low: float, high: float, unit: str) -> str:
    scale = 100.0 if _is_share(unit) else 1.0
    return with_interval(metric_uplift(value, unit), _bounds(low, high, unit, scale=scale))


def loss_cell(x: float, unit: str) -> str:
    """Expected loss is a non-negative amount in the metric's unit (pp for shares)."""
    if nan(x):
        return DASH
    if _is_share(unit):
        return f"{100 * x:.2f}{NBSP}pp"
    if _is_count(unit):
        return number(x, 1)
    return money(x, unit)


def p_value(p: float) -> str:
    if nan(p):
        return DASH
    if p < 1e-4:
        return "<0.0001"
    return f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def signed_pct(x: float) -> str:
    return DASH if nan(x) else f"{_signed(100 * x, 1)}%"


def _status(m: MetricResult) -> str:
    """What stands in for a figure that has none: "not matured yet: ... 2026-12-15"."""
    return m.message or DASH


def analysis_frame(analysis: Analysis, metric: str) -> pd.DataFrame:
    """One row per arm for ``metric``: the arm's level and its comparison with the champion,
    read both ways (one 95% interval; p-value beside P(beat)); ★ champion."""

    def row(arm: ArmResult) -> dict[str, str]:
        m = arm.metrics[metric]
        champion = arm.champion
        shown = m.status in ("ok", "champion")
        return {
            "Arm": f"★ {arm.label}" if champion else arm.label,
            "Estimate [95%]": estimate_cell(m) if m.has_figures or shown else _status(m),
            "Uplift vs ★ [95%]": (
                "reference"
                if champion
                else uplift_cell(m.uplift, m.uplift_low, m.uplift_high, m.unit)
                if shown
                else _status(m)
            ),
            "Relative uplift": DASH if champion else signed_pct(m.relative_uplift),
            "Covers": DASH if champion or not shown else pct(m.coverage, 0),
            "P(beat ★)": DASH if champion else pct(m.prob_beat_champion),
            "P(best)": pct(m.prob_best),
            "Expected loss": DASH if champion else loss_cell(m.expected_loss, m.unit),
            "p (Holm)": DASH if champion else p_value(m.p_holm),
            "Matured": number(m.units),
            "Not yet matured": pct(m.immature_share, 0),
            "Pooled (for contrast)": metric_value(m.pooled_estimate, m.unit),
        }

    return pd.DataFrame([row(a) for a in analysis.arms]).set_index("Arm")


def missing_notes(analysis: Analysis, metric: str) -> dict[str, str]:
    """Arm label -> why its comparison has no figures (challengers only)."""
    return {
        a.label: a.metrics[metric].message
        for a in analysis.arms
        if not a.champion and a.metrics[metric].status not in ("ok", "champion")
    }


def forest_frame(analysis: Analysis, metric: str) -> pd.DataFrame:
    """Long table (arm, uplift, low, high, text) of each challenger's uplift with its 95%
    interval. Shares are in percentage points. Intervals that cannot be formed are left out."""
    rows = []
    for a in analysis.arms:
        if a.champion:
            continue
        m = a.metrics[metric]
        scale = 100.0 if _is_share(m.unit) else 1.0
        if nan(m.uplift) or nan(m.uplift_low) or nan(m.uplift_high):
            continue
        rows.append(
            {
                "arm": a.label,
                "uplift": scale * m.uplift,
                "low": scale * m.uplift_low,
                "high": scale * m.uplift_high,
                "text": uplift_cell(m.uplift, m.uplift_low, m.uplift_high, m.unit),
            }
        )
    return pd.DataFrame(rows, columns=["arm", "uplift", "low", "high", "text"])


def uplift_axis_title(analysis: Analysis, metric: str) -> str:
    m = analysis.arms[0].metrics[metric]
    unit = "pp" if _is_share(m.unit) else m.unit
    better = "higher" if m.higher_is_better else "lower"
    return f"Uplift vs champion ({unit}; {better} is better)"


def srm_frame(analysis: Analysis) -> pd.DataFrame:
    labels = {a.arm: a.label for a in analysis.arms}
    srm = analysis.srm
    rows = []
    for arm, observed in srm.observed.items():
        expected = srm.expected.get(arm, math.nan)
        rows.append(
            {
                "Arm": labels.get(arm, arm),
                "Observed": number(observed),
                "Expected": number(expected, 1),
                "Observed \u2212 expected": (
                    DASH if nan(expected) else _signed(observed - expected, 1)
                ),
                "Relative": (
                    DASH if nan(expected) or expected == 0 else signed_pct(observed / expected - 1)
                ),
            }
        )
    return pd.DataFrame(
        rows, columns=["Arm", "Observed", "Expected", "Observed \u2212 expected", "Relative"]
    ).set_index("Arm")
