"""Every dashboard page in a real browser (Chromium through Playwright), against the engine's
demo database and against an empty one: what a person sees, no exception anywhere, and the
database's bytes unchanged by the whole session. Screenshots: var/test-artifacts/."""

from __future__ import annotations

import re

import pytest

from engine import service
from tests.browser.conftest import BrowserSession, Visit

pytestmark = pytest.mark.browser

#: The pages of the navigation, in order.
PAGES = ["Overview", "Experiment", "Analysis", "Segments"]
#: What gives an exception away: Streamlit's exception block shows "Traceback" and the
#: exception's class ("ValueError", "KeyError"...). A plain "error" in a sentence is fine.
EXCEPTION_TEXT = re.compile(r"Traceback|\b[A-Z][A-Za-z]*Error\b|\bError\b")


def _labels(report: service.ExperimentReport) -> dict[str, str]:
    return {k.arm: k.label for k in report.kpis}


def _clean(visit: Visit) -> None:
    assert not visit.exceptions, f"{visit.title}: {visit.exceptions}"
    found = EXCEPTION_TEXT.search(visit.text)
    assert found is None, (
        f"{visit.title}: {found and visit.text[max(0, found.start() - 200) :][:400]}"
    )
    assert visit.screenshot.stat().st_size > 10_000, "an empty screenshot"


def test_every_page_is_in_the_navigation(demo_session: BrowserSession) -> None:
    assert list(demo_session.visits) == PAGES


@pytest.mark.parametrize("title", PAGES)
def test_no_page_shows_an_exception(
    demo_session: BrowserSession, empty_session: BrowserSession, title: str
) -> None:
    _clean(demo_session.visits[title])
    _clean(empty_session.visits[title])


def test_no_traceback_reached_the_server_log(
    demo_session: BrowserSession, empty_session: BrowserSession
) -> None:
    for session in (demo_session, empty_session):
        assert "Traceback" not in session.server_log, session.server_log[-3000:]


def test_the_dashboard_never_writes(
    demo_session: BrowserSession, empty_session: BrowserSession
) -> None:
    for session in (demo_session, empty_session):
        assert session.digest_after == session.digest_before
        assert session.wal_after == 0


def test_overview_lists_the_experiment(
    demo_session: BrowserSession, demo_database: tuple[object, service.ExperimentReport]
) -> None:
    _path, report = demo_database
    text = demo_session.visits["Overview"].text
    assert "Dunning experiments" in text
    assert report.name in text
    assert report.key in text
    assert _labels(report)[report.champion] in text or report.champion in text


def test_experiment_page_shows_every_arm_and_the_stopped_one(
    demo_session: BrowserSession, demo_database: tuple[object, service.ExperimentReport]
) -> None:
    _path, report = demo_database
    text = demo_session.visits["Experiment"].text
    assert report.name in text
    for label in _labels(report).values():
        assert label in text
    # The demo's guardrail stops the collection agency once churn has matured (day 60+).
    stops = [p for p in report.promotions if p.action == "stop_arm"]
    assert [p.numbers["stopped_arms"] for p in stops] == [["direct_collection"]]
    assert "arm stopped" in text


def test_analysis_page_shows_the_comparison_and_the_srm_check(
    demo_session: BrowserSession, demo_database: tuple[object, service.ExperimentReport]
) -> None:
    _path, report = demo_database
    text = demo_session.visits["Analysis"].text
    assert "Pay on time" in text
    assert "Sample ratio" in text
    assert all(label in text for label in _labels(report).values())


def test_segments_page_shows_the_type_by_arm_view(demo_session: BrowserSession) -> None:
    text = demo_session.visits["Segments"].text
    assert "partial pooling" in text
    assert "WAOE" in text


@pytest.mark.parametrize("title", PAGES)
def test_an_empty_database_shows_the_hint_on_every_page(
    empty_session: BrowserSession, title: str
) -> None:
    visit = empty_session.visits[title]
    assert "make demo" in visit.text
