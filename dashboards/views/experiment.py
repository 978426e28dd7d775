"""One experiment, for the manager first: the recommendation and why, guardrails, money; then
the KPIs per arm, traffic over time and the promotion log."""

from __future__ import annotations

import charts
import data
import pandas as pd
import streamlit as st

url, key = data.page_experiment()
reading = data.page_reading(url, key)
view = data.read_or_stop(lambda: data.load_manager(url, key, reading.as_of, reading.cycle))
report = view.report
labels = {k.arm: k.label for k in report.kpis}
champion = labels.get(report.champion, report.champion)

st.title(report.name)
st.caption(
    f"`{report.key}` · experiment version {report.experiment_version} · {view.status} · "
    f"amounts in {report.currency} · as of {data.when(report.as_of)}"
)
data.reading_banner(url, key, reading)
if report.description:
    st.markdown(report.description)
if report.definition.label:
    st.warning(f"Measured on the current outcome definition only: {report.definition.label}.")

st.subheader("Recommendation")
card = view.scorecard
colour = {"promote": "green", "stop_arm": "red", "rolled_back": "orange"}.get(card.verdict, "blue")
with st.container(border=True):
    st.markdown(f"### :{colour}[{card.headline}]")
    for sentence in card.sentences:
        st.markdown(sentence)
    decided = (
        f"Latest scheduled decision: {data.when(card.decided_at)}."
        if card.decided_at
        else "No scheduled decision yet."
    )
    st.caption(
        f"{decided} Current champion: ★ {champion}. The effect is the challenger's difference "
        "to the champion over the randomised debtors whose outcome is known, with its 95% "
        "interval; the rule promotes only once its always-valid interval (valid although it "
        "looks every day) excludes no effect."
    )
    if card.outlook is not None and card.verdict in ("keep_running", "no_data"):
        st.caption(
            "How the days are estimated: the variance of today's difference shrinks as 1/n as "
            "each arm keeps its average daily intake of the last 7 days; the days are those "
            "until the always-valid interval at today's estimate would exclude zero "
            f"(today it would establish a difference of {100 * card.outlook.detectable:.1f} "
            "points or more)."
        )
for alarm in view.alarms:
    st.error(alarm, icon=":material/warning:")
for note in card.notes:
    st.info(note, icon=":material/block:")

st.subheader("Guardrails")
guardrails = data.guardrail_frame(view)
if guardrails.empty:
    st.info("This experiment has no guardrail.", icon=":material/info:")
else:

    def _status(value: str) -> str:
        colours = {"ok": "#009E73", "unclear": "#E69F00", "breached": "#D55E00"}
        return f"color: {colours[value]}; font-weight: 600" if value in colours else ""

    st.table(guardrails.set_index(["Guardrail", "Challenger"]).style.map(_status, subset="Status"))
    points = data.guardrail_points(view)
    for name, group in points.groupby("guardrail", sort=False):
        unit = "per 1,000" if name in ("collection cases", "reminders") else "pp"
        st.altair_chart(charts.guardrail_chart(group, unit=unit), width="stretch")
    st.caption(
        "Increase over the champion with its 95% interval (bar) and the tolerated margin "
        "(orange tick). ok: the always-valid upper bound is below the margin; breached: its "
        "lower bound is above it (the rule then stops the arm); unclear: neither yet. As the "
        "rule judged it at its latest decision."
    )

st.subheader("Money")
st.caption("Per debtor and arm, with 95% intervals; a configured constant shows no interval.")
st.table(data.money_frame(view))
assumptions = data.money_assumptions(view)
if assumptions:
    st.caption(" ".join(f"**{item}:** {text.rstrip('.')}." for item, text in assumptions.items()))
if view.switch is not None:
    st.markdown(
        f"**Monthly impact of switching to {view.switch.label}** instead of ★ {champion}, at "
        f"today's volume of {data.number(view.switch.debtors_per_month)} debtors a month"
    )
    st.table(data.switch_frame(view))

st.subheader("KPIs per arm")
pay_window = data.counted(report.pay_window_days, "day")
churn_horizon = data.counted(report.churn_horizon_days, "day")
st.caption(
    f"Pay on time: paid within {pay_window}, over matured debtors only "
    "(95% credible interval beside). Immature: share of debtors whose window is still open. "
    f"Churn: within {churn_horizon}. ★ marks the champion; CLV uplift is "
    "against it. These figures pool all allocation periods; when traffic shifted while the "
    "baseline moved (or differs by debtor type), the Analysis page's stratified estimates are "
    "the ones to compare arms on."
)
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
    st.altair_chart(
        charts.traffic_chart(
            weights, arms=[k.label for k in report.kpis], events=data.event_marks(view)
        ),
        width="stretch",
    )
    st.caption(
        "Share of new debtors per arm in each allocation version; vertical lines mark "
        "promotions, stopped arms and rollbacks (dash pattern by kind, see the legend)."
    )

st.subheader("Promotion log")
st.caption(
    "Decisions that changed the allocation: promotions, arms stopped for a guardrail breach, "
    "rollbacks; and status changes (`dunning pause`, `resume`, `stop`). `dunning promote` and "
    "`dunning run-cycle` audit every other decision too."
)
promoted = data.promotion_frame(report)
if promoted.empty:
    st.info(f"No promotion yet: {champion} has been champion throughout.")
else:
    st.table(promoted.set_index("Decided at"))
last = report.promotions[-1] if report.promotions else None
if last is not None and last.action not in ("promote", "stop_arm", "rollback", "status"):
    st.caption(
        f"The rule's own record of its latest decision ({data.when(last.decided_at)}): "
        f"{last.explanation}"
    )

versions = data.counted(len(report.allocations), "version")
with st.expander(f"Allocation history ({versions}, newest first)"):
    st.caption("Traffic share per arm in each version; the seed reproduces its Monte Carlo draw.")
    st.dataframe(
        data.history_frame(report),
        hide_index=True,
        width="stretch",
        column_config={"Reason": st.column_config.TextColumn(width="large")},
    )
