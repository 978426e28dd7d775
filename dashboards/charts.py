"""Altair charts for the dashboard."""

from __future__ import annotations

import altair as alt
import pandas as pd

#: Okabe & Ito (2008) colour-blind-safe palette, black left out (the event rules use it).
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442"]
#: Dash pattern per marked event, so a stop and a promotion differ without colour.
EVENT_DASH = {"promoted": [6, 3], "arm stopped": [2, 2], "rolled back": [8, 2, 2, 2]}


def sized(chart: alt.Chart | alt.LayerChart, height: int) -> alt.Chart | alt.LayerChart:
    """``height`` pixels of plot, the axes and legends around it.

    Streamlit's default for a stretched chart (``autosize: fit``) fits the axes, the legends
    and a long vertical axis title *into* the height, leaving a strip of plot; ``fit-x``
    stretches the width only and keeps the height for the data.
    """
    fitted: alt.Chart | alt.LayerChart = chart.properties(
        height=height, autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
    )
    return fitted


def arm_scale(arms: list[str]) -> alt.Scale:
    """One fixed colour per arm on every chart (the experiment's arm order)."""
    return alt.Scale(domain=arms, range=OKABE_ITO[: len(arms)] or OKABE_ITO)


def event_rules(events: pd.DataFrame) -> alt.LayerChart:
    """A vertical rule per promotion, stop and rollback, dashed by kind, labelled."""
    rules = (
        alt.Chart(events)
        .mark_rule(color="black", strokeWidth=1.5)
        .encode(
            x="when:T",
            strokeDash=alt.StrokeDash(
                "event:N",
                title="Event",
                scale=alt.Scale(domain=list(EVENT_DASH), range=list(EVENT_DASH.values())),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("when:T", title="Decided", format="%Y-%m-%d"),
                alt.Tooltip("what:N", title="Event"),
            ],
        )
    )
    text = (
        alt.Chart(events)
        .mark_text(align="left", dx=4, dy=-6, fontSize=11)
        .encode(x="when:T", y=alt.value(0), text="what:N")
    )
    layered: alt.LayerChart = rules + text
    return layered


