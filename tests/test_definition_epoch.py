"""The pay-window scenario through the engine loop (the demo's simulator): a running bandit's
pay window is cut from 14 to 7 days. Refused without --force; forced, the bandit, the promotion
rule, the report and the analysis never pool the two definitions, and the best arm keeps its
traffic, where the pooled totals of the very same database would hand it to another arm."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from engine import service
from engine.loader import LoadedExperiment, parse_experiment
from engine.metrics import totals_by_arm
from engine.service.demo import DemoLoop
from engine.simulate import DEFAULT_SCENARIO, true_pay_rate
from engine.simulate.configured import scenario_for
from engine.stats.binomial import posterior_draws, prob_best
from engine.store import queries

# An SMS, nothing, and an SMS with a 10% discount: the discount pays best on 14 days (62.9% vs
# 59.5% vs 54.3%) and on 7 days (52.2% vs 49.4% vs 40.7%), but its debtors are the recent ones
# once the bandit favours it, so after the cut its pooled rate sinks below the SMS's.
EXPERIMENT = """\
key: pay-window
name: Pay window change
arms:
  - key: friendly_sms
    champion: true
    contacts_debtor: true
    cost: 0.06
  - key: no_action
  - key: sms_discount_10
    discount: 0.10
    contacts_debtor: true
    cost: 0.06
metrics:
  pay_window_days: 14
  churn_horizon_days: 30
clv: {monthly_margin: 14, monthly_retention: 0.975}
allocation: {policy: thompson, min_share: 0.05}
promotion: {min_units_per_arm: 300}
"""
BEST = "sms_discount_10"
PER_DAY, BEFORE, AFTER = 800, 20, 30
START = datetime(2026, 1, 5, tzinfo=UTC)


def loaded(text: str) -> LoadedExperiment:
    return LoadedExperiment(Path("pay-window.yaml"), parse_experiment(text, file="x"), text)


def p_best(db: Engine, now: datetime, *, since: int | None) -> dict[str, float]:
    """P(best) a Thompson update would compute from the training totals (holdout out)."""
    with Session(db) as session:
        cells = queries.outcome_cells(
            session,
            experiment_key="pay-window",
            now=now,
            by_holdout=True,
            min_experiment_version=since,
        )
    arms = ("friendly_sms", "no_action", BEST)
    totals = totals_by_arm(arms, ((c.arm, c.totals) for c in cells if not c.holdout))
    paid = np.array([t.paid for t in totals.values()], dtype=np.float64)
    matured = np.array([t.pay_matured for t in totals.values()], dtype=np.float64)
    draws = posterior_draws(
        1 + paid, 1 + matured - paid, draws=20_000, rng=np.random.default_rng(0)
    )
    return dict(zip(arms, prob_best(draws).tolist(), strict=True))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: a property of the bandit, not of the database (both run the same SQL)."""
    engine = service.open_db(f"sqlite:///{tmp_path / 'pay-window.sqlite3'}")
    yield engine
    engine.dispose()


@pytest.mark.slow
def test_a_cut_pay_window_keeps_the_best_arm_on_its_traffic(db: Engine) -> None:
    scenario = scenario_for(loaded(EXPERIMENT).experiment, DEFAULT_SCENARIO)
    truth = {w: true_pay_rate(BEST, window_days=w, scenario=scenario) for w in (7, 14)}
    assert all(
        true_pay_rate(arm, window_days=w, scenario=scenario) < truth[w]
        for arm in ("friendly_sms", "no_action")
        for w in (7, 14)
    ), "the discount is the best arm on either window"

    loop = DemoLoop(db, loaded(EXPERIMENT), debtors_per_day=PER_DAY, seed=7, start=START)
    for _ in range(BEFORE):
        loop.day()
    assert service.current_experiment(db, experiment_key="pay-window").metrics.pay_window_days == 14
    earlier = service.experiment_report(db, experiment_key="pay-window", now=loop.now)
    assigned_before = sum(k.assigned for k in earlier.kpis)

    seven = loaded(EXPERIMENT.replace("pay_window_days: 14", "pay_window_days: 7"))
    with pytest.raises(service.UnsafeChangeError, match=r"metrics\.pay_window_days: 14 -> 7"):
        service.sync_experiment(db, seven, now=loop.now)
    forced = service.sync_experiment(db, seven, now=loop.now, force=True)
    assert (forced.version, forced.new_definition, forced.not_pooled) == (2, True, assigned_before)

    weights, post_change = [], dict.fromkeys(("friendly_sms", "no_action", BEST), 0)
    for _ in range(AFTER):
        result, _, cycle = loop.day()
        weights.append(cycle.allocation.weights[BEST])
        for arm in result.arm[result.new].astype(str):
            post_change[arm] += 1
    # The bandit held its split until each arm had 300 matured 7-day debtors, then learnt the
    # new definition alone: the discount never lost the lead.
    assert min(weights) > 0.7, weights
    share = post_change[BEST] / sum(post_change.values())
    assert share > 0.8, post_change

    # The same database, pooled over both definitions, would rank the SMS first: its debtors
    # are mostly old 14-day ones, the discount's mostly new 7-day ones.
    pooled, epoch = p_best(db, loop.now, since=None), p_best(db, loop.now, since=2)
    assert max(pooled, key=pooled.__getitem__) == "friendly_sms", pooled
    assert epoch[BEST] > 0.95, epoch

    # Every surface measures the 7-day definition only and says so.
    report = service.experiment_report(db, experiment_key="pay-window", now=loop.now)
    assert (report.pay_window_days, report.definition.not_pooled) == (7, assigned_before)
    assert report.definition.label is not None
    assert (
        "since experiment version 2 (metrics.pay_window_days: 14 -> 7)" in report.definition.label
    )
    assert sum(k.assigned for k in report.kpis) == sum(post_change.values())
    analysis = service.analyze_experiment(db, experiment_key="pay-window", now=loop.now)
    rate = {a.arm: a.metrics["pay_on_time"] for a in analysis.arms}[BEST]
    assert rate.low < truth[7] < rate.high, "a 7-day rate, not a blend with 14-day ones"
    assert sum(a.metrics["pay_on_time"].units for a in analysis.arms) <= sum(post_change.values())
