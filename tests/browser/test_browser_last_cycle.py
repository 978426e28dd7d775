"""The morning after, in a real browser: writes came after the last scheduled cycle, the
Experiment page says its figures are the cycle's and what arrived since, and its control
recomputes them from the newest data and back, without writing to the database.
Screenshots: var/test-artifacts/written-*.png."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from engine import service
from engine.events import EventBatch
from tests.browser.conftest import (
    ARTIFACTS,
    RENDER_TIMEOUT_MS,
    VIEWPORT,
    digest,
    render,
    screenshot,
    streamlit_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

KEY = "dunning-channels"
NEW_DEBTORS, NEW_EVENTS = 25, 40


@pytest.fixture(scope="module")
def written_database(
    demo_database: tuple[Path, service.ExperimentReport], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, datetime]:
    """A copy of the demo database with a night's events and a morning's debtors written
    after its last cycle (now: the demo's last cycle is today's midnight); and the cycle's time."""
    path = tmp_path_factory.mktemp("written") / "written.sqlite3"
    source = sqlite3.connect(demo_database[0])
    target = sqlite3.connect(path)
    source.backup(target)
    source.close()
    target.close()
    url = f"sqlite:///{path}"
    engine = service.open_db(url)
    try:
        cycle = service.default_as_of(engine, experiment_key=KEY)
        now = datetime.now(UTC)
        assert now > cycle
        with service.assignment_job(engine, experiment_key=KEY, now=now) as job:
            job.assign([f"morning-{i}" for i in range(NEW_DEBTORS)])
        service.ingest_events(
            engine,
            EventBatch(
                event_id=np.array([f"night-{i}" for i in range(NEW_EVENTS)], dtype=object),
                debtor_id=np.array(
                    [f"morning-{i % NEW_DEBTORS}" for i in range(NEW_EVENTS)], dtype=object
                ),
                kind=np.array(["reminder"] * NEW_EVENTS, dtype=object),
                amount=np.full(NEW_EVENTS, np.nan),
                occurred_at=np.full(NEW_EVENTS, np.datetime64(now.replace(tzinfo=None), "us")),
            ),
            now=now,
        )
    finally:
        engine.dispose()
    return path, cycle


def test_the_banner_and_the_recompute_in_a_browser(
    browser: Browser, written_database: tuple[Path, datetime]
) -> None:
    path, cycle = written_database
    before = digest(path)
    with streamlit_server(f"sqlite:///{path}", "written") as server:
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        page = context.new_page()
        try:
            render(page, f"{server.url}/experiment?experiment={KEY}")
            main = page.locator('[data-testid="stMain"]')
            text = main.inner_text()
            assert (
                f"Figures as of the last scheduled cycle, {cycle:%Y-%m-%d %H:%M} UTC, the ones "
                f"its decision was taken on. Since then: {NEW_DEBTORS} new debtors and "
                f"{NEW_EVENTS} new outcome events; the next cycle includes them."
            ) in text
            assert "Recomputing reads all " in text
            screenshot(page, ARTIFACTS / "written-experiment-cycle.png")

            page.get_by_role("button", name="Recompute with the newest data").click()
            page.get_by_text("Figures recomputed from the newest data").wait_for(
                timeout=RENDER_TIMEOUT_MS
            )
            page.wait_for_timeout(300)
            text = main.inner_text()
            assert "Figures as of the last scheduled cycle" not in text
            assert "The decisions shown are still the last scheduled cycle's." in text
            assert not page.locator('[data-testid="stException"]').count()
            screenshot(page, ARTIFACTS / "written-experiment-recomputed.png")

            page.get_by_role("button", name="Back to the last cycle's figures").click()
            page.get_by_text("The last recompute here took ").wait_for(timeout=RENDER_TIMEOUT_MS)
            assert "Figures as of the last scheduled cycle" in main.inner_text()
        finally:
            context.close()
    assert digest(path) == before, "the dashboard wrote to the database"
