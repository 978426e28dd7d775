"""Terminal rendering of read models (rich tables). Used by the CLI only."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from engine.analysis import Analysis, ArmKpis
    from engine.service import ExperimentReport, PromotionRecord
    from engine.stats.hierarchical import SegmentFit


def _pct(value: float, digits: int = 1) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.{digits}f}%"


def _money(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:+,.2f}"


def _with_interval(
    value: float, low: float, high: float, *, scale: float, digits: int, signed: bool
) -> str:
    """``value [low, high]`` in the metric's scale; the bounds only when there are some."""
    if math.isnan(value):
        return "—"
    sign = "+" if signed else ""
    head = f"{scale * value:{sign},.{digits}f}"
    if math.isnan(low) or math.isnan(high):
        return head
    return f"{head} [{scale * low:{sign},.{digits}f}, {scale * high:{sign},.{digits}f}]"


def _status_text(status: str, fallback: str) -> str:
    return {"not_matured": "not matured", "no_units": "no debtors"}.get(status, fallback)


def _case_cells(row: ArmKpis) -> list[str]:
    """Late again: the level, and the uplift with its interval (the decision's figure), for an
    experiment with cases; cases per customer are in ``dunning analyze`` (the width of a
    160-column log holds no more)."""
    c = row.cases
    if c is None:
        return []
    gain = _with_interval(
        c.late_again_uplift, c.late_again_uplift_low, c.late_again_uplift_high,
        scale=100, digits=1, signed=True,
    )  # fmt: skip
    return [
        _status_text(c.late_again_status, _pct(c.late_again)),
        "ref." if row.champion else _status_text(c.late_again_status, gain),
    ]


def kpi_table(report: ExperimentReport, *, truth: Mapping[str, float] | None = None) -> Table:
    """One row per arm, by its label: the KPIs managers read, the champion marked. Every
    figure is the analysis's (one estimate per question, :mod:`engine.stats.comparison`)."""
    analysis = report.analysis
    table = Table(
        title=(
            f"{escape(report.name)} — as of {report.as_of:%Y-%m-%d %H:%M} UTC; pay window "
            f"{report.pay_window_days} days; * champion; [95% interval]"
        ),
        title_justify="left",
        box=box.SIMPLE_HEAD,  # no column rules: eleven columns fit a 160-column log
    )
    # Labels are sentences ("5% discount for paying within 14 days"): they wrap, not the figures.
    table.add_column("arm", min_width=23, max_width=28)
    table.add_column("debtors", justify="right", no_wrap=True)
    table.add_column("pay on time", justify="right", no_wrap=True)
    table.add_column("vs champion, pp", justify="right", no_wrap=True)
    if truth is not None:
        table.add_column("true", justify="right")
    table.add_column("not yet matured", justify="right")
    table.add_column("cases per\n1,000", justify="right")
    table.add_column("reminders\nper 1,000", justify="right", min_width=9)
    cases = report.kpis[0].cases if report.kpis else None
    if cases is not None:
        table.add_column(f"late again\n{cases.late_again_days} days", justify="right")
        table.add_column("vs champion", justify="right")
    table.add_column(f"churn {report.churn_horizon_days} days", justify="right", no_wrap=True)
    table.add_column(f"CLV vs champion, {report.currency}", justify="right", no_wrap=True)
    table.add_column("traffic", justify="right")
    for row in report.kpis:
        label = escape(row.label)
        name = f"[bold]{label}[/bold] *" if row.champion else label
        pay = _with_interval(
            row.pay_on_time, row.pay_on_time_low, row.pay_on_time_high, scale=100, digits=1,
            signed=False,
        )  # fmt: skip
        gain = _with_interval(
            row.pay_uplift, row.pay_uplift_low, row.pay_uplift_high, scale=100, digits=1,
            signed=True,
        )  # fmt: skip
        cells = [
            name,
            f"{row.assigned:,}",
            _status_text(row.pay_status, pay),
            "ref." if row.champion else _status_text(row.pay_status, gain),
        ]
        if truth is not None:
            cells.append(_pct(truth.get(row.arm, math.nan)))
        churn = _with_interval(
            row.churn, row.churn_low, row.churn_high, scale=100, digits=1, signed=False
        )
        clv = _with_interval(
            row.clv_uplift, row.clv_uplift_low, row.clv_uplift_high, scale=1, digits=0, signed=True
        )
        cells += [
            _pct(row.immature_share, 0),
            "—" if math.isnan(row.cases_per_1000) else f"{row.cases_per_1000:,.0f}",
            "—" if math.isnan(row.reminders_per_1000) else f"{row.reminders_per_1000:,.0f}",
            *_case_cells(row),
            _status_text(row.churn_status, churn),
            "ref." if row.champion else _status_text(row.churn_status, clv),
            _pct(row.traffic_share),
        ]
        table.add_row(*cells)
    table.caption = f"CLV: {analysis.clv.statement} ({analysis.clv.model})"
    table.caption_justify = "left"
    return table