def traffic_chart(
    weights: pd.DataFrame,
    promotions: pd.DataFrame | None = None,
    *,
    arms: list[str] | None = None,
    events: pd.DataFrame | None = None,
) -> alt.Chart | alt.LayerChart:
    """Stacked traffic share per arm over allocation versions.

    ``weights`` has columns created_at, version, arm, weight; a weight holds until the next
    version, hence the step interpolation. ``promotions`` (decided_at, label) draws a rule per
    champion change.
    """
    area = (
        alt.Chart(weights)
        .mark_area(interpolate="step-after", opacity=0.85)
        .encode(
            x=alt.X(
                "created_at:T", title="Allocation created (UTC)", axis=alt.Axis(format="%b %d")
            ),
            y=alt.Y(
                "weight:Q",
                stack="zero",
                title="Traffic share",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color(
                "arm:N",
                title="Arm",
                scale=arm_scale(arms or sorted(set(weights["arm"]))),
                legend=alt.Legend(orient="bottom", labelLimit=0, columns=2),
            ),
            order=alt.Order("arm:N"),
            tooltip=[
                alt.Tooltip("created_at:T", title="Created", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("version:Q", title="Allocation version"),
                alt.Tooltip("arm:N", title="Arm"),
                alt.Tooltip("weight:Q", title="Share", format=".1%"),
            ],
        )
    )
    if events is not None:
        return sized(area if events.empty else area + event_rules(events), 320)
    if promotions is None or promotions.empty:
        return sized(area, 320)
    rules = (
        alt.Chart(promotions)
        .mark_rule(color="black", strokeDash=[4, 3], strokeWidth=1.5)
        .encode(
            x="decided_at:T",
            tooltip=[
                alt.Tooltip("decided_at:T", title="Promotion", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("label:N", title="Champion change"),
            ],
        )
    )
    text = rules.mark_text(align="left", dx=4, dy=-6, fontSize=11).encode(
        y=alt.value(0), text="label:N"
    )
    return sized(area + rules + text, 320)


def forest_chart(uplifts: pd.DataFrame, title: str) -> alt.LayerChart:
    """Uplift of each challenger against the champion: a rule for the 95% interval and a point
    for the estimate, with the zero line.

    ``uplifts`` has columns arm, uplift, low, high, text (see ``data.forest_frame``).
    """
    arms = list(dict.fromkeys(uplifts["arm"]))
    base = alt.Chart(uplifts).encode(
        y=alt.Y(
            "arm:N",
            title=None,
            sort=arms,
            axis=alt.Axis(labelLimit=320, labelFontSize=13, labelPadding=8),
        ),
        tooltip=[alt.Tooltip("arm:N", title="Arm"), alt.Tooltip("text:N", title="Uplift")],
    )
    rules = base.mark_rule(strokeWidth=3, color="#1f77b4").encode(
        x=alt.X("low:Q", title=title, scale=alt.Scale(zero=True, nice=True, padding=16)),
        x2="high:Q",
    )
    points = base.mark_point(filled=True, size=90, opacity=1, color="#1f77b4").encode(x="uplift:Q")
    zero = (
        alt.Chart(pd.DataFrame({"x": [0.0]}))
        .mark_rule(color="#555", strokeDash=[4, 3])
        .encode(x="x:Q")
    )
    chart: alt.LayerChart = (zero + rules + points).properties(height=alt.Step(36))
    return chart


def segment_heatmap(cells: pd.DataFrame, arms: list[str]) -> alt.LayerChart:
    """Pay on time per (segment, arm) as colour, the value as text; the best arm of each
    segment framed and starred.

    ``cells`` has columns segment, type, arm, mean, low, high, p_best, best, text.
    """
    base = alt.Chart(cells).encode(
        x=alt.X(
            "arm:N",
            title=None,
            sort=arms,
            axis=alt.Axis(orient="top", labelAngle=0, labelLimit=300, labelFontSize=12),
        ),
        y=alt.Y("segment:N", title="Debtor type", axis=alt.Axis(labelFontSize=12)),
        tooltip=[
            alt.Tooltip("segment:N", title="Segment"),
            alt.Tooltip("type:N", title="Type"),
            alt.Tooltip("arm:N", title="Arm"),
            alt.Tooltip("mean:Q", title="Pay on time", format=".1%"),
            alt.Tooltip("low:Q", title="95% CrI low", format=".1%"),
            alt.Tooltip("high:Q", title="95% CrI high", format=".1%"),
            alt.Tooltip("p_best:Q", title="P(best)", format=".0%"),
        ],
    )
    rect = base.mark_rect().encode(
        color=alt.Color(
            "mean:Q",
            title="Pay on time",
            scale=alt.Scale(scheme="blues", domain=[0, 1]),
            legend=alt.Legend(format="%", orient="right", gradientLength=240),
        )
    )
    frame = (
        base.transform_filter(alt.datum.best)
        .mark_rect(filled=False, stroke="#d62728", strokeWidth=3)
        .encode()
    )
    ink = alt.condition(alt.datum.mean > 0.6, alt.value("white"), alt.value("black"))
    text = (
        base.transform_filter(~alt.datum.best)
        .mark_text(fontSize=13)
        .encode(text="text:N", color=ink)
    )
    best = (
        base.transform_filter(alt.datum.best)
        .mark_text(fontSize=14, fontWeight="bold")
        .encode(text="text:N", color=ink)
    )
    chart: alt.LayerChart = (rect + frame + text + best).properties(height=alt.Step(30))
    return chart


def assigned_chart(
    traffic: pd.DataFrame, *, arms: list[str], events: pd.DataFrame
) -> alt.Chart | alt.LayerChart:
    """Debtors assigned per day, stacked by arm (columns day, arm, assigned)."""
    bars = (
        alt.Chart(traffic)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="Day (UTC)", axis=alt.Axis(format="%b %d")),
            y=alt.Y("assigned:Q", stack="zero", title="Debtors assigned per day"),
            color=alt.Color(
                "arm:N",
                title="Arm",
                scale=arm_scale(arms),
                legend=alt.Legend(orient="bottom", labelLimit=0, columns=2),
            ),
            tooltip=[
                alt.Tooltip("day:T", title="Day", format="%Y-%m-%d"),
                alt.Tooltip("arm:N", title="Arm"),
                alt.Tooltip("assigned:Q", title="Debtors", format=","),
            ],
        )
    )
    return sized(bars if events.empty else bars + event_rules(events), 280)


def trend_chart(
    trend: pd.DataFrame, *, arms: list[str], title: str, events: pd.DataFrame
) -> alt.Chart | alt.LayerChart:
    """Cumulative uplift per challenger over time: a line and its 95% interval band, the zero
    line (the champion) and the event rules (columns day, arm, uplift, low, high).

    ``arms`` are every arm, the champion too: the colour scale keeps one colour per arm on
    every chart, while the legend lists the challengers drawn, the champion being the zero line.
    """
    drawn = set(trend["arm"])
    scale = arm_scale(arms)
    colour = alt.Color(
        "arm:N",
        title="Challenger",
        scale=scale,
        legend=alt.Legend(
            orient="bottom",
            labelLimit=0,
            columns=2,
            values=[a for a in arms if a in drawn],
            symbolType="stroke",
            symbolStrokeWidth=3,
            symbolOpacity=1,  # not the band's pale fill
        ),
    )
    x = alt.X("day:T", title="Outcomes known by (UTC)", axis=alt.Axis(format="%b %d"))
    band = (
        alt.Chart(trend)
        .mark_area(opacity=0.18)
        .encode(x=x, y=alt.Y("low:Q", title=title), y2="high:Q", color=colour)
    )
    line = (
        alt.Chart(trend)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=x,
            y="uplift:Q",
            color=colour,
            tooltip=[
                alt.Tooltip("day:T", title="As of", format="%Y-%m-%d"),
                alt.Tooltip("arm:N", title="Challenger"),
                alt.Tooltip("uplift:Q", title="Uplift", format="+.2f"),
                alt.Tooltip("low:Q", title="95% low", format="+.2f"),
                alt.Tooltip("high:Q", title="95% high", format="+.2f"),
                alt.Tooltip("units:Q", title="Debtors compared", format=","),
            ],
        )
    )
    zero = (
        alt.Chart(pd.DataFrame({"y": [0.0]}))
        .mark_rule(color="#555", strokeDash=[4, 3])
        .encode(y="y:Q")
    )
    layers = band + line + zero
    if not events.empty:
        layers = layers + event_rules(events)
    return sized(layers, 320)


