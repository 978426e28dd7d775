"""Promotion in the database: effects, audit, dry runs, idempotence, concurrency, crashes,
stop_arm and rollback, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from engine import service
from engine.events import EventBatch, to_datetime64
from engine.loader import LoadedExperiment, parse_experiment
from engine.store import queries
from engine.store.tables import AllocationVersion, PromotionAudit

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
KEY = "dunning-channels"
RATES = {"friendly_sms": 0.55, "direct_collection": 0.40, "no_action": 0.50, "discount_nudge": 0.70}
#: Day 61: pay outcomes (14 days) and churn (60 days) of the T0 cohort have matured.
READY = T0 + timedelta(days=61)


def relaxed(channels: LoadedExperiment) -> LoadedExperiment:
    """The shipped experiment with an absolute churn margin of 5 points (the relative margin
    of the shipped file is 0 points when nobody churns)."""
    text = channels.source.replace("max_relative_increase: 0.20", "max_absolute_increase: 0.05")
    return LoadedExperiment(Path("relaxed.yaml"), parse_experiment(text, file="r.yaml"), text)


def count(db: Engine, table: type) -> int:
    with Session(db) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def simulate(db: Engine, n: int, *, seed: int, churn: dict[str, float] | None = None) -> None:
    """Assign ``n`` debtors at T0; pay with RATES on day 2, churn with ``churn`` on day 20."""
    rng = np.random.default_rng(seed)
    ids = [f"s{seed}-{i}" for i in range(n)]
    result = service.assign_debtors(db, experiment_key=KEY, debtor_ids=ids, now=T0)
    pays = rng.random(n) < np.array([RATES[a] for a in result.arm])
    churns = rng.random(n) < np.array([(churn or {}).get(a, 0.0) for a in result.arm])
    rows = [(f"pay-{i}", i, "payment", 30.0, T0 + timedelta(days=2)) for i in np.array(ids)[pays]]
    rows += [
        (f"churn-{i}", i, "churn", np.nan, T0 + timedelta(days=20)) for i in np.array(ids)[churns]
    ]
    events = EventBatch(
        event_id=np.array([r[0] for r in rows], dtype=object),
        debtor_id=np.array([r[1] for r in rows], dtype=object),
        kind=np.array([r[2] for r in rows], dtype=object),
        amount=np.array([r[3] for r in rows], dtype=float),
        occurred_at=np.array([to_datetime64(r[4]) for r in rows], dtype="datetime64[us]"),
    )
    service.ingest_events(db, events, now=T0 + timedelta(days=20))


def test_promotion_gates_effect_and_audit(db: Engine, channels: LoadedExperiment) -> None:
    service.sync_experiment(db, relaxed(channels), now=T0)
    simulate(db, 6_000, seed=4)
    early = service.evaluate_promotion(db, experiment_key=KEY, now=T0 + timedelta(days=15))
    assert (early.decision.action, early.decision.reason) == ("continue", "too_early")
    # Pay-on-time has matured, churn has not: the guardrail cannot be shown non-inferior.
    unclear = service.evaluate_promotion(db, experiment_key=KEY, now=T0 + timedelta(days=30))
    assert (unclear.decision.action, unclear.decision.reason) == ("continue", "guardrail_unclear")

    dry = service.evaluate_promotion(db, experiment_key=KEY, now=READY, dry_run=True)
    assert dry.decision.action == "promote", dry.decision.explanation
    assert (dry.audit_id, dry.allocation_version) == (None, None)
    assert count(db, PromotionAudit) == 2, "a dry run writes nothing"
    assert count(db, AllocationVersion) == 1

    result = service.evaluate_promotion(db, experiment_key=KEY, now=READY)
    assert result.decision.new_champion == "discount_nudge"
    assert result.allocation_version == 2
    report = service.experiment_report(db, experiment_key=KEY, now=READY, only_promotions=True)
    assert report.champion == "discount_nudge"
    [record] = report.promotions
    assert (record.champion_before, record.champion_after) == ("friendly_sms", "discount_nudge")
    assert record.experiment_version == 1
    numbers = record.numbers
    assert numbers["prob_beat"]["discount_nudge"] >= 0.95
    assert numbers["units"]["discount_nudge"] >= 1_000
    assert numbers["difference"]["discount_nudge"]["always_valid_low"] > 0
    assert numbers["guardrails"]["churn"]["discount_nudge"]["always_valid_high"] < 0.05
    assert numbers["alpha"] == 0.05
    assert numbers["method"] == "sequential"

    # Same day again: nothing changes, the earlier decision is returned.
    again = service.evaluate_promotion(db, experiment_key=KEY, now=READY + timedelta(hours=3))
    assert again.repeated
    assert again.audit_id == result.audit_id
    assert (count(db, PromotionAudit), count(db, AllocationVersion)) == (3, 2)
    # The new champion must hold the title min_days before anyone can take it.
    next_day = service.evaluate_promotion(db, experiment_key=KEY, now=READY + timedelta(days=1))
    assert next_day.decision.reason == "too_early"


def test_concurrent_promotions_promote_once(db_url: str, channels: LoadedExperiment) -> None:
    setup = service.open_db(db_url)
    service.sync_experiment(setup, relaxed(channels), now=T0)
    simulate(setup, 6_000, seed=5)
    setup.dispose()
    barrier = threading.Barrier(4)
    results: list[service.PromotionResult] = []

    def promote() -> None:
        engine = service.open_db(db_url)  # own engine and connection, as a second process
        barrier.wait()
        results.append(service.evaluate_promotion(engine, experiment_key=KEY, now=READY))
        engine.dispose()

    threads = [threading.Thread(target=promote) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.repeated for r in results) == [False, True, True, True]
    assert {r.decision.action for r in results} == {"promote"}
    db = service.open_db(db_url)
    assert count(db, PromotionAudit) == 1
    assert count(db, AllocationVersion) == 2
    db.dispose()


def test_crash_between_allocation_and_audit_leaves_neither(
    db: Engine, channels: LoadedExperiment, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.sync_experiment(db, relaxed(channels), now=T0)
    simulate(db, 6_000, seed=6)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("killed mid-promotion")

    monkeypatch.setattr(service.promotion, "PromotionAudit", crash)
    with pytest.raises(RuntimeError, match="killed"):
        service.evaluate_promotion(db, experiment_key=KEY, now=READY)
    assert (count(db, AllocationVersion), count(db, PromotionAudit)) == (1, 0)


KILL_SCRIPT = """
import os, sys
from datetime import datetime
from engine import service
from engine.service import promotion

