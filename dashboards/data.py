"""Cached read models and display tables for the dashboard.

Everything here reads through :mod:`engine.service`; nothing writes. Loaders take the database
URL (and experiment key) as plain strings so ``st.cache_data`` can key on them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from datetime import datetime
from typing import NamedTuple

import pandas as pd
import streamlit as st

from engine import service
from engine.analysis import Analysis, ArmResult, MetricResult
from engine.metrics import ArmKpis
from engine.stats.hierarchical import SegmentFit

DEFAULT_DATABASE_URL = "sqlite:///var/demo.sqlite3"
DASH = "—"
MINUS = "\u2212"  # typographic minus for signed amounts
NO_BREAK_DASH = "\u2060\u2013\u2060"  # en dash between word joiners: no line break
NBSP = "\u00a0"
WORD_JOINER = "\u2060"  # invisible; forbids a line break where it stands
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


@st.cache_data(ttl=60, show_spinner=False)
def load_segment_values(url: str, key: str) -> list[str]:
    return service.experiment_segments(get_engine(url), experiment_key=key)


@st.cache_data(ttl=60, show_spinner="Analysing…")
def load_analysis(url: str, key: str, segments: tuple[str, ...] = ()) -> Analysis:
    """The full analysis as of the latest data; ``segments=()`` means all debtors."""
    engine = get_engine(url)
    now = service.default_as_of(engine, experiment_key=key)
    return service.analyze_experiment(
        engine, experiment_key=key, now=now, segments=list(segments) or None
    )


@st.cache_data(ttl=60, show_spinner="Fitting the segment model…")
def load_segments(url: str, key: str) -> SegmentFit:
    """Pay on time per (segment, arm), hierarchical model, exact method.

    Raises ``service.ServiceError`` (no segments) and ``NotConvergedError`` like the service.
    """
    engine = get_engine(url)
    now = service.default_as_of(engine, experiment_key=key)
    fit = service.segment_model(engine, experiment_key=key, now=now, method="exact")
    # The diagnostics come as a read-only MappingProxyType, which does not pickle; the cache
    # stores a plain dict instead (the arrays of the frozen dataclass pickle as they are).
    return dataclasses.replace(fit, diagnostics=dict(fit.diagnostics))


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
        st.error(f"Cannot read `{display_url(url)}`: {exc}", icon=":material/error:")
        st.stop()
    if not experiments:
        st.info(EMPTY_HINT, icon=":material/info:")
        st.stop()
    return experiments


# -- formatting ----------------------------------------------------------------------------


def _nan(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def nan(x: float | None) -> bool:
    """Whether ``x`` is a missing number (None or NaN)."""
    return _nan(x)


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


# -- analysis --------------------------------------------------------------------------------


class MetricInfo(NamedTuple):
    """How the dashboard names a metric of :class:`engine.analysis.Analysis`."""

    title: str  # heading
    short: str  # selector label
    what: str  # one line: what is measured, with placeholders {pay}, {churn}, {cur}


METRICS: dict[str, MetricInfo] = {
    "pay_on_time": MetricInfo(
        "Pay on time", "Pay on time", "share of matured debtors who paid within {pay} days"
    ),
    "churn": MetricInfo(
        "Churn", "Churn", "share of matured debtors who churned within {churn} days"
    ),
    "collected_per_debtor": MetricInfo(
        "Collected per debtor",
        "Collected / debtor",
        "{cur} collected within {pay} days per matured debtor",
    ),
    "cases_per_1000": MetricInfo(
        "Collection cases per 1,000 debtors",
        "Cases / 1,000",
        "collection cases opened per 1,000 assigned debtors",
    ),
    "reminders_per_1000": MetricInfo(
        "Reminders per 1,000 debtors",
        "Reminders / 1,000",
        "reminders sent per 1,000 assigned debtors",
    ),
    "net_value_per_debtor": MetricInfo(
        "Net value per debtor",
        "Net value / debtor",
        "{cur} per debtor: collected \u2212 treatment cost \u2212 churn \u00d7 residual CLV",
    ),
    "clv_per_debtor": MetricInfo(
        "CLV per debtor",
        "CLV / debtor",
        "{cur} of residual customer lifetime value per debtor, at the arm's retention",
    ),
}


def metric_heading(analysis: Analysis, metric: str) -> tuple[str, str]:
    """Title and one-line description (with the unit) of ``metric``."""
    info = METRICS[metric]
    what = info.what.format(
        pay=analysis.pay_window_days, churn=analysis.churn_horizon_days, cur=analysis.currency
    )
    return info.title, what


def _signed(x: float, digits: int) -> str:
    sign = MINUS if x < 0 else "+" if x > 0 else "±"
    return f"{sign}{abs(x):,.{digits}f}"


def _plain(x: float, digits: int) -> str:
    """A bound inside brackets: the unit is the estimate's, the minus typographic."""
    return f"{MINUS if x < 0 else ''}{abs(x):,.{digits}f}"


