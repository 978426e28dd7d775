"""History: every scheduled decision in words, and the experiment's versions with their diffs."""

from __future__ import annotations

import data
import streamlit as st

url, key = data.page_experiment()
view = data.read_or_stop(lambda: data.load_manager(url, key))
versions = data.read_or_stop(lambda: data.load_versions(url, key))
report = view.report

st.title(f"History: {report.name}")
st.caption(f"`{report.key}` · as of {data.when(report.as_of)}")

st.subheader("Decisions")
decisions = data.decision_frame(view)
if decisions.empty:
    st.info("No scheduled decision yet: `dunning run-cycle` takes one a day.")
else:
    st.caption(
        f"{data.counted(len(decisions), 'decision')}, newest first: every scheduled run of the "
        "promotion rule and every status change, each with its reason."
    )
    st.dataframe(
        decisions,
        hide_index=True,
        width="stretch",
        column_config={
            "Date": st.column_config.TextColumn(width="small"),
            "Action": st.column_config.TextColumn(width="small"),
            "Reason": st.column_config.TextColumn(width="large"),
        },
    )

st.subheader("Experiment versions")
st.caption(
    "Each change of the experiment file is a new version (`dunning history`); the changes are "
    "those from the previous version."
)
st.table(data.version_frame(versions).set_index("Version"))
