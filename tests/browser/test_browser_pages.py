"""Every dashboard page in a real browser (Chromium through Playwright), against the engine's
demo database and against an empty one: what a person sees, no exception anywhere, and the
database's bytes unchanged by the whole session. Screenshots: var/test-artifacts/."""

from __future__ import annotations

import re

import pytest

from engine import service
from engine.service.manager import decided
from tests.browser.conftest import BrowserSession, Visit

pytestmark = pytest.mark.browser

#: The pages of the navigation, in order.
PAGES = ["Overview", "Experiment", "Trends", "History", "Analysis", "Segments"]
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
    assert visit.deploy_buttons == 0, f"{visit.title}: Streamlit's Deploy button is shown"


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


def test_overview_lists_the_experiment_and_its_alarm(
    demo_session: BrowserSession, demo_database: tuple[object, service.ExperimentReport]
) -> None:
    _path, report = demo_database
    text = demo_session.visits["Overview"].text
    assert "Dunning experiments" in text
    assert f"{report.name} ({report.key})" in text  # the link to its page
    assert f"{sum(k.assigned for k in report.kpis):,}" in text  # debtors, with separators
    assert "With alarms\n\n1" in text  # the stopped arm (the table itself is a canvas)


def test_experiment_page_opens_with_the_scorecard(
    demo_session: BrowserSession, demo_database: tuple[object, service.ExperimentReport]
) -> None:
    _path, report = demo_database
    labels = _labels(report)
    text = demo_session.visits["Experiment"].text
    assert report.name in text
    # The recommendation first, in words: what to do, the effect with its interval, and why.
    assert text.index("Recommendation") < text.index("Guardrails") < text.index("Money")
    assert text.index("Money") < text.index("KPIs per arm")
    scorecard = text[text.index("Recommendation") : text.index("Guardrails")]
    assert any(
        action in scorecard for action in ("Keep running", "Promote", "Inconclusive", "Stop")
    )
    assert "95% interval" in scorecard
    assert labels["discount_nudge"] in scorecard
    assert "discount_nudge" not in scorecard, "labels, not arm keys"
    assert "0.0167" not in text, "no raw alpha"
    for label in labels.values():
        assert label in text


def test_the_guardrail_panel_shows_the_stopped_arm(
    demo_session: BrowserSession, demo_database: tuple[object, service.ExperimentReport]
) -> None:
    _path, report = demo_database
    labels = _labels(report)
    # The demo's guardrail stops the collection agency once churn has matured (day 60+).
    stops = [p for p in report.promotions if p.action == "stop_arm"]
    assert [p.numbers["stopped_arms"] for p in stops] == [["direct_collection"]]
    text = demo_session.visits["Experiment"].text
    panel = text[text.index("Guardrails") : text.index("Money")]
    assert f"Arm stopped: {labels['direct_collection']}" in text
    for column in ("Guardrail", "Challenger", "Margin", "Status", "Outcome known"):
        assert column in panel
    # Its row (the cells of a row follow each other in the text): the status says so.
    row = panel[panel.index(labels["direct_collection"]) :][:300]
    assert "arm stopped" in row
    assert "pp" in panel
    assert "[" in panel
    money = text[text.index("Money") : text.index("KPIs per arm")]
    assert "Monthly impact of switching" in money
    assert "€" in money
    assert "today's volume" in money


def test_trends_page_shows_the_uplift_and_the_traffic(
    demo_session: BrowserSession, demo_database: tuple[object, service.ExperimentReport]
) -> None:
    _path, report = demo_database
    visit = demo_session.visits["Trends"]
    assert "Cumulative uplift: Pay on time" in visit.text
    assert "Traffic" in visit.text
    assert "95% interval as the band" in visit.text
    assert "stopped " + _labels(report)["direct_collection"] in visit.text  # the stop's marker


def test_history_page_lists_every_decision_and_version(
    demo_session: BrowserSession, demo_database: tuple[object, service.ExperimentReport]
) -> None:
    _path, report = demo_database
    text = demo_session.visits["History"].text
    assert text.index("Decisions") < text.index("Experiment versions")
    assert f"{len(decided(report.promotions))} decisions, newest first" in text
    assert "(first version)" in text


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
