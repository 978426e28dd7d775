"""Cached read models and display tables for the dashboard.

Everything here reads through :mod:`engine.service`; nothing writes. Loaders take the database
URL (and experiment key) as plain strings so ``st.cache_data`` can key on them.
"""

from __future__ import annotations

import math
import os
from datetime import datetime

import pandas as pd
import streamlit as st

from engine import service
from engine.metrics import ArmKpis

DEFAULT_DATABASE_URL = "sqlite:///var/demo.sqlite3"
DASH = "—"
MINUS = "\u2212"  # typographic minus for signed amounts
NO_BREAK_DASH = "\u2060\u2013\u2060"  # en dash between word joiners: no line break
NBSP = "\u00a0"
RUN_HINT = (
    "Run `make demo` for a simulated experiment, or `dunning sync` to load an experiment file."
)
EMPTY_HINT = f"No experiments in the database yet. {RUN_HINT}"
_CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


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


@st.cache_data(ttl=60, show_spinner="Loading experiment…")
def load_report(url: str, key: str) -> service.ExperimentReport:
    engine = get_engine(url)
    now = service.default_as_of(engine, experiment_key=key)
    return service.experiment_report(engine, experiment_key=key, now=now)


def experiments_or_stop(url: str) -> list[service.ExperimentSummary]:
    """The experiments in ``url``; otherwise a friendly message and the end of the page run."""
    if (missing := missing_database(url)) is not None:
        st.info(missing, icon=":material/info:")
        st.stop()
    try:
        experiments = load_experiments(url)
    except (service.StorageError, service.ServiceError) as exc:
        st.error(f"Cannot read `{display_url(url)}`: {exc}", icon=":material/error:")
        st.stop()
    if not experiments:
        st.info(EMPTY_HINT, icon=":material/info:")
        st.stop()
    return experiments


# -- formatting ----------------------------------------------------------------------------


def _nan(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: float | None, digits: int = 1) -> str:
    return DASH if _nan(x) else f"{x:.{digits}%}"


def money(x: float | None, currency: str, *, signed: bool = False) -> str:
    if _nan(x):
        return DASH
    assert x is not None
    sign = MINUS if x < 0 else ("+" if x > 0 else "±") if signed else ""
    symbol = _CURRENCY_SYMBOLS.get(currency)
    amount = f"{abs(x):,.2f}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def number(x: float | None, digits: int = 0) -> str:
    return DASH if _nan(x) else f"{x:,.{digits}f}"


def interval(low: float, high: float) -> str:
    if _nan(low) or _nan(high):
        return DASH
    return f"{100 * low:.1f}{NO_BREAK_DASH}{high:.1%}"


def when(t: datetime | None) -> str:
    return DASH if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


# -- tables --------------------------------------------------------------------------------


def overview_frame(experiments: list[service.ExperimentSummary]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Key": [e.key for e in experiments],
            "Name": [e.name for e in experiments],
            "Version": [e.version for e in experiments],
            "Champion": [e.champion for e in experiments],
            "Debtors": [e.assigned for e in experiments],
            "Allocation version": [e.allocation_version for e in experiments],
            "Last update": [when(e.updated_at) for e in experiments],
        }
    )


def kpi_frame(report: service.ExperimentReport) -> pd.DataFrame:
    """One row per arm, formatted for reading; the champion's row is starred."""
    cur = report.currency

    def row(k: ArmKpis) -> dict[str, str]:
        return {
            "Arm": f"★ {k.label}" if k.champion else k.label,
            "Debtors": number(k.assigned),
            "Pay on time": pct(k.pay_on_time),
            "95% CrI": interval(k.pay_on_time_low, k.pay_on_time_high),
            "Immature": pct(k.immature_share, 0),
            "Cases / 1,000": number(k.cases_per_1000, 1),
            "Reminders": number(k.reminders),
            f"Churn{NBSP}{report.churn_horizon_days}{NBSP}d": pct(k.churn),
            "Collected / matured": money(k.collected_per_debtor, cur),
            "Cost / debtor": money(k.cost_per_debtor, cur),
            "CLV / debtor": money(k.clv_per_debtor, cur),
            "CLV uplift": ("reference" if k.champion else money(k.clv_uplift, cur, signed=True)),
            "Traffic now": pct(k.traffic_share),
            "P(best)": pct(k.p_best),
        }

    return pd.DataFrame([row(k) for k in report.kpis]).set_index("Arm")


def churn_matured(report: service.ExperimentReport) -> bool:
    """Whether any debtor has reached the churn horizon (else churn and CLV are all NaN)."""
    return any(k.churn_matured for k in report.kpis)


def allocation_frame(report: service.ExperimentReport) -> pd.DataFrame:
    """Long table (created_at, version, arm, weight) for the traffic chart.

    Versions written at the same instant (an update and a promotion) keep only the last one,
    so the stacked chart has one point per arm and time.
    """
    latest: dict[datetime, service.AllocationInfo] = {}
    for a in report.allocations:
        latest[a.created_at] = a
    labels = {k.arm: k.label for k in report.kpis}
    rows = [
        {
            "created_at": pd.Timestamp(a.created_at),
            "version": a.version,
            "arm": labels.get(arm, arm),
            "weight": float(weight),
        }
        for a in latest.values()
        for arm, weight in a.weights.items()
    ]
    return pd.DataFrame(rows, columns=["created_at", "version", "arm", "weight"])


def promotion_frame(report: service.ExperimentReport) -> pd.DataFrame:
    rows = [
        {
            "Decided at": when(p.decided_at),
            "From → to": f"{p.champion_before} → {p.champion_after}",
            "Explanation": p.explanation,
            "Allocation version": DASH if p.allocation_version is None else p.allocation_version,
        }
        for p in report.promotions
        if p.action == "promote"
    ]
    return pd.DataFrame(
        rows, columns=["Decided at", "From → to", "Explanation", "Allocation version"]
    )


def history_frame(report: service.ExperimentReport) -> pd.DataFrame:
    rows = [
        {
            "Version": a.version,
            "Created at": when(a.created_at),
            "Kind": a.kind,
            "Champion": a.champion,
            **{arm: pct(w) for arm, w in a.weights.items()},
            "Matured units": number(a.matured_units),
            "Reason": a.reason,
            # As text: a 63-bit seed would lose digits as a JavaScript number.
            "Seed": DASH if a.seed is None else str(a.seed),
        }
        for a in reversed(report.allocations)
    ]
    return pd.DataFrame(rows).fillna(DASH)


def promotion_marks(report: service.ExperimentReport) -> pd.DataFrame:
    """Champion changes for the traffic chart: decided_at and a short label."""
    rows = [
        {"decided_at": pd.Timestamp(p.decided_at), "label": f"→ {p.champion_after}"}
        for p in report.promotions
        if p.action == "promote"
    ]
    return pd.DataFrame(rows, columns=["decided_at", "label"])
