"""Overview: every experiment in the database, one line each."""

from __future__ import annotations

import data
import streamlit as st

data.configure_page()
st.title("Dunning experiments")
st.caption(f"Reading `{data.display_url(data.database_url())}` (read-only; refreshed every 60 s).")

experiments = data.experiments_or_stop(data.database_url())

total = sum(e.assigned for e in experiments)
left, right = st.columns(2)
left.metric("Experiments", len(experiments))
right.metric("Debtors assigned", data.number(total))

st.dataframe(
    data.overview_frame(experiments),
    hide_index=True,
    width="stretch",
    column_config={"Debtors": st.column_config.NumberColumn(format="localized")},
)

st.subheader("Open an experiment")
for e in experiments:
    st.page_link(
        "views/experiment.py",
        label=f"{e.name} (`{e.key}`), champion **{e.champion}**",
        icon=":material/science:",
        query_params={"experiment": e.key},
    )
