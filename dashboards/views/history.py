"""History: every scheduled decision in words, and the experiment's versions with their diffs."""

from __future__ import annotations

import data
import streamlit as st

#: Pixels per decision row: three lines of text (the grid wraps only above 64).
REASON_ROW_PX = 72

url, key = data.page_experiment()
reading = data.page_reading(url, key)
view = data.read_or_stop(lambda: data.load_manager(url, key, reading.as_of, reading.cycle))
versions = data.read_or_stop(lambda: data.load_versions(url, key))
report = view.report

st.title(f"History: {report.name}")
st.caption(f"`{report.key}` · as of {data.when(report.as_of)}")
data.reading_banner(url, key, reading)

st.subheader("Decisions")
decisions = data.decision_frame(view)
if decisions.empty:
    st.info("No scheduled decision yet: `dunning run-cycle` takes one a day.")
else:
    st.caption(
        f"{data.counted(len(decisions), 'decision')}, newest first: every scheduled run of the "
        "promotion rule and every status change, each with its reason."
    )
    # The reason is a sentence or two (a stop names the guardrail, its estimate and margin):
    # the grid wraps text only in rows taller than 4rem, and the date and the action need
    # little room, so the reason gets the rest of the width and up to three lines.
    st.dataframe(
        decisions,
        hide_index=True,
        width="stretch",
        height=min(len(decisions), 8) * REASON_ROW_PX + 40,
        row_height=REASON_ROW_PX,
        column_config={
            # Stretched to the page in these proportions.
            "Date": st.column_config.TextColumn(width=150),
            "Action": st.column_config.TextColumn(width=120),
            "Reason": st.column_config.TextColumn(width=900),
        },
    )

st.subheader("Experiment versions")
st.caption(
    "Each change of the experiment file is a new version (`dunning history`); the changes are "
    "those from the previous version."
)
st.table(data.version_frame(versions).set_index("Version"))
