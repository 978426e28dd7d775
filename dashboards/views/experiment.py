"""One experiment: KPIs per arm, traffic over time, promotions and the allocation trail."""

from __future__ import annotations

import charts
import data
import pandas as pd
import streamlit as st

data.configure_page()
url = data.database_url()
experiments = data.experiments_or_stop(url)

names = {e.key: e.name for e in experiments}
keys = list(names)
wanted = st.query_params.get("experiment")
key = st.selectbox(
    "Experiment",
    keys,
    index=keys.index(wanted) if wanted in names else 0,
    format_func=lambda k: f"{names[k]} ({k})",
)
st.query_params["experiment"] = key
report = data.load_report(url, key)
labels = {k.arm: k.label for k in report.kpis}
champion = labels.get(report.champion, report.champion)

st.title(report.name)
st.caption(
    f"`{report.key}` · experiment version {report.experiment_version} · "
    f"amounts in {report.currency}"
)
if report.description:
    st.markdown(report.description)

st.markdown(
    f"**Current champion:** :orange-badge[★ {champion}] `{report.champion}`"
    f"&emsp;**As of:** {data.when(report.as_of)}"
)
promoted = data.promotion_frame(report)
cols = st.columns(4)
cols[0].metric("Debtors assigned", data.number(sum(k.assigned for k in report.kpis)))
cols[1].metric("Matured (pay window)", data.number(sum(k.pay_matured for k in report.kpis)))
cols[2].metric("Promotions", int((promoted["Decision"] == "promoted").sum()))
cols[3].metric("Allocation version", report.allocations[-1].version)

st.subheader("KPIs per arm")
st.caption(
    f"Pay on time: paid within {report.pay_window_days} days, over matured debtors only "
    "(95% credible interval beside). Immature: share of debtors whose window is still open. "
    f"Churn: within {report.churn_horizon_days} days. ★ marks the champion; CLV uplift is "
    "against it. These figures pool all allocation periods; when traffic shifted while the "
    "baseline moved (or differs by debtor type), the Analysis page's stratified estimates are "
    "the ones to compare arms on."
)
if report.definition.label:
    st.warning(f"Measured on the current outcome definition only: {report.definition.label}.")
kpis = data.kpi_frame(report)
champion_row = f"★ {champion}"


def _highlight(row: pd.Series) -> list[str]:
    style = "background-color: rgba(255, 196, 0, 0.18); font-weight: 600"
    return [style if row.name == champion_row else ""] * len(row)


st.table(kpis.style.apply(_highlight, axis=1))
if not data.churn_matured(report):
    st.caption(
        f"No debtor has reached the {report.churn_horizon_days}-day churn horizon yet, so "
        "churn and CLV show — until the first cohort matures."
    )

st.subheader("Traffic allocation over time")
weights = data.allocation_frame(report)
if weights.empty:
    st.info("No allocation versions yet.")
else:
    marks = data.promotion_marks(report)
    st.altair_chart(charts.traffic_chart(weights, marks), width="stretch")
    st.caption("Dashed lines: promotions (champion changes).")

st.subheader("Promotion log")
st.caption(
    "Decisions that changed the allocation: promotions, arms stopped for a guardrail breach, "
    "rollbacks; and status changes (`dunning pause`, `resume`, `stop`). `dunning promote` and "
    "`dunning run-cycle` audit every other decision too."
)
if promoted.empty:
    st.info(f"No promotion yet: {champion} has been champion throughout.")
else:
    st.table(promoted.set_index("Decided at"))
last = report.promotions[-1] if report.promotions else None
if last is not None and last.action not in ("promote", "stop_arm", "rollback", "status"):
    st.caption(f"Latest decision ({data.when(last.decided_at)}): {last.explanation}")

with st.expander(f"Allocation history ({len(report.allocations)} versions, newest first)"):
    st.caption("Traffic share per arm in each version; the seed reproduces its Monte Carlo draw.")
    st.dataframe(
        data.history_frame(report),
        hide_index=True,
        width="stretch",
        column_config={"Reason": st.column_config.TextColumn(width="large")},
    )
