"""Trends: the cumulative uplift against the champion over time, per metric, and the traffic."""

from __future__ import annotations

import charts
import data
import streamlit as st

from engine import service

#: Metrics with a daily trend (those compared directly on a per-debtor outcome), and the
#: late-again rate of an experiment with repeat cases (per case, clustered by customer).
TREND_METRICS = (
    "pay_on_time",
    "churn",
    "collected_per_debtor",
    "cases_per_1000",
    "reminders_per_1000",
)
CASE_TREND_METRICS = ("late_again",)

url, key = data.page_experiment()
reading = data.page_reading(url, key)
view = data.read_or_stop(lambda: data.load_manager(url, key, reading.as_of, reading.cycle))
report = view.report
labels = {k.arm: k.label for k in report.kpis}
arms = [k.label for k in report.kpis]
champion = labels.get(report.champion, report.champion)

st.title(f"Trends: {report.name}")
st.caption(f"`{report.key}` · as of {data.when(report.as_of)} · champion ★ {champion}")
data.reading_banner(url, key, reading)
if report.definition.label:
    st.warning(f"Measured on the current outcome definition only: {report.definition.label}.")

roles = report.analysis.metric_roles
# Late again only where there are repeat cases: without them no case is ever "again".
offered = TREND_METRICS + (CASE_TREND_METRICS if report.analysis.late_again_days else ())
ordered = [m for m in roles if m in offered] + [m for m in offered if m not in roles]
metric: str = st.radio(
    "Metric",
    ordered,
    format_func=lambda m: (
        data.METRICS[m].short + ("" if roles.get(m, "other") == "other" else f" ({roles[m]})")
    ),
    horizontal=True,
    key="trend_metric",
)
title, what = data.metric_heading(report.analysis, metric)
st.subheader(f"Cumulative uplift: {title}")
try:
    points = data.load_trend(url, key, metric, reading.as_of, reading.cycle)
except (service.StorageError, service.ServiceError) as exc:
    st.error(data.database_error(exc), icon=":material/error:")
    st.stop()
unit = report.analysis.arms[0].metrics[metric].unit
trend = data.trend_frame(points, labels, "share" if unit == "share" else unit)
events = data.event_marks(view)
if trend.empty:
    st.info(
        "Not enough data yet: no challenger has debtors with a known outcome on this metric.",
        icon=":material/info:",
    )
else:
    axis = "pp" if unit == "share" else unit
    st.altair_chart(
        charts.trend_chart(
            trend,
            arms=arms,  # the champion's colour stays reserved: one colour per arm everywhere
            title=f"Challenger \u2212 ★ {champion} ({axis})",
            events=events,
        ),
        width="stretch",
    )
    known = (
        "the cases whose late-again window had closed by then, the customer the unit of the "
        "interval"
        if metric in CASE_TREND_METRICS
        else "the debtors whose outcome was known by then"
    )
    st.caption(
        f"Each day: the difference to ★ {champion} in {what}, over {known} (the same "
        "comparison as the Analysis page and the promotion rule), with its 95% interval as "
        "the band. The dashed line is no difference."
    )

st.subheader("Traffic")
traffic = data.traffic_frame(view)
if traffic.empty:
    st.info("No debtor assigned yet.", icon=":material/info:")
else:
    st.altair_chart(charts.assigned_chart(traffic, arms=arms, events=events), width="stretch")
    st.caption(
        "New debtors per day and arm (Okabe-Ito colours, the same arm always the same colour); "
        "vertical lines mark promotions, stopped arms and rollbacks."
    )
