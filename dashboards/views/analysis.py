"""Analysis: every metric per arm with its uncertainty, against the champion; the SRM check."""

from __future__ import annotations

import charts
import data
import pandas as pd
import streamlit as st

from engine import service

url, key = data.page_experiment()
reading = data.page_reading(url, key)

try:
    segment_values = data.load_segment_values(url, key, reading.cycle)
except (service.StorageError, service.ServiceError) as exc:
    st.error(f"Cannot read the segments of `{key}`: {exc}", icon=":material/error:")
    st.stop()
chosen: list[str] = st.multiselect(
    "Segments",
    segment_values,
    placeholder="All debtors",
    help="Analyse only debtors of these segments (debtor types); empty: all debtors.",
    format_func=lambda s: f"{s} ({kind})" if (kind := data.debtor_type(s)) else s,
)
try:
    analysis = data.load_analysis(url, key, reading.as_of, reading.cycle, tuple(sorted(chosen)))
except (service.StorageError, service.ServiceError) as exc:
    st.error(f"Cannot analyse `{key}`: {exc}", icon=":material/error:")
    st.stop()

st.title(f"Analysis: {analysis.name}")
if label := data.load_report(url, key, reading.as_of, reading.cycle).definition.label:
    st.warning(f"Measured on the current outcome definition only: {label}.")
scope = "all debtors" if analysis.segments is None else "segments " + ", ".join(analysis.segments)
# The comparison's cells: allocation periods with distinct splits (per segment under
# per-segment allocation, whose segments are then the strata).
periods = data.counted(analysis.cells, "allocation period")
if analysis.strata > 1:
    strata, cells = data.counted(analysis.strata, "segment"), data.counted(analysis.cells, "cell")
    periods = f"{strata} as strata, {cells}"
st.caption(
    f"`{analysis.experiment}` · experiment version {analysis.experiment_version} · "
    f"as of {data.when(analysis.as_of)} · {scope} · {periods} · "
    f"Monte Carlo seed {analysis.seed}"
)
data.reading_banner(url, key, reading)

metric: str = st.radio(
    "Metric",
    [m for m in analysis.metric_roles if m in data.METRICS] or list(data.METRICS),
    format_func=lambda m: (
        data.METRICS[m].short
        + (
            ""
            if analysis.metric_roles.get(m, "other") == "other"
            else f" ({analysis.metric_roles[m]})"
        )
    ),
    horizontal=True,
    key="metric",
)
title, what = data.metric_heading(analysis, metric)
st.subheader(title)
st.markdown(f"{what[0].upper()}{what[1:]}.")

champion = next((a for a in analysis.arms if a.champion), None)
champion_row = f"★ {champion.label}" if champion else ""


def _highlight(row: pd.Series) -> list[str]:
    style = "background-color: rgba(255, 196, 0, 0.18); font-weight: 600"
    return [style if row.name == champion_row else ""] * len(row)


st.table(data.analysis_frame(analysis, metric).style.apply(_highlight, axis=1))
first = analysis.arms[0].metrics[metric]
share = first.unit == "share"
st.caption(
    "Estimate: the arm's level over the randomised debtors, with its 95% interval. Uplift: "
    "arm \u2212 champion"
    + (" in percentage points" if share else "")
    + ", the difference the debtor population would see (strata weighted by their share of "
    "the randomised debtors); its 95% interval is both the confidence and the credible "
    "interval, and the promotion rule decides on the same estimate. Covers: share of the "
    "randomised debtors the comparison rests on. P(beat ★) and expected loss (what switching "
    "costs, on average, where it is a mistake) follow the metric's direction"
    + ("" if first.higher_is_better else ": **lower is better** here")
    + "; p (Holm): the same comparison's p-value, adjusted across the challengers."
)
notes = data.missing_notes(analysis, metric)
if notes:
    st.caption(
        "No comparison for "
        + "; ".join(f"{label}: {reason}" for label, reason in notes.items())
        + "."
    )

st.markdown(f"**{title}: uplift against the champion** ({champion.label if champion else '—'})")
uplifts = data.forest_frame(analysis, metric)
if uplifts.empty:
    st.info("No challenger has an interval for this metric yet.", icon=":material/info:")
else:
    st.altair_chart(
        charts.forest_chart(uplifts, data.uplift_axis_title(analysis, metric)), width="stretch"
    )
    st.caption(
        "Point: estimate; bar: 95% interval. An interval clear of the dashed zero line is a "
        "difference the data support."
    )

st.subheader("Sample-ratio check")
srm = analysis.srm
details = (
    f"p = {data.p_value(srm.p_value)}, threshold {srm.threshold:g} "
    f"(χ² = {data.number(srm.chi2, 2)} over {analysis.cells} allocation cells)"
)
if data.nan(srm.p_value):
    st.warning(
        f"**Sample ratio not tested:** {srm.reason or 'no assignments'}.", icon=":material/help:"
    )
elif srm.flagged:
    st.error(
        f"**Sample ratio mismatch:** {details}. The debtors assigned per arm do not match the "
        "traffic weights: check the assignment pipeline before trusting any figure above."
        + (f" {srm.reason}" if srm.reason else ""),
        icon=":material/error:",
    )
else:
    st.success(
        f"**Sample ratio OK:** {details}. The debtors assigned per arm match the traffic "
        "weights in force when they were assigned.",
        icon=":material/check_circle:",
    )
if srm.observed:
    left, _ = st.columns([3, 2])
    left.table(data.srm_frame(analysis))
    left.caption(
        "Expected: per allocation cell, debtors assigned \u00d7 the arm's weight, summed."
        + (
            f" {data.number(srm.constrained)} debtors a contact rule sent to the fallback arm "
            "are left out: their arm was the rule's, not the random draw's."
            if srm.constrained
            else ""
        )
    )

st.caption(
    "**How to read it.** A bandit shifts traffic towards the winner while the baseline drifts "
    "(season, portfolio), and a per-segment bandit gives each arm different segments. Each "
    "debtor therefore counts with the inverse of the probability of the arm they got (within "
    "their segment, when the split depends on it), and segments count by their share of all "
    "randomised debtors, never by an arm's traffic. *Pooled* divides the totals, for "
    "contrast: it is biased exactly when traffic and baseline change together."
)
