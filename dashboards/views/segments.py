"""Segments: pay on time per debtor type and arm, with partial pooling across the types."""

from __future__ import annotations

import charts
import data
import streamlit as st

from engine import service
from engine.stats.hierarchical import NotConvergedError

url, key = data.page_experiment()
reading = data.page_reading(url, key)

try:
    fit = data.load_segments(url, key, reading.as_of, reading.cycle)
    report = data.load_report(url, key, reading.as_of, reading.cycle)
except NotConvergedError as exc:
    st.warning(
        f"The segment model did not converge, so it shows no numbers: {exc.reason}.",
        icon=":material/warning:",
    )
    st.stop()
except service.ServiceError as exc:
    st.info(
        f"No segment view for `{key}`: {exc}. Debtors need a segment (debtor type) at assignment.",
        icon=":material/info:",
    )
    st.stop()
except service.StorageError as exc:
    st.error(data.database_error(exc), icon=":material/error:")
    st.stop()

labels = {k.arm: k.label for k in report.kpis}
arms = [labels.get(a, a) for a in fit.arms]

st.title(f"Segments: {report.name}")
st.caption(
    f"`{report.key}` · as of {data.when(report.as_of)} · pay on time within "
    f"{data.counted(report.pay_window_days, 'day')}, matured debtors · "
    f"{data.counted(len(fit.segments), 'segment')} \u00d7 {data.counted(len(fit.arms), 'arm')}"
)
data.reading_banner(url, key, reading)
st.caption(
    "Hierarchical model with partial pooling across the debtor types (16 PAIR types: "
    "**W**illing/**D**efiant, **A**ble/**I**nsolvent, **O**rganised/**C**haotic, "
    "**E**motional/**R**ational): small segments borrow strength from the others and are "
    "pulled towards the arm's overall rate, large ones barely move. Counts are pooled over "
    "allocation periods, so read it as a ranking of the arms within each segment; the "
    "Analysis page has the period-stratified, unbiased comparison."
)

st.subheader("Pay on time by debtor type and arm")
st.altair_chart(charts.segment_heatmap(data.segment_cells(fit, labels), arms), width="stretch")
st.caption("★ and the red frame: the arm most likely to be best in the segment (highest P(best)).")

st.subheader("Per segment: posterior mean [95% credible interval] and P(best)")


def _best(value: str) -> str:
    return "background-color: rgba(214, 39, 40, 0.10); font-weight: 600" if "★" in value else ""


st.table(data.segment_frame(fit, labels).style.map(_best))
st.caption("★: the segment's most probable best arm, as in the heatmap.")
pooled = ", ".join(
    f"{labels.get(arm, arm)} {data.pct(float(m))}"
    for arm, m in zip(fit.arms, fit.pooled_means, strict=True)
)
st.caption(
    f"Population mean per arm (the estimate for a segment without data): {pooled}. "
    f"Fitted in {fit.seconds:.1f} s (seed {fit.seed})."
)
with st.expander("Model diagnostics (for analysts)"):
    # The fit's own names (grid points, edge density, R-hat ...): for whoever checks the model.
    st.caption(
        f"Method {fit.method}; "
        + ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in fit.diagnostics.items())
        + "."
    )
