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
