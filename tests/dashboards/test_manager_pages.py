"""The manager's pages (AppTest): the recommendation first, guardrails, money, trends and history,
against the demo database; the texts a browser test asserts are stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import loader, service
from engine.service.manager import ManagerView, manager_view
from tests.test_dashboard import EXPERIMENT_FILE, PAGES, _run, table_with
from tests.test_dashboard import demo_db as demo_db  # the fixture: a small demo database

Demo = tuple[str, service.ExperimentReport]


def _view(url: str, report: service.ExperimentReport) -> ManagerView:
    engine = service.connect_db(url)
    try:
        return manager_view(engine, experiment_key=report.key, now=report.as_of)
    finally:
        engine.dispose()


def _colours(spec: object) -> list[dict[str, object]]:
    """Every colour encoding of a Vega-Lite spec that has a legend, at any depth."""
    if isinstance(spec, list):
        return [c for part in spec for c in _colours(part)]
    if not isinstance(spec, dict):
        return []
    colour = spec.get("color")
    here = [colour] if isinstance(colour, dict) and "legend" in colour else []
    return here + [c for value in spec.values() for c in _colours(value)]


def test_the_experiment_page_opens_with_the_recommendation(
    demo_db: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch, page="views/experiment.py")
    assert not at.exception
    headings = [h.value for h in at.subheader]
    assert headings[:3] == ["Recommendation", "Guardrails", "Money"]
    card = _view(url, report).scorecard
    markdown = [m.value for m in at.markdown]
    assert any(card.headline in m for m in markdown), "the headline badge"
    for sentence in card.sentences:
        assert sentence in markdown
    # The effect in words, with its interval, and the arms by their labels.
    assert any("95% interval" in m and "points" in m for m in markdown)
    assert not any("discount_nudge" in m for m in markdown)


def test_the_guardrail_panel_states_margin_status_and_maturity(
    demo_db: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch, page="views/experiment.py")
    table = table_with(at, "Margin")
    labels = {k.arm: k.label for k in report.kpis}
    challengers = {label for arm, label in labels.items() if arm != report.champion}
    assert set(table.index.get_level_values("Challenger")) == challengers
    assert set(table.index.get_level_values("Guardrail")) == {"Churn"}
    # 25 days: no churn outcome yet, so no figure, and the date today's debtors mature.
    assert set(table["Status"]) <= {"ok", "unclear", "breached", "arm stopped", "not enough data"}
    assert all(v.startswith("today's debtors on ") for v in table["Outcome known"])
    assert any("orange tick" in c.value for c in at.caption), "the margin line is explained"


def test_money_has_intervals_except_for_configured_constants(
    demo_db: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _report = demo_db
    at = _run(url, monkeypatch, page="views/experiment.py")
    money = next(t.value for t in at.table if t.value.index.name == "Per debtor")
    assert all("[" in v for v in money.loc["Collected"])
    assert not any("[" in v for v in money.loc["Treatment cost"]), "a constant: no interval"
    assert all("€" in v for v in money.loc["Treatment cost"])
    monthly = [t.value for t in at.table if t.value.index.name == "Change"]
    assert len(monthly) == 1
    assert "today's volume" in " ".join(monthly[0]["Assumption"])


def test_trends_page_draws_the_uplift_band_and_the_traffic(
    demo_db: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch, page="views/trends.py")
    assert not at.exception
    assert [h.value for h in at.subheader] == ["Cumulative uplift: Pay on time", "Traffic"]
    trend, traffic = at.get("vega_lite_chart")
    assert "uplift" in trend.proto.spec
    assert "#E69F00" in traffic.proto.spec, "Okabe-Ito colours"
    for chart in (trend, traffic):
        spec = json.loads(chart.proto.spec)
        # The height is the plot's: Streamlit's default (fit) squeezes the axes and legends
        # into it, which left a strip of plot under the long axis title.
        assert spec["autosize"]["type"] == "fit-x"
        assert spec["height"] >= 280
    labels = [k.label for k in report.kpis]
    champion = labels[[k.arm for k in report.kpis].index(report.champion)]
    [colour] = {json.dumps(c) for c in _colours(json.loads(trend.proto.spec))}
    scale, legend = json.loads(colour)["scale"], json.loads(colour)["legend"]
    assert scale["domain"] == labels, "every arm keeps its colour"
    assert legend["values"] == [label for label in labels if label != champion]
    at.radio[0].set_value("churn").run()
    assert not at.exception
    # 25 days: no churn outcome has matured, so the page says so instead of drawing a prior.
    assert any("Not enough data yet" in i.value for i in at.info)


def test_history_page_lists_every_decision_and_version(
    demo_db: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch, page="views/history.py")
    assert not at.exception
    assert [h.value for h in at.subheader] == ["Decisions", "Experiment versions"]
    decisions = at.dataframe[0].value
    assert len(decisions) == len(report.promotions)
    assert set(decisions["Action"]) <= {"Kept running", "Promoted", "Stopped an arm"}
    assert all(r.endswith(".") and "_" not in r.split("(")[0] for r in decisions["Reason"])
    # The reason is readable whole: the grid wraps text only in rows taller than 4rem (64 px),
    # and the reason has most of the width.
    grid = at.dataframe[0].proto
    assert grid.row_height > 64
    widths = {name: c["width"] for name, c in json.loads(grid.columns).items() if "width" in c}
    assert widths["Reason"] > 2 * (widths["Date"] + widths["Action"])
    versions = table_with(at, "Changes from the previous version")
    assert list(versions.index) == ["v1"]
    assert versions.loc["v1", "Changes from the previous version"] == "(first version)"


@pytest.mark.parametrize("page", PAGES)
def test_an_experiment_without_debtors_says_not_enough_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str | None
) -> None:
    url = f"sqlite:///{tmp_path / 'synced.sqlite3'}"
    engine = service.open_db(url)
    service.sync_experiment(engine, loader.load_experiment(EXPERIMENT_FILE), now=service.utc_now())
    engine.dispose()
    at = _run(url, monkeypatch, page=page)
    assert not at.exception
    shown = " ".join(str(e.value) for e in [*at.markdown, *at.info, *at.caption, *at.error])
    if page in ("views/experiment.py", "views/trends.py"):
        assert "not enough data" in shown.lower()
    if page == "views/history.py":
        assert any("No scheduled decision yet" in i.value for i in at.info)
