"""Overview: every experiment in the database, one line each, with what needs attention."""

from __future__ import annotations

import data
import pandas as pd
import streamlit as st

from engine import service
from engine.service.manager import STALE_DAYS

data.configure_page()
st.title("Dunning experiments")
st.caption(f"Reading `{data.display_url(data.database_url())}` (read-only; refreshed every 60 s).")

url = data.database_url()
experiments = data.experiments_or_stop(url)

total = sum(e.assigned for e in experiments)
left, middle, right = st.columns(3)
left.metric("Experiments", len(experiments))
middle.metric("Debtors assigned", data.number(total))

rows = []
alarmed = 0
for e in experiments:
    try:
        # As of each experiment's last scheduled cycle, like its pages (data.page_reading).
        reading = data.load_reading(url, e.key)
        view = data.load_manager(url, e.key, reading.as_of, reading.cycle)
    except (service.StorageError, service.ServiceError) as exc:
        rows.append({"Key": e.key, "Name": e.name, "Status": e.status, "Alarms": str(exc)})
        alarmed += 1
        continue
    labels = {k.arm: k.label for k in view.report.kpis}
    card = view.scorecard
    alarmed += bool(view.alarms)
    rows.append(
        {
            "Key": e.key,
            "Name": e.name,
            "Status": view.status,
            "Champion": labels.get(e.champion, e.champion),
            "Leading arm": labels.get(view.leading or "", data.DASH),
            "Recommendation": card.headline,
            "Alarms": " ".join(view.alarms) or "none",
            "Latest decision": data.when(card.decided_at),
            "Owner": e.owner or data.DASH,
            "Debtors": e.assigned,
            "Version": e.version,
            "Allocation version": e.allocation_version,
            "Last update": data.when(e.updated_at),
        }
    )
right.metric("With alarms", alarmed)

st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    width="stretch",
    column_config={
        "Debtors": st.column_config.NumberColumn(format="localized"),
        "Alarms": st.column_config.TextColumn(width="large"),
    },
)
st.caption(
    "Leading arm: the arm with the best primary metric so far (stopped arms left out). Alarms: "
    "sample-ratio mismatch, a breached guardrail, a stopped arm, stale data (no new "
    f"assignment or event for {STALE_DAYS} days), or no scheduled cycle when its schedule "
    "says one was due. Figures as of each experiment's last scheduled cycle."
)

st.subheader("Open an experiment")
for e in experiments:
    st.page_link(
        "views/experiment.py",
        label=f"{e.name} (`{e.key}`)",
        icon=":material/science:",
        query_params={"experiment": e.key},
    )
