"""Cached read models: everything reads through :mod:`engine.service`; nothing writes.

Loaders take the database URL (and experiment key) as plain strings so ``st.cache_data`` can key
on them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

import streamlit as st

from engine import service
from engine.analysis import Analysis
from engine.service.manager import ManagerView, manager_view
from engine.service.reading import Reading, dashboard_reading
from engine.service.trends import TrendPoint, uplift_trend
from engine.stats.hierarchical import SegmentFit

from .constants import DEFAULT_DATABASE_URL, EMPTY_HINT, RUN_HINT


def configure_page() -> None:
    """Wide layout. Called by app.py and again by each page: on a fresh server the first
    request for a page URL runs that page alone (multipage apps before ``st.navigation``)."""
    st.set_page_config(
        page_title="Dunning experiments", page_icon=":material/mark_email_unread:", layout="wide"
    )


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def display_url(url: str) -> str:
    """The URL without its password, for the sidebar."""
    return service.display_url(url)


def database_error(exc: BaseException) -> str:
    """The one line the CLI prints too: what is wrong with the database, no password."""
    return f"database error: {service.describe(exc)}"


def missing_database(url: str) -> str | None:
    """A message if ``url`` names a SQLite file that does not exist, else None.

    The dashboard only reads: it must not create the file or its schema.
    """
    path = service.missing_database_file(url)
    if path is None:
        return None
    return f"The database file `{path}` does not exist yet. {RUN_HINT}"


@st.cache_resource(show_spinner=False)
def get_engine(url: str) -> service.Database:
    return service.connect_db(url)


@st.cache_data(ttl=60, show_spinner=False)
def load_experiments(url: str) -> list[service.ExperimentSummary]:
    return service.list_experiments(get_engine(url))


@st.cache_data(ttl=60, show_spinner=False)
def load_reading(url: str, key: str, live: bool = False) -> Reading:
    """What the experiment's pages read as of: the last scheduled cycle's snapshot, or with
    ``live`` (the recompute control) the newest data (:mod:`engine.service.reading`)."""
    return dashboard_reading(get_engine(url), experiment_key=key, live=live)


# The loaders below take the reading's ``as_of`` and ``cycle`` (from the cycle's snapshot) as
# plain arguments: the cache keys on them, and every table and chart of a page read with the
# same pair comes from the same cells.


@st.cache_data(ttl=60, show_spinner="Loading experiment…")
def load_report(url: str, key: str, as_of: datetime, cycle: bool) -> service.ExperimentReport:
    engine = get_engine(url)
    with _timed(url, key, live=not cycle):
        return service.experiment_report(engine, experiment_key=key, now=as_of, written_since=cycle)


@st.cache_data(ttl=60, show_spinner="Loading experiment…")
def load_manager(url: str, key: str, as_of: datetime, cycle: bool) -> ManagerView:
    """The manager's view (scorecard, guardrails, money, alarms) as of ``as_of``."""
    engine = get_engine(url)
    with _timed(url, key, live=not cycle):
        return manager_view(engine, experiment_key=key, now=as_of, written_since=cycle)


@st.cache_data(ttl=60, show_spinner="Loading the trend…")
def load_trend(url: str, key: str, metric: str, as_of: datetime, cycle: bool) -> list[TrendPoint]:
    engine = get_engine(url)
    return uplift_trend(engine, experiment_key=key, now=as_of, metric=metric, written_since=cycle)


@st.cache_data(ttl=60, show_spinner=False)
def load_versions(url: str, key: str) -> list[service.VersionEntry]:
    """The experiment's versions with their changes (``dunning history``)."""
    return service.experiment_history(get_engine(url), experiment_key=key)


@st.cache_data(ttl=60, show_spinner=False)
def load_segment_values(url: str, key: str, cycle: bool) -> list[str]:
    """The segments to choose from: as of the last cycle with ``cycle`` (like the figures)."""
    return service.experiment_segments(get_engine(url), experiment_key=key, written_since=cycle)


@st.cache_data(ttl=60, show_spinner="Analysing…")
def load_analysis(
    url: str, key: str, as_of: datetime, cycle: bool, segments: tuple[str, ...] = ()
) -> Analysis:
    """The full analysis as of ``as_of``; ``segments=()`` means all debtors."""
    engine = get_engine(url)
    return service.analyze_experiment(
        engine,
        experiment_key=key,
        now=as_of,
        segments=list(segments) or None,
        written_since=cycle,
    )


@st.cache_data(ttl=60, show_spinner="Fitting the segment model…")
def load_segments(url: str, key: str, as_of: datetime, cycle: bool) -> SegmentFit:
    """Pay on time per (segment, arm), hierarchical model, exact method.

    Raises ``service.ServiceError`` (no segments) and ``NotConvergedError`` like the service.
    """
    engine = get_engine(url)
    fit = service.segment_model(
        engine, experiment_key=key, now=as_of, method="exact", written_since=cycle
    )
    # The diagnostics come as a read-only MappingProxyType, which does not pickle; the cache
    # stores a plain dict instead (the arrays of the frozen dataclass pickle as they are).
    return dataclasses.replace(fit, diagnostics=dict(fit.diagnostics))


@st.cache_resource(show_spinner=False)
def _live_timings() -> dict[tuple[str, str], float]:
    """Seconds the last live read of each (database, experiment) took in this server."""
    return {}


@contextmanager
def _timed(url: str, key: str, *, live: bool) -> Iterator[None]:
    start = time.perf_counter()
    yield
    if live:
        _live_timings()[(url, key)] = time.perf_counter() - start


def last_live_seconds(url: str, key: str) -> float | None:
    """How long the experiment's last live read took here, if one ran: the honest estimate
    of a recompute (the same work over about as many assignments)."""
    return _live_timings().get((url, key))


def select_experiment(experiments: list[service.ExperimentSummary]) -> str:
    """The experiment selectbox, honouring and updating ``?experiment=``."""
    names = {e.key: e.name for e in experiments}
    keys = list(names)
    wanted = st.query_params.get("experiment")
    key: str = st.selectbox(
        "Experiment",
        keys,
        index=keys.index(wanted) if wanted in names else 0,
        format_func=lambda k: f"{names[k]} ({k})",
    )
    st.query_params["experiment"] = key
    return key


def experiments_or_stop(url: str) -> list[service.ExperimentSummary]:
    """The experiments in ``url``; otherwise a friendly message and the end of the page run."""
    if (missing := missing_database(url)) is not None:
        st.info(missing, icon=":material/info:")
        st.stop()
    try:
        experiments = load_experiments(url)
    except (service.StorageError, service.ServiceError) as exc:
        st.error(database_error(exc), icon=":material/error:")
        st.stop()
    if not experiments:
        st.info(EMPTY_HINT, icon=":material/info:")
        st.stop()
    return experiments


def page_experiment() -> tuple[str, str]:
    """Every experiment page's start: the page set up, the database URL and the experiment
    chosen in the selectbox; the page ends with a message when there is none to show."""
    configure_page()
    url = database_url()
    return url, select_experiment(experiments_or_stop(url))


Read = TypeVar("Read")


def read_or_stop(read: Callable[[], Read]) -> Read:
    """``read()``; a database or service error ends the page run with it in one line."""
    try:
        return read()
    except (service.StorageError, service.ServiceError) as exc:
        st.error(database_error(exc), icon=":material/error:")
        st.stop()