def _is_share(unit: str) -> bool:
    return unit == "share"


def _is_count(unit: str) -> bool:
    return unit.startswith("per ")


def metric_value(x: float, unit: str) -> str:
    """A value in the metric's unit: percent, currency or a rate per 1,000."""
    if _nan(x):
        return DASH
    if _is_share(unit):
        return pct(x)
    if _is_count(unit):
        return number(x, 1)
    return money(x, unit)


def metric_uplift(x: float, unit: str) -> str:
    """A signed difference: percentage points for shares, currency or a rate otherwise."""
    if _nan(x):
        return DASH
    if _is_share(unit):
        return f"{_signed(100 * x, 1)}{NBSP}pp"
    if _is_count(unit):
        return _signed(x, 1)
    return money(x, unit, signed=True)


def _bounds(low: float, high: float, unit: str, *, scale: float = 1.0) -> str:
    if _nan(low) or _nan(high):
        return ""
    digits = 1 if _is_share(unit) or _is_count(unit) else 2
    return f"[{_plain(scale * low, digits)},{NBSP}{_plain(scale * high, digits)}]"


def with_interval(text: str, bounds: str) -> str:
    """``value [low, high]`` on one line: no break after a minus sign or inside the cell."""
    joined = text if not bounds or text == DASH else f"{text}{NBSP}{bounds}"
    return joined.replace(MINUS, MINUS + WORD_JOINER)


def estimate_cell(m: MetricResult) -> str:
    scale = 100.0 if _is_share(m.unit) else 1.0
    return with_interval(
        metric_value(m.estimate, m.unit), _bounds(m.low, m.high, m.unit, scale=scale)
    )


def uplift_cell(value: float, low: float, high: float, unit: str) -> str:
    scale = 100.0 if _is_share(unit) else 1.0
    return with_interval(metric_uplift(value, unit), _bounds(low, high, unit, scale=scale))


def loss_cell(x: float, unit: str) -> str:
    """Expected loss is a non-negative amount in the metric's unit (pp for shares)."""
    if _nan(x):
        return DASH
    if _is_share(unit):
        return f"{100 * x:.2f}{NBSP}pp"
    if _is_count(unit):
        return number(x, 1)
    return money(x, unit)


def p_value(p: float) -> str:
    if _nan(p):
        return DASH
    if p < 1e-4:
        return "<0.0001"
    return f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def signed_pct(x: float) -> str:
    return DASH if _nan(x) else f"{_signed(100 * x, 1)}%"


def analysis_frame(analysis: Analysis, metric: str) -> pd.DataFrame:
    """One row per arm for ``metric``: Bayesian, frequentist and naive figures; ★ champion."""

    def row(arm: ArmResult) -> dict[str, str]:
        m = arm.metrics[metric]
        champion = arm.champion
        return {
            "Arm": f"★ {arm.label}" if champion else arm.label,
            "Estimate [95% CrI]": estimate_cell(m),
            "Uplift vs ★ [95% CrI]": (
                "reference"
                if champion
                else uplift_cell(m.uplift, m.uplift_low, m.uplift_high, m.unit)
            ),
            "Relative uplift": DASH if champion else signed_pct(m.relative_uplift),
            "P(beat ★)": DASH if champion else pct(m.prob_beat_champion),
            "P(best)": pct(m.prob_best),
            "Expected loss": DASH if champion else loss_cell(m.expected_loss, m.unit),
            "Frequentist uplift [95% CI]": (
                DASH if champion else uplift_cell(m.freq_diff, m.freq_low, m.freq_high, m.unit)
            ),
            "p (Holm)": DASH if champion else p_value(m.p_holm),
            "Matured": number(m.units),
            "Immature": pct(m.immature_share, 0),
            "Naive pooled": metric_value(m.naive_estimate, m.unit),
        }

    return pd.DataFrame([row(a) for a in analysis.arms]).set_index("Arm")


def frequentist_notes(analysis: Analysis, metric: str) -> dict[str, str]:
    """Arm label -> why its frequentist figures are missing (challengers only)."""
    return {
        a.label: a.metrics[metric].freq_note
        for a in analysis.arms
        if not a.champion and a.metrics[metric].freq_note and _nan(a.metrics[metric].p_holm)
    }