def die(*args, **kwargs):
    os._exit(9)  # the process dies at once: no exception handler, no rollback, no commit

promotion.PromotionAudit = die
engine = service.open_db(sys.argv[1])
now = datetime.fromisoformat(sys.argv[3])
service.evaluate_promotion(engine, experiment_key=sys.argv[2], now=now)
"""


def test_killed_process_leaves_nothing_half_written(
    db_url: str, db: Engine, channels: LoadedExperiment
) -> None:
    service.sync_experiment(db, relaxed(channels), now=T0)
    simulate(db, 6_000, seed=7)
    done = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, db_url, KEY, READY.isoformat()],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 9, done.stderr
    assert (count(db, AllocationVersion), count(db, PromotionAudit)) == (1, 0)
    # The lock died with the process: the next run promotes.
    assert service.evaluate_promotion(db, experiment_key=KEY, now=READY).allocation_version == 2


def test_guardrail_breach_stops_the_arm_for_good(db: Engine, channels: LoadedExperiment) -> None:
    service.sync_experiment(db, channels, now=T0)
    churn = {
        "friendly_sms": 0.05,
        "direct_collection": 0.25,
        "no_action": 0.05,
        "discount_nudge": 0.05,
    }
    simulate(db, 6_000, seed=8, churn=churn)
    # As soon as churn has matured (60 days), although discount_nudge wins on pay-on-time:
    # stopping harm comes first.
    result = service.evaluate_promotion(db, experiment_key=KEY, now=READY)
    assert (result.decision.action, result.decision.reason) == ("stop_arm", "guardrail_breach")
    assert result.decision.stopped_arms == ("direct_collection",)
    assert "churn is higher than under friendly_sms by at least" in result.decision.explanation
    with Session(db) as session:
        row = queries.latest_allocation(session, experiment_key=KEY)
    assert row is not None
    assert (row.kind, row.stopped_arms, row.champion) == (
        "stop_arm",
        ["direct_collection"],
        "friendly_sms",
    )
    assert row.weights["direct_collection"] == 0.0
    assert sum(row.weights.values()) == pytest.approx(1.0)
    # Later bandit updates keep it at 0, and no new debtor gets it.
    info = service.update_allocation(db, experiment_key=KEY, now=READY + timedelta(days=1), seed=1)
    assert info.weights["direct_collection"] == 0.0
    assert info.stopped_arms == ("direct_collection",)
    assert min(w for a, w in info.weights.items() if a != "direct_collection") >= 0.05 - 1e-12
    new = service.assign_debtors(
        db,
        experiment_key=KEY,
        debtor_ids=[f"n{i}" for i in range(2_000)],
        now=READY + timedelta(days=1),
    )
    assert "direct_collection" not in set(new.arm)


def test_rollback_restores_an_earlier_allocation(db: Engine, channels: LoadedExperiment) -> None:
    service.sync_experiment(db, relaxed(channels), now=T0)
    simulate(db, 6_000, seed=9)
    promoted = service.evaluate_promotion(db, experiment_key=KEY, now=READY)
    assert promoted.allocation_version == 2
    later = READY + timedelta(hours=1)
    back = service.rollback_allocation(db, experiment_key=KEY, to_version=1, now=later, note="ops")
    assert (back.new_version, back.champion_before, back.champion_after) == (
        3,
        "discount_nudge",
        "friendly_sms",
    )
    with Session(db) as session:
        rows = queries.allocations(session, experiment_key=KEY)
        audits = queries.promotions(session, experiment_key=KEY, actions=["rollback"])
    assert rows[-1].kind == "rollback"
    assert rows[-1].weights == rows[0].weights
    assert [(a.allocation_version, a.numbers["to_version"]) for a in audits] == [(3, 1)]
    assert "ops" in audits[0].explanation
    with pytest.raises(service.ServiceError, match="already in force"):
        service.rollback_allocation(db, experiment_key=KEY, to_version=3, now=later)
    with pytest.raises(service.ServiceError, match="no allocation v9"):
        service.rollback_allocation(db, experiment_key=KEY, to_version=9, now=later)
    # The restored champion is audited as a change: the rule is not re-run the same day.
    again = service.evaluate_promotion(db, experiment_key=KEY, now=later)
    assert again.repeated


def test_run_cycle_is_idempotent_per_day(db: Engine, channels: LoadedExperiment) -> None:
    service.sync_experiment(db, relaxed(channels), now=T0)
    simulate(db, 6_000, seed=10)
    first = service.run_cycle(db, experiment_key=KEY, now=READY, update_seed=1)
    assert (first.allocation.version, first.promotion.allocation_version) == (2, 3)
    rows = (count(db, AllocationVersion), count(db, PromotionAudit))
    second = service.run_cycle(db, experiment_key=KEY, now=READY + timedelta(hours=5))
    assert second.promotion.repeated
    assert second.allocation.version == 3
    assert (count(db, AllocationVersion), count(db, PromotionAudit)) == rows


def test_figures_keep_moving_after_an_arm_is_stopped(
    db: Engine, channels: LoadedExperiment
) -> None:
    """Once direct_collection is stopped, later cohorts have no debtor of it. Each comparison
    uses the cells where *its* two arms had traffic, so the others' figures go on changing day
    by day (they used to freeze on the periods where every arm had units)."""
    service.sync_experiment(db, channels, now=T0)
    churn = dict.fromkeys(RATES, 0.05) | {"direct_collection": 0.25}
    simulate(db, 6_000, seed=8, churn=churn)
    assert (
        service.evaluate_promotion(db, experiment_key=KEY, now=READY).decision.action == "stop_arm"
    )
    later = READY + timedelta(days=1)
    service.update_allocation(db, experiment_key=KEY, now=later, seed=1)
    rng = np.random.default_rng(9)
    ids = [f"late-{i}" for i in range(4_000)]
    result = service.assign_debtors(db, experiment_key=KEY, debtor_ids=ids, now=later)
    pays = rng.random(len(ids)) < np.array([RATES[a] + 0.05 for a in result.arm])
    paying = np.array(ids, dtype=object)[pays]
    service.ingest_events(
        db,
        EventBatch(
            event_id=np.array([f"pay-{d}" for d in paying], dtype=object),
            debtor_id=paying,
            kind=np.full(paying.size, "payment", dtype=object),
            amount=np.full(paying.size, 30.0),
            occurred_at=np.full(paying.size, to_datetime64(later + timedelta(days=2))),
        ),
        now=later + timedelta(days=3),
    )
    before = service.analyze_experiment(db, experiment_key=KEY, now=later + timedelta(days=3))
    after = service.analyze_experiment(db, experiment_key=KEY, now=later + timedelta(days=15))
    for arm in ("no_action", "discount_nudge"):
        b, a = before.arm(arm).metrics["pay_on_time"], after.arm(arm).metrics["pay_on_time"]
        assert a.units > b.units, arm  # the late cohort matured and counts
        assert a.uplift != pytest.approx(b.uplift, abs=1e-6), arm
        assert a.coverage == pytest.approx(1.0, abs=0.01), arm
    stopped = after.arm("direct_collection").metrics["pay_on_time"]
    assert stopped.status == "ok"  # still compared, on the cells where it had traffic
    assert stopped.coverage < 0.7
    assert stopped.units == before.arm("direct_collection").metrics["pay_on_time"].units
