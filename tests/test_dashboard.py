"""Tests for the Streamlit dashboard (dashboards/app.py and its pages), run with AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import demo, loader, service

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
    assert table.loc[0, "Champion"] == report.champion
    assert table.loc[0, "Debtors"] == 25 * 200
    assert not at.info


def test_experiment_page_shows_kpis_champion_and_history(
    demo_db: tuple[str, service.ExperimentReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, report = demo_db
    at = _run(url, monkeypatch, page="views/experiment.py")
    assert not at.exception
    assert at.selectbox[0].value == report.key
    assert at.title[0].value == report.name

    kpis = at.table[0].value
    labels = {k.arm: k.label for k in report.kpis}
    champion = labels[report.champion]
    assert len(kpis) == 4
    assert set(kpis.index) == {f"★ {champion}"} | (set(labels.values()) - {champion})
    # Formatted, never raw floats; 25 days is short of the churn horizon, so churn is "—".
    assert all(str(v).endswith("%") for v in kpis["Pay on time"])
    churn = next(c for c in kpis.columns if c.startswith("Churn"))
    assert set(kpis[churn]) == {"—"}
    assert any("Current champion" in m.value and champion in m.value for m in at.markdown)

    history = at.dataframe[-1].value
    assert list(history["Version"]) == [a.version for a in reversed(report.allocations)]
    promotions = [p for p in report.promotions if p.action == "promote"]
    if promotions:
        log = at.table[1].value
        assert len(log) == len(promotions)
    else:
        assert any("No promotion yet" in i.value for i in at.info)


@pytest.mark.parametrize("page", [None, "views/experiment.py"])
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
