"""Altair charts for the dashboard."""

from __future__ import annotations

import altair as alt
import pandas as pd


def traffic_chart(
    weights: pd.DataFrame, promotions: pd.DataFrame | None = None
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
                "arm:N", title="Arm", legend=alt.Legend(orient="bottom", labelLimit=0, columns=2)
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
    if promotions is None or promotions.empty:
        single: alt.Chart = area.properties(height=320)
        return single
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
    layered: alt.LayerChart = (area + rules + text).properties(height=320)
    return layered


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
