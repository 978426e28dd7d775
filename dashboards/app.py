"""Entry point: ``streamlit run dashboards/app.py`` (from the repository root).

Read-only views of the experiments in ``DATABASE_URL`` (default ``sqlite:///var/demo.sqlite3``).
Streamlit puts this folder on ``sys.path`` (also in AppTest), so the pages import the helpers
beside this file as the top-level modules ``data`` and ``charts``.
"""

from __future__ import annotations

from pathlib import Path

import data
import streamlit as st

_HERE = Path(__file__).resolve().parent

data.configure_page()

page = st.navigation(
    [
        st.Page(
            _HERE / "views" / "overview.py",
            title="Overview",
            icon=":material/table_view:",
            default=True,
        ),
        st.Page(_HERE / "views" / "experiment.py", title="Experiment", icon=":material/science:"),
        st.Page(_HERE / "views" / "trends.py", title="Trends", icon=":material/show_chart:"),
        st.Page(_HERE / "views" / "history.py", title="History", icon=":material/history:"),
        st.Page(_HERE / "views" / "analysis.py", title="Analysis", icon=":material/analytics:"),
        st.Page(_HERE / "views" / "segments.py", title="Segments", icon=":material/grid_view:"),
    ],
    position="top",  # no sidebar: the KPI table needs the full width
)
page.run()