def promotion_table(
    promotions: list[PromotionRecord], *, labels: Mapping[str, str] | None = None
) -> Table:
    """The decisions that changed the allocation (champion switches, stopped arms,
    rollbacks) or the status, each with the numbers behind it; arms by their ``labels``."""
    names = labels or {}

    def name(arm: str | None) -> str:
        return escape(names.get(arm, str(arm)) if arm is not None else "-")

    shown = [p for p in promotions if p.action in ("promote", "stop_arm", "rollback", "status")]
    table = Table(title="Promotion log", title_justify="left")
    table.add_column("decided (UTC)", no_wrap=True)
    table.add_column("change")
    table.add_column("P(beat)", justify="right")
    table.add_column("matured units new / old", justify="right")
    table.add_column("allocation", justify="right")
    for record in shown:
        units = record.numbers.get("units", {})
        if record.action == "promote":
            p_beat = record.numbers.get("prob_beat", {}).get(record.champion_after, math.nan)
            change = f"{name(record.champion_before)} → {name(record.champion_after)}"
            evidence = f"{p_beat:.4f}"
            counts = (
                f"{units.get(record.champion_after, 0):,} / "
                f"{units.get(record.champion_before, 0):,}"
            )
        elif record.action == "stop_arm":
            change = "stopped " + ", ".join(map(name, record.numbers.get("stopped_arms", [])))
            evidence, counts = "-", "-"
        elif record.action == "rollback":
            change = f"rollback to v{record.numbers.get('to_version')}"
            evidence, counts = "-", "-"
        else:  # a status change: who, from what, why
            change = escape(record.explanation)
            evidence, counts = "-", "-"
        table.add_row(
            f"{record.decided_at:%Y-%m-%d %H:%M}",
            change,
            evidence,
            counts,
            "-" if record.allocation_version is None else f"v{record.allocation_version}",
        )
    return table


#: How each metric is shown: title (with its unit) and the scale/decimals of its numbers.
_SHOW: dict[str, tuple[str, float, int]] = {
    "pay_on_time": ("pay on time, % (uplift in pp)", 100.0, 1),
    "churn": ("churn within the horizon, % (uplift in pp)", 100.0, 1),
    "collected_per_debtor": ("collected per matured debtor, {currency}", 1.0, 2),
    "cases_per_1000": ("collection cases per 1,000 debtors", 1.0, 0),
    "reminders_per_1000": ("reminders per 1,000 debtors", 1.0, 0),
    "net_value_per_debtor": (
        "net value per debtor, {currency} (collected - cost - churn x residual CLV)",
        1.0,
        2,
    ),
    "clv_per_debtor": ("CLV per debtor, {currency}", 1.0, 2),
    # Repeat cases (unit.case): per case, the customer the unit of the interval.
    "late_again": (
        "late again within {late_days} days, % of matured cases (uplift in pp; the customer "
        "is the unit of the interval)",
        100.0,
        1,
    ),
    "cases_per_customer": ("dunning cases per customer within the churn horizon", 1.0, 2),
}


def _p(value: float) -> str:
    if math.isnan(value):
        return "—"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _share(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.0f}%"


def analysis_tables(analysis: Analysis) -> list[Table]:
    """One table per metric: each arm's level, and its comparison with the champion read both
    ways (the interval is the confidence and the credible interval; p-values beside P(beat))."""
    tables = []
    order = [m for m in analysis.metric_roles if m in _SHOW] or list(_SHOW)
    for metric in order:
        title, scale, d = _SHOW[metric]
        first = analysis.arms[0].metrics[metric]
        better = "higher" if first.higher_is_better else "lower"
        role = analysis.metric_roles.get(metric, "other")
        label = "" if role == "other" else f" ({role})"
        table = Table(
            title=(
                f"{title.format(currency=analysis.currency, late_days=analysis.late_again_days)}"
                f"{label}; {better} is better; "
                "[95% interval]"
            ),
            title_justify="left",
        )
        for column in (
            "arm",
            "matured",
            "estimate",
            "uplift vs champion",
            "covers",
            "p (Holm)",
            "P(beat)",
            "P(best)",
            "exp. loss",
        ):
            table.add_column(column, justify="left" if column == "arm" else "right", no_wrap=True)
        for arm in analysis.arms:
            m = arm.metrics[metric]
            champion = arm.champion
            if m.status not in ("ok", "champion"):
                table.add_row(
                    f"[bold]{arm.arm}[/bold] *" if champion else arm.arm,
                    f"{m.units:,}",
                    _with_interval(m.estimate, m.low, m.high, scale=scale, digits=d, signed=False),
                    escape(m.message),
                    *["—"] * 5,
                )
                continue
            table.add_row(
                f"[bold]{arm.arm}[/bold] *" if champion else arm.arm,
                f"{m.units:,}",
                _with_interval(m.estimate, m.low, m.high, scale=scale, digits=d, signed=False),
                "ref."
                if champion
                else _with_interval(
                    m.uplift, m.uplift_low, m.uplift_high, scale=scale, digits=d, signed=True
                ),
                "—" if champion else _share(m.coverage),
                "—" if champion else _p(m.p_holm),
                "—" if champion else f"{m.prob_beat_champion:.3f}",
                "—" if math.isnan(m.prob_best) else f"{m.prob_best:.3f}",
                "—" if champion else f"{scale * m.expected_loss:,.{d + 1}f}",
            )
        tables.append(table)
    return tables


def segment_table(
    fit: SegmentFit, *, units: Mapping[str, Mapping[str, int]] | None = None
) -> Table:
    """Pay-on-time per segment and arm (partial pooling), the best arm of each segment marked."""
    table = Table(
        title=(
            "pay on time by segment, % [95% CrI], partially pooled across segments; "
            "* best arm of the segment (P(best))"
        ),
        title_justify="left",
    )
    table.add_column("segment", no_wrap=True)
    for arm in fit.arms:
        table.add_column(arm, justify="right", no_wrap=True)
    for s, segment in enumerate(fit.segments):
        cells = []
        for a, arm in enumerate(fit.arms):
            text = (
                f"{100 * fit.means[s, a]:.1f} [{100 * fit.low[s, a]:.1f}, "
                f"{100 * fit.high[s, a]:.1f}]"
            )
            if units is not None:
                text += f" n={units[segment].get(arm, 0):,}"
            if fit.best_arm[s] == arm:
                text = f"[bold]{text} *{fit.p_best[s, a]:.2f}[/bold]"
            cells.append(text)
        table.add_row(escape(segment), *cells)
    return table
