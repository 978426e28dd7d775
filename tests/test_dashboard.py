"""Tests for the Streamlit dashboard (dashboards/app.py and its pages), run with AppTest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from engine import loader, service
from engine.plural import counted
from engine.service import demo

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "dashboards" / "app.py")
EXPERIMENT_FILE = REPO / "experiments" / "dunning_channels.yaml"
TIMEOUT = 30  # seconds per script run; the first run imports the engine


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, service.ExperimentReport]:
    """A small simulated experiment, and its report as the service computes it."""
    path = tmp_path_factory.mktemp("dashboard") / "demo.sqlite3"
    url = f"sqlite:///{path}"
    engine = service.open_db(url)
    result = demo.run_demo(
        engine,
        loader.load_experiment(EXPERIMENT_FILE),
        days=25,
        debtors_per_day=200,
        seed=1,
        start=demo.default_start(25),
    )
    engine.dispose()
    return url, result.report


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The page's one ``st.table`` that has ``column``."""
    [table] = [t.value for t in at.table if column in t.value.columns]
    return table


def _run(url: str, monkeypatch: pytest.MonkeyPatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page is not None:
        at.switch_page(page).run()
    return at


def test_overview_lists_the_experiments(
    demo_db: tuple[str, service.ExperimentReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Key"]) == [report.key]
    labels = {k.arm: k.label for k in report.kpis}
    assert table.loc[0, "Champion"] == labels[report.champion]  # labels, not arm keys
    assert table.loc[0, "Leading arm"] in labels.values()
    assert table.loc[0, "Recommendation"].startswith(("Keep running", "Promote", "Stop arm"))
    assert isinstance(table.loc[0, "Alarms"], str)
    assert table.loc[0, "Status"] == "running"
    assert table.loc[0, "Owner"] == "collections-analytics@example.com"
    # Every assigned debtor: the simulated ones less the few the eligibility rule kept out.
    assert table.loc[0, "Debtors"] == sum(k.assigned for k in report.kpis) > 0.99 * 25 * 200
    assert not at.info


def test_experiment_page_shows_kpis_champion_and_history(
    demo_db: tuple[str, service.ExperimentReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch, page="views/experiment.py")
    assert not at.exception
    assert at.selectbox[0].value == report.key
    assert at.title[0].value == report.name

    kpis = table_with(at, "Pay on time [95%]")
    labels = {k.arm: k.label for k in report.kpis}
    champion = labels[report.champion]
    assert len(kpis) == 4
    assert set(kpis.index) == {f"★ {champion}"} | (set(labels.values()) - {champion})
    # Formatted, never raw floats; 25 days is short of the churn horizon: churn says so.
    assert all("%" in str(v) and "[" in str(v) for v in kpis["Pay on time [95%]"])
    churn = next(c for c in kpis.columns if c.startswith("Churn"))
    assert set(kpis[churn]) == {"not matured yet"}
    assert any(f"Current champion: ★ {champion}." in c.value for c in at.caption)

    history = at.dataframe[-1].value
    assert list(history["Version"]) == [a.version for a in reversed(report.allocations)]
    promotions = [p for p in report.promotions if p.action == "promote"]
    if promotions:
        log = table_with(at, "Decision")
        assert len(log) == len(promotions)
    else:
        assert any("No promotion yet" in i.value for i in at.info)
    last = report.promotions[-1]
    assert last.action == "continue"
    assert any(c.value.endswith(last.explanation) for c in at.caption), "latest decision shown"


def test_promotion_log_names_every_change_of_the_allocation(
    demo_db: tuple[str, service.ExperimentReport],
) -> None:
    import sys

    sys.path.insert(0, str(REPO / "dashboards"))
    import data

    _url, report = demo_db
    base = report.promotions[-1]
    records = [
        dataclasses.replace(base, action="promote", champion_after="discount_nudge"),
        dataclasses.replace(base, action="stop_arm", numbers={"stopped_arms": ["no_action"]}),
        dataclasses.replace(base, action="rollback", numbers={"to_version": 3}),
        base,  # a "continue": audited, but it changed nothing
    ]
    frame = data.promotion_frame(dataclasses.replace(report, promotions=records))
    assert list(frame["Decision"]) == ["promoted", "arm stopped", "rolled back"]
    labels = {k.arm: k.label for k in report.kpis}
    assert list(frame["Change"]) == [  # arms by their labels
        f"{labels[base.champion_before]} → {labels['discount_nudge']}",
        f"stopped {labels['no_action']}",
        "rollback to v3",
    ]


def _labels(report: service.ExperimentReport) -> tuple[str, set[str]]:
    """The champion's label and every arm's row label in a table that stars the champion."""
    labels = {k.arm: k.label for k in report.kpis}
    champion = labels[report.champion]
    return champion, {f"★ {champion}"} | (set(labels.values()) - {champion})


def test_analysis_page_shows_every_arm_the_forest_and_the_srm_check(
    demo_db: tuple[str, service.ExperimentReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch, page="views/analysis.py")
    assert not at.exception
    assert at.selectbox[0].value == report.key
    assert at.multiselect[0].value == []  # all debtors
    assert at.radio[0].value == "pay_on_time"
    # The experiment's primary metric first, then its guardrail, each labelled with its role.
    assert at.radio[0].options[:2] == ["Pay on time (primary)", "Churn (guardrail)"]
    assert at.subheader[0].value == "Pay on time"

    champion, rows = _labels(report)
    table = at.table[0].value
    assert len(table) == 4
    assert set(table.index) == rows
    star = f"★ {champion}"
    assert table.loc[star, "Uplift vs ★ [95%]"] == "reference"
    challengers = [r for r in rows if r != star]
    # Shares: estimates in percent with their interval, uplifts in percentage points.
    assert all("%" in v and "[" in v for v in table["Estimate [95%]"])
    uplifts = [str(table.loc[r, "Uplift vs ★ [95%]"]) for r in challengers]
    assert all(u.endswith("]") and "pp" in u for u in uplifts)
    assert "Pooled (for contrast)" in table.columns
    (forest,) = at.get("vega_lite_chart")
    assert "uplift" in forest.proto.spec

    srm = [*at.success, *at.error]
    assert len(srm) == 1
    assert "Sample ratio" in srm[0].value
    assert "threshold 0.001" in srm[0].value
    observed = at.table[1].value
    assert set(observed.index) == rows - {star} | {champion}
    assert list(observed.columns[:2]) == ["Observed", "Expected"]
    assert any("share of all randomised debtors" in c.value for c in at.caption)
    # The comparison's cells, counted with a noun that agrees ("1 allocation period").
    periods = counted(report.analysis.cells, "allocation period")
    assert any(f"· {periods} ·" in c.value for c in at.caption), [c.value for c in at.caption]


def test_analysis_metric_selector_switches_the_metric(
    demo_db: tuple[str, service.ExperimentReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _report = demo_db
    at = _run(url, monkeypatch, page="views/analysis.py")
    at.radio[0].set_value("collected_per_debtor").run()
    assert not at.exception
    assert at.subheader[0].value == "Collected per debtor"
    table = at.table[0].value
    assert all("€" in v for v in table["Estimate [95%]"])
    assert "pp" not in " ".join(table["Uplift vs ★ [95%]"])

    at.radio[0].set_value("clv_per_debtor").run()
    assert not at.exception
    assert at.subheader[0].value == "CLV per debtor"
    # 25 days: no churn outcome has matured, so CLV says so instead of showing a prior.
    assert all("not matured" in v for v in at.table[0].value["Estimate [95%]"])
    assert set(at.table[0].value["p (Holm)"]) == {"—"}


def test_analysis_of_a_segment(
    demo_db: tuple[str, service.ExperimentReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _report = demo_db
    at = _run(url, monkeypatch, page="views/analysis.py")
    segment = at.multiselect[0].options[0]
    at.multiselect[0].select(segment).run()
    assert not at.exception
    assert len(at.table[0].value) == 4
    assert any("segments " in c.value for c in at.caption)


def test_segments_page_shows_the_type_by_arm_view(
    demo_db: tuple[str, service.ExperimentReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch, page="views/segments.py")
    assert not at.exception
    assert not at.warning
    assert at.selectbox[0].value == report.key
    (heatmap,) = at.get("vega_lite_chart")
    assert "segment" in heatmap.proto.spec

    table = at.table[0].value
    labels = {k.arm: k.label for k in report.kpis}
    assert set(table.columns.get_level_values(0)) - {""} == set(labels.values())
    assert len(table) >= 5
    assert all(len(s) == 4 and s[0] in "WD" for s in table.index)  # PAIR debtor types
    assert "willing" in " ".join(table[("", "Debtor type")]) or "defiant" in " ".join(
        table[("", "Debtor type")]
    )
    # Exactly one starred (best) arm per segment.
    means = table[[c for c in table.columns if c[1].startswith("Pay on time")]]
    assert all(sum("★" in v for v in row) == 1 for row in means.itertuples(index=False))
    assert any("partial pooling" in c.value for c in at.caption)


PAGES = [
    None,
    "views/experiment.py",
    "views/trends.py",
    "views/history.py",
    "views/analysis.py",
    "views/segments.py",
]


@pytest.mark.parametrize("page", PAGES)
def test_empty_database_shows_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str | None
) -> None:
    url = f"sqlite:///{tmp_path}/empty.sqlite3"
    service.open_db(url).dispose()
    at = _run(url, monkeypatch, page=page)
    assert not at.exception
    assert len(at.info) == 1
    assert "make demo" in at.info[0].value


def test_missing_database_file_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "var" / "nothing.sqlite3"
    at = _run(f"sqlite:///{path}", monkeypatch, page="views/experiment.py")
    assert not at.exception
    assert "does not exist" in at.info[0].value
    assert "make demo" in at.info[0].value
    assert not path.exists()
    assert not path.parent.exists()


def test_experiment_page_labels_a_new_definition_and_logs_status_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'redefined.sqlite3'}"
    engine = service.open_db(url)
    loaded = loader.load_experiment(EXPERIMENT_FILE)
    demo.run_demo(engine, loaded, days=2, debtors_per_day=50, seed=2, start=demo.default_start(2))
    key = loaded.experiment.key
    service.set_status(
        engine, experiment_key=key, status="paused", now=service.utc_now(), by="ana", note="x"
    )
    text = loaded.source.replace("pay_window_days: 14 ", "pay_window_days: 7 ")
    seven = loader.LoadedExperiment(loaded.path, loader.parse_experiment(text, file="e"), text)
    service.sync_experiment(engine, seven, now=service.utc_now(), force=True)
    engine.dispose()

    at = _run(url, monkeypatch, page="views/experiment.py")
    assert not at.exception
    [warning] = [w.value for w in at.warning]
    assert "since experiment version 2 (metrics.pay_window_days: 14 -> 7)" in warning
    assert "not pooled" in warning
    log = table_with(at, "Decision")
    assert list(log["Decision"]) == ["status changed"]
    assert list(log["Change"]) == ["running → paused by ana"]
    overview = _run(url, monkeypatch)
    assert overview.dataframe[0].value.loc[0, "Status"] == "paused"