def forest_frame(analysis: Analysis, metric: str) -> pd.DataFrame:
    """Long table (arm, method, uplift, low, high, label) of each challenger's uplift.

    Shares are in percentage points. Intervals that cannot be formed are left out.
    """
    rows = []
    for a in analysis.arms:
        if a.champion:
            continue
        m = a.metrics[metric]
        scale = 100.0 if _is_share(m.unit) else 1.0
        for method, value, low, high in (
            ("Bayesian 95% CrI", m.uplift, m.uplift_low, m.uplift_high),
            ("Frequentist 95% CI", m.freq_diff, m.freq_low, m.freq_high),
        ):
            if _nan(value) or _nan(low) or _nan(high):
                continue
            rows.append(
                {
                    "arm": a.label,
                    "method": method,
                    "uplift": scale * value,
                    "low": scale * low,
                    "high": scale * high,
                    "text": uplift_cell(value, low, high, m.unit),
                }
            )
    return pd.DataFrame(rows, columns=["arm", "method", "uplift", "low", "high", "text"])


def uplift_axis_title(analysis: Analysis, metric: str) -> str:
    m = analysis.arms[0].metrics[metric]
    unit = "pp" if _is_share(m.unit) else m.unit
    better = "higher" if m.higher_is_better else "lower"
    return f"Uplift vs champion ({unit}; {better} is better)"


def srm_frame(analysis: Analysis) -> pd.DataFrame:
    labels = {a.arm: a.label for a in analysis.arms}
    srm = analysis.srm
    rows = []
    for arm, observed in srm.observed.items():
        expected = srm.expected.get(arm, math.nan)
        rows.append(
            {
                "Arm": labels.get(arm, arm),
                "Observed": number(observed),
                "Expected": number(expected, 1),
                "Observed \u2212 expected": (
                    DASH if _nan(expected) else _signed(observed - expected, 1)
                ),
                "Relative": (
                    DASH if _nan(expected) or expected == 0 else signed_pct(observed / expected - 1)
                ),
            }
        )
    return pd.DataFrame(
        rows, columns=["Arm", "Observed", "Expected", "Observed \u2212 expected", "Relative"]
    ).set_index("Arm")


# -- segments --------------------------------------------------------------------------------

_TYPE_LETTERS = (
    {"W": "willing", "D": "defiant"},
    {"A": "able", "I": "insolvent"},
    {"O": "organised", "C": "chaotic"},
    {"E": "emotional", "R": "rational"},
)


def debtor_type(code: str) -> str:
    """``"WAOE"`` -> ``"willing, able, organised, emotional"``; other segment names: ``""``."""
    if len(code) != len(_TYPE_LETTERS) or any(
        c not in letters for c, letters in zip(code, _TYPE_LETTERS, strict=True)
    ):
        return ""
    return ", ".join(letters[c] for c, letters in zip(code, _TYPE_LETTERS, strict=True))


def segment_cells(fit: SegmentFit, labels: dict[str, str]) -> pd.DataFrame:
    """Long table for the heatmap: one row per (segment, arm), ``best`` marks the segment's
    most probable best arm."""
    rows = []
    for s, segment in enumerate(fit.segments):
        for a, arm in enumerate(fit.arms):
            best = fit.best_arm[s] == arm
            mean = float(fit.means[s, a])
            rows.append(
                {
                    "segment": segment,
                    "type": debtor_type(segment) or segment,
                    "arm": labels.get(arm, arm),
                    "mean": mean,
                    "low": float(fit.low[s, a]),
                    "high": float(fit.high[s, a]),
                    "p_best": float(fit.p_best[s, a]),
                    "best": best,
                    "text": f"★ {mean:.0%}" if best else f"{mean:.0%}",
                }
            )
    return pd.DataFrame(rows)


def segment_frame(fit: SegmentFit, labels: dict[str, str]) -> pd.DataFrame:
    """One row per segment: its type, then per arm mean [95% CrI] and P(best); the segment's
    best arm (highest P(best)) is starred."""
    level = f"{fit.level:.0%}"
    rows = []
    for s, segment in enumerate(fit.segments):
        row: dict[tuple[str, str], str] = {("", "Debtor type"): debtor_type(segment) or DASH}
        for a, arm in enumerate(fit.arms):
            label = labels.get(arm, arm)
            mean = pct(float(fit.means[s, a]))
            row[(label, f"Pay on time [{level} CrI]")] = with_interval(
                f"★{NBSP}{mean}" if fit.best_arm[s] == arm else mean,
                _bounds(float(fit.low[s, a]), float(fit.high[s, a]), "share", scale=100.0),
            )
            row[(label, "P(best)")] = pct(float(fit.p_best[s, a]), 0)
        rows.append(row)
    columns = pd.MultiIndex.from_tuples(list(rows[0]) if rows else [])
    index = pd.Index(list(fit.segments), name="Segment")
    return pd.DataFrame([list(r.values()) for r in rows], index=index, columns=columns)
