"""The banner every experiment page opens with: what its figures are as of, what arrived
since, and the control that recomputes them from the newest data. Reads only."""

from __future__ import annotations

import streamlit as st

from engine.plural import counted
from engine.service.reading import Reading

from .format import number, when
from .loading import last_live_seconds, load_reading, read_or_stop


def _live_key(key: str) -> str:
    return f"live:{key}"


def since_words(reading: Reading) -> str:
    """``"Since then: 1,200 new debtors and 3,400 new outcome events; the next cycle
    includes them."`` (or that nothing arrived)."""
    if not reading.written_since:
        return "Nothing new has arrived since."
    parts = [
        counted(n, noun)
        for n, noun in (
            (reading.new_assignments, "new debtor"),
            (reading.new_events, "new outcome event"),
        )
        if n
    ]
    return f"Since then: {' and '.join(parts)}; the next cycle includes them."


def estimate_words(reading: Reading, seconds: float | None) -> str:
    """How long a recompute takes, as far as it is known: the last one here, else its size."""
    if seconds is not None:
        return f"The last recompute here took {seconds:,.{1 if seconds < 10 else 0}f} s."
    # No guess at a speed: the time depends on the machine and the database.
    if reading.assigned:
        return f"Recomputing reads all {number(reading.assigned)} debtors' outcomes again."
    return "Recomputing reads every debtor's outcomes again."


def page_reading(url: str, key: str) -> Reading:
    """The page's reading (:func:`engine.service.reading.dashboard_reading`): as of the last
    scheduled cycle, or of the newest data once the visitor asked for a recompute."""
    asked = bool(st.session_state.get(_live_key(key), False))
    return read_or_stop(lambda: load_reading(url, key, asked))


def reading_banner(url: str, key: str, reading: Reading) -> None:
    """As of the last scheduled cycle and what arrived since, with the recompute control; or
    recomputed on demand, with the way back. With no cycle yet, pages read live as they
    always did, without a banner."""
    asked = bool(st.session_state.get(_live_key(key), False))
    if reading.cycle:
        with st.container(border=True):
            st.markdown(
                f"**Figures as of the last scheduled cycle, {when(reading.as_of)}**, the ones "
                f"its decision was taken on. {since_words(reading)}"
            )
            if reading.written_since:
                estimate = estimate_words(reading, last_live_seconds(url, key))
                if st.button(
                    "Recompute with the newest data",
                    icon=":material/refresh:",
                    key="recompute",
                    help=estimate,
                ):
                    st.session_state[_live_key(key)] = True
                    st.rerun()
                st.caption(estimate)
    elif asked:
        with st.container(border=True):
            st.markdown(
                f"**Figures recomputed from the newest data, as of {when(reading.as_of)}.** "
                "The decisions shown are still the last scheduled cycle's."
            )
            if st.button("Back to the last cycle's figures", key="recompute"):
                st.session_state[_live_key(key)] = False
                st.rerun()
