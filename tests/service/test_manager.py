"""The manager's read models against the one analysis, on SQLite and PostgreSQL: the trend's
last day is the analysis, the scorecard quotes it, money scales it, guardrails follow the rule."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from engine import service
from engine.analysis.reasons import Decided, reason_in_words, stop_sentence
from engine.analysis.scorecard import build_scorecard
from engine.analysis.wording import effect_sentence
from engine.loader import load_experiment
from engine.service import demo
from engine.service.manager import STALE_DAYS, ManagerView, alarms, manager_view
from engine.service.trends import uplift_trend
from engine.store.db import create_schema, drop_schema
from tests.conftest import CHANNELS

DAYS = 70  # past the 60-day churn horizon: churn and CLV have matured cohorts


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One simulated run per backend for the whole module (it takes seconds)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('manager') / 'engine.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_server_url")
        service.reset_database(url)
    engine = service.open_db(url)
    channels = load_experiment(CHANNELS)
    demo.run_demo(
        engine, channels, days=DAYS, debtors_per_day=120, seed=3, start=demo.default_start(DAYS)
    )
    yield engine
    if request.param == "postgres":
        # The session's PostgreSQL database is shared: leave it as empty as conftest's
        # ``db_url`` leaves it (a later test that decides "today" must not find our decisions).
        drop_schema(engine)
        create_schema(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def view(db: Engine) -> ManagerView:
    key = "dunning-channels"
    return manager_view(db, experiment_key=key, now=service.default_as_of(db, experiment_key=key))


def test_the_trend_ends_at_the_analysis(db: Engine, view: ManagerView) -> None:
    analysis = view.report.analysis
    for metric in ("pay_on_time", "churn", "collected_per_debtor"):
        points = uplift_trend(
            db, experiment_key=analysis.experiment, now=analysis.as_of, metric=metric
        )
        last_day = max(p.day for p in points)
        for p in (p for p in points if p.day == last_day):
            m = analysis.arm(p.arm).metrics[metric]
            assert p.uplift == pytest.approx(m.uplift, rel=1e-9, abs=1e-12), (metric, p.arm)
            assert (p.low, p.high) == pytest.approx((m.uplift_low, m.uplift_high), rel=1e-9)
        # Cumulative: the debtors compared never decrease from one day to the next.
        for arm in {p.arm for p in points}:
            units = [p.units for p in points if p.arm == arm]
            assert units == sorted(units)


def test_daily_traffic_counts_every_assignment(view: ManagerView) -> None:
    per_arm: dict[str, int] = {}
    for row in view.traffic:
        per_arm[row.arm] = per_arm.get(row.arm, 0) + row.assigned
    assert per_arm == {k.arm: k.assigned for k in view.report.kpis if k.assigned}
    assert sum(view.per_day.values()) == pytest.approx(120, rel=0.05)  # today's intake


def test_the_scorecard_quotes_the_analysis(view: ManagerView) -> None:
    card = view.scorecard
    analysis = view.report.analysis
    assert card.verdict in ("keep_running", "promote", "stop_arm", "no_data")
    assert card.challenger is not None
    arm = analysis.arm(card.challenger)
    m = arm.metrics["pay_on_time"]
    expected = effect_sentence(
        metric="pay_on_time",
        arm=arm.label,
        champion=analysis.arm(analysis.champion).label,
        estimate=m.uplift,
        low=m.uplift_low,
        high=m.uplift_high,
        currency=analysis.currency,
    )
    assert expected in card.sentences
    assert "95% interval" in expected
    assert "points" in expected
    assert all("_" not in s for s in card.sentences), "labels, not arm keys"


def test_money_is_the_analysis_scaled_and_constants_have_no_interval(view: ManagerView) -> None:
    for arm in view.money:
        lines = {line.item: line for line in arm.lines}
        assert lines["Treatment cost"].constant
        assert math.isnan(lines["Treatment cost"].high)
        collected = view.report.analysis.arm(arm.arm).metrics["collected_per_debtor"]
        assert lines["Collected"].value == collected.estimate
        assert lines["Collected"].low < lines["Collected"].value < lines["Collected"].high
    assert view.switch is not None
    volume = view.switch.debtors_per_month
    net = view.report.analysis.arm(view.switch.arm).metrics["net_value_per_debtor"]
    [line] = [x for x in view.switch.lines if x.item == "Net value"]
    assert (line.value, line.low, line.high) == pytest.approx(
        (volume * net.uplift, volume * net.uplift_low, volume * net.uplift_high)
    )


def test_guardrail_status_follows_the_rule(view: ManagerView) -> None:
    assert view.guardrails, "the experiment guards churn"
    for row in view.guardrails:
        assert row.metric == "churn"
        if row.status == "ok":
            assert row.always_valid_high < row.margin
        elif row.status == "breached":
            assert row.always_valid_low > row.margin
        elif row.status == "unclear":
            assert row.always_valid_low <= row.margin <= row.always_valid_high
        assert row.matures_on == (view.report.as_of + timedelta(days=60)).date()


def test_stale_data_and_stops_raise_alarms(view: ManagerView) -> None:
    later = view.report.as_of + timedelta(days=STALE_DAYS + 1)
    found = alarms(
        view.report, view.guardrails, stopped=("no_action",), activity=view.latest_activity,
        now=later,
    )  # fmt: skip
    assert any(a.startswith("Stale data") for a in found)
    assert "Arm stopped: No action gets no traffic." in found
    assert not any(a.startswith("Stale data") for a in view.alarms)


def test_a_stop_and_a_rollback_read_as_sentences(db: Engine, view: ManagerView) -> None:
    analysis = view.report.analysis
    labels = {a.arm: a.label for a in analysis.arms}
    stop = {
        "action": "stop_arm",
        "reason": "guardrail_breach",
        "challenger": None,
        "explanation": "guardrail breached, traffic stopped",
        "champion": "friendly_sms",
        "stopped_arms": ["direct_collection"],
        "guardrails": {
            "churn": {
                "direct_collection": {
                    "estimate": 0.126, "always_valid_low": 0.02, "margin": 0.018, "units": 900,
                }
            }
        },
    }  # fmt: skip
    sentence = stop_sentence(stop, labels, champion="friendly_sms")
    assert sentence == (
        "Direct to collection agency was stopped: its churn is higher than under Friendly SMS "
        "reminder by at least 2.0 points (estimate +12.6 points), more than the tolerated "
        "1.8 points."
    )
    when = view.report.as_of
    stopped = Decided(when, "stop_arm", stop, "")
    rolled = Decided(when, "rollback", {"to_version": 3}, "manual rollback")
    rule = service.current_experiment(db, experiment_key=analysis.experiment).promotion

    def card(*records: Decided) -> tuple[str, str, tuple[str, ...]]:
        c = build_scorecard(
            analysis, rule=rule, decisions=list(records), stopped=(), per_day=view.per_day
        )
        return c.verdict, c.headline, c.sentences

    verdict, headline, sentences = card(stopped)
    assert (verdict, headline) == ("stop_arm", "Stop arm Direct to collection agency")
    assert sentences[0] == sentence
    verdict, _, sentences = card(stopped, rolled)
    assert verdict == "rolled_back"
    assert sentences[0].startswith("The allocation was rolled back to version 3")
    verdict, headline, sentences = card()
    assert verdict == "no_data"
    assert "not enough data" in headline
    assert reason_in_words(rolled, labels).startswith("Rolled back to allocation version 3")
    assert reason_in_words(stopped, labels) == sentence