def guardrail_chart(points: pd.DataFrame, *, unit: str) -> alt.LayerChart:
    """Each challenger's increase over the champion on a guardrail with its 95% interval, and
    its margin as a red tick: an interval right of the tick is a breach."""
    arms = list(dict.fromkeys(points["arm"]))
    base = alt.Chart(points).encode(
        y=alt.Y("arm:N", title=None, sort=arms, axis=alt.Axis(labelLimit=320, labelFontSize=13)),
    )
    x_title = f"Increase vs champion ({unit}; lower is better)"
    rules = base.mark_rule(strokeWidth=3, color="#0072B2").encode(
        x=alt.X("low:Q", title=x_title, scale=alt.Scale(zero=True, nice=True, padding=16)),
        x2="high:Q",
    )
    dots = base.mark_point(filled=True, size=90, opacity=1, color="#0072B2").encode(
        x="estimate:Q",
        tooltip=[
            alt.Tooltip("arm:N", title="Challenger"),
            alt.Tooltip("estimate:Q", title="Increase", format="+.2f"),
            alt.Tooltip("margin:Q", title="Margin", format="+.2f"),
            alt.Tooltip("status:N", title="Status"),
        ],
    )
    margin = base.mark_tick(color="#D55E00", thickness=3, size=30).encode(x="margin:Q")
    zero = (
        alt.Chart(pd.DataFrame({"x": [0.0]}))
        .mark_rule(color="#555", strokeDash=[4, 3])
        .encode(x="x:Q")
    )
    chart: alt.LayerChart = (zero + rules + dots + margin).properties(height=alt.Step(40))
    return chart
