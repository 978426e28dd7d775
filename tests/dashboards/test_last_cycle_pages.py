"""After writes that came after the last scheduled cycle, every experiment page shows the
cycle's figures with a banner saying so and what arrived since, and recomputes from the newest
data on demand, without writing to the database (AppTest)."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import loader, service
from engine.service import demo
from engine.service.manager import manager_view
from tests.service.test_last_cycle import KEY, _write_after_the_cycle, ends_yesterday
from tests.test_dashboard import EXPERIMENT_FILE, PAGES, _run

EXPERIMENT_PAGES = [p for p in PAGES if p is not None]


class Written:
    """A demo database written to after its last cycle: how many rows, and the cycle's time."""

    def __init__(self, url: str, cycle: datetime, assigned: int, events: int) -> None:
        self.url, self.cycle, self.assigned, self.events = url, cycle, assigned, events


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    path = tmp_path_factory.mktemp("last_cycle") / "demo.sqlite3"
    url = f"sqlite:///{path}"
    engine = service.open_db(url)
    try:
        demo.run_demo(
            engine,
            loader.load_experiment(EXPERIMENT_FILE),
            days=25,
            debtors_per_day=80,
            seed=4,
            start=ends_yesterday(25),
        )
        cycle = service.default_as_of(engine, experiment_key=KEY)
        assigned, events = _write_after_the_cycle(engine, cycle)
    finally:
        engine.dispose()
    return Written(url, cycle, assigned, events)


def _texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


@pytest.mark.parametrize("page", EXPERIMENT_PAGES)
def test_every_page_says_its_figures_are_the_last_cycles(
    written: Written, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    at = _run(written.url, monkeypatch, page=page)
    assert not at.exception, page
    texts = _texts(at)
    when = f"{written.cycle:%Y-%m-%d %H:%M} UTC"
    banner = [t for t in texts if t.startswith("**Figures as of the last scheduled cycle")]
    assert banner == [
        f"**Figures as of the last scheduled cycle, {when}**, the ones its decision was taken "
        f"on. Since then: {written.assigned} new debtors and {written.events} new outcome events; "
        "the next cycle includes them."
    ], page
    # The page's own "as of" is the cycle's too: one time for every figure on it.
    assert any(f"as of {when}" in t for t in texts), page
    [button] = [b for b in at.button if b.key == "recompute"]
    assert button.label == "Recompute with the newest data"
    assert any(t.startswith("Recomputing reads all ") and "outcomes again" in t for t in texts)


def test_the_experiment_page_shows_the_cycles_decision_figures(
    written: Written, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = service.connect_db(written.url)
    try:
        then = manager_view(engine, experiment_key=KEY, now=written.cycle, written_since=True)
        newest = service.default_as_of(engine, experiment_key=KEY)
        live = manager_view(engine, experiment_key=KEY, now=newest)
    finally:
        engine.dispose()
    at = _run(written.url, monkeypatch, page="views/experiment.py")
    markdown = [m.value for m in at.markdown]
    assert all(s in markdown for s in then.scorecard.sentences)
    debtors = {k.label: k.assigned for k in then.report.kpis}
    newer = {k.label: k.assigned for k in live.report.kpis}
    assert sum(newer.values()) == sum(debtors.values()) + written.assigned
    [shown] = [t.value for t in at.table if "Debtors" in t.value.columns]
    counts = {
        str(i).removeprefix("★ "): int(v.replace(",", "")) for i, v in shown["Debtors"].items()
    }
    assert counts == debtors, "the cycle's debtors, not the newest"


def _journal_copy(url: str, path: Path) -> str:
    """A copy in rollback-journal mode: a read leaves its bytes as they were."""
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    connection = sqlite3.connect(path)
    source.backup(connection)
    source.close()
    assert connection.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    connection.close()
    return f"sqlite:///{path}"


def test_the_recompute_control_reads_the_newest_data_and_writes_nothing(
    written: Written, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    url = _journal_copy(written.url, path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    engine = service.connect_db(url)
    try:
        newest = service.default_as_of(engine, experiment_key=KEY)
    finally:
        engine.dispose()
    at = _run(url, monkeypatch, page="views/experiment.py")
    [button] = [b for b in at.button if b.key == "recompute"]
    at = button.click().run()
    assert not at.exception
    texts = _texts(at)
    assert not any(t.startswith("**Figures as of the last scheduled cycle") for t in texts)
    recomputed = f"**Figures recomputed from the newest data, as of {newest:%Y-%m-%d %H:%M} UTC.**"
    assert any(t.startswith(recomputed) for t in texts)
    assert any(f"as of {newest:%Y-%m-%d %H:%M} UTC" in t for t in texts)
    # Another page of the same session reads as recomputed too, until the way back.
    at.switch_page("views/trends.py").run()
    assert any(t.startswith(recomputed) for t in _texts(at))
    [back] = [b for b in at.button if b.key == "recompute"]
    assert back.label == "Back to the last cycle's figures"
    at = back.click().run()
    texts = _texts(at)
    assert any(t.startswith("**Figures as of the last scheduled cycle") for t in texts)
    # The estimate of the next recompute is now the one that ran.
    assert any(t.startswith("The last recompute here took ") for t in texts)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
