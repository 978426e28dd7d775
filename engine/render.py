"""Terminal rendering of read models (rich tables). Used by the CLI only."""

from __future__ import annotations

import math
from collections.abc import Mapping

from rich.table import Table

from engine.service import ExperimentReport, PromotionRecord


def _pct(value: float, digits: int = 1) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.{digits}f}%"


def _money(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:+,.2f}"


def kpi_table(report: ExperimentReport, *, truth: Mapping[str, float] | None = None) -> Table:
    """One row per arm: the KPIs managers read, champion first-marked."""
    table = Table(
        title=(
            f"{report.name} — as of {report.as_of:%Y-%m-%d %H:%M} UTC; "
            f"pay window {report.pay_window_days} d; * champion"
        ),
        title_justify="left",
    )
    table.add_column("arm", no_wrap=True)
    table.add_column("debtors", justify="right")
    table.add_column("on time", justify="right")
    table.add_column("95% CrI", justify="right", no_wrap=True)
    if truth is not None:
        table.add_column("true", justify="right")
    table.add_column("immature", justify="right")
    table.add_column("cases /1k", justify="right")
    table.add_column("reminders", justify="right")
    table.add_column(f"churn {report.churn_horizon_days}d", justify="right")
    table.add_column(f"ΔCLV {report.currency}", justify="right")
    table.add_column("traffic", justify="right")
    for row in report.kpis:
        name = f"[bold]{row.arm}[/bold] *" if row.champion else row.arm
        interval = (
            f"{_pct(row.pay_on_time_low)}-{_pct(row.pay_on_time_high)}"
            if not math.isnan(row.pay_on_time)
            else "—"
        )
        cells = [name, f"{row.assigned:,}", _pct(row.pay_on_time), interval]
        if truth is not None:
            cells.append(_pct(truth.get(row.arm, math.nan)))
        cells += [
            _pct(row.immature_share, 0),
            "—" if math.isnan(row.cases_per_1000) else f"{row.cases_per_1000:,.0f}",
            f"{row.reminders:,}",
            _pct(row.churn),
            "ref." if row.champion else _money(row.clv_uplift),
            _pct(row.traffic_share),
        ]
        table.add_row(*cells)
    return table


def promotion_table(promotions: list[PromotionRecord]) -> Table:
    """The champion switches, each with the numbers behind it."""
    table = Table(title="Promotion log", title_justify="left")
    table.add_column("decided (UTC)", no_wrap=True)
    table.add_column("from → to", no_wrap=True)
    table.add_column("P(beat)", justify="right")
    table.add_column("matured units new / old", justify="right")
    table.add_column("allocation", justify="right")
    for record in promotions:
        if record.action != "promote":
            continue
        units = record.numbers.get("units", {})
        p_beat = record.numbers.get("prob_beat", {}).get(record.champion_after, math.nan)
        table.add_row(
            f"{record.decided_at:%Y-%m-%d %H:%M}",
            f"{record.champion_before} → {record.champion_after}",
            f"{p_beat:.4f}",
            f"{units.get(record.champion_after, 0):,} / {units.get(record.champion_before, 0):,}",
            f"v{record.allocation_version}",
        )
    return table
