"""The allocation language end to end on real databases: top-two Thompson sampling, champion
floor, burn-in, the randomized holdout and the net-value reward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import Engine, select
from sqlmodel import Session

from engine import service
from engine.events import EventBatch, to_datetime64
from engine.loader import LoadedExperiment, parse_experiment
from engine.store import queries
from engine.store.tables import Assignment

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
KEY = "dunning-channels"
RATES = {"friendly_sms": 0.55, "direct_collection": 0.40, "no_action": 0.50, "discount_nudge": 0.70}


def variant(channels: LoadedExperiment, extra: str, policy: str = "thompson") -> LoadedExperiment:
    """The shipped experiment with extra lines appended to its allocation block."""
    anchor = "  draws: 20000\n"
    assert anchor in channels.source
    text = channels.source.replace(anchor, anchor + extra)
    text = text.replace("  policy: thompson", f"  policy: {policy}")
    return LoadedExperiment(Path("variant.yaml"), parse_experiment(text, file="v.yaml"), text)


def simulate(db: Engine, n: int, *, seed: int, at: datetime = T0) -> None:
    """Assign ``n`` debtors at ``at``; those who pay pay two days later."""
    rng = np.random.default_rng(seed)
    ids = [f"s{seed}-{i}" for i in range(n)]
    result = service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=ids, amounts_owed=np.full(n, 40.0), now=at
    )
    pays = rng.random(n) < np.array([RATES[a] for a in result.arm])
    paid = [i for i, p in zip(ids, pays, strict=True) if p]
    events = EventBatch(
        event_id=np.array([f"pay-{i}" for i in paid], dtype=object),
        debtor_id=np.array(paid, dtype=object),
        kind=np.full(len(paid), "payment", dtype=object),
        amount=np.full(len(paid), 40.0),
        occurred_at=np.full(len(paid), to_datetime64(at + timedelta(days=2))),
    )
    service.ingest_events(db, events, now=at + timedelta(days=2))


LATER = T0 + timedelta(days=15)


def test_top_two_thompson_keeps_the_runner_up_in_play(
    db: Engine, channels: LoadedExperiment
) -> None:
    service.sync_experiment(db, variant(channels, "", policy="top_two"), now=T0)
    simulate(db, 4_000, seed=1)
    info = service.update_allocation(db, experiment_key=KEY, now=LATER, seed=3)
    # Leader discount_nudge is played with prob. beta = 0.5 (plus the floor); the rest goes
    # to the challengers, not all to the leader as Thompson sampling would.
    bandit = info.weights
    assert bandit["discount_nudge"] == pytest.approx(0.05 + 0.8 * 0.5, abs=0.02)
    assert "top-two" in info.reason


def test_champion_floor_and_burn_in(db: Engine, channels: LoadedExperiment) -> None:
    text = "  champion_floor: 0.3\n  burn_in_units: 3000\n"
    service.sync_experiment(db, variant(channels, text), now=T0)
    simulate(db, 2_000, seed=2)
    early = service.update_allocation(db, experiment_key=KEY, now=LATER, seed=3)
    assert "burn-in" in early.reason
    assert early.weights["direct_collection"] == pytest.approx(0.7 / 3, abs=1e-9)
    assert early.weights["friendly_sms"] == pytest.approx(0.3)
    simulate(db, 2_000, seed=3, at=LATER)  # the next batch, the same day
    same_day = service.update_allocation(db, experiment_key=KEY, now=LATER, seed=3)
    assert same_day.unchanged is not None, "update_cadence: daily allows one update a day"
    assert same_day.version == early.version
    # Once the second batch has matured too, 4,000 units end the burn-in.
    matured = LATER + timedelta(days=15)
    info = service.update_allocation(db, experiment_key=KEY, now=matured, seed=3)
    assert "burn-in" not in info.reason
    assert info.weights["friendly_sms"] >= 0.3 - 1e-12, "the champion keeps its floor"
    assert min(info.weights.values()) >= 0.05 - 1e-12
    assert sum(info.weights.values()) == pytest.approx(1.0)


def test_holdout_gets_the_champion_and_never_trains(db: Engine, channels: LoadedExperiment) -> None:
    service.sync_experiment(db, variant(channels, "  holdout_share: 0.2\n"), now=T0)
    simulate(db, 6_000, seed=4)
    with Session(db) as session:
        rows = session.scalars(select(Assignment)).all()
    holdout = [r for r in rows if r.holdout]
    # Membership ~ Binomial(6000, 0.2): the two-sided binomial test must not reject.
    assert stats.binomtest(len(holdout), len(rows), 0.2).pvalue > 0.001
    assert {r.arm for r in holdout} == {"friendly_sms"}
    sms = next(r for r in rows if r.arm == "friendly_sms")
    # Propensity = P(holdout) x 1 + P(bandit) x 1/4 for the champion.
    assert sms.propensity == pytest.approx(0.2 + 0.8 * 0.25)
    other = next(r for r in rows if r.arm == "no_action")
    assert other.propensity == pytest.approx(0.8 * 0.25)

    info = service.update_allocation(db, experiment_key=KEY, now=LATER, seed=5)
    assert info.matured_units == len(rows) - len(holdout), "the holdout never trains"
    assert info.holdout_share == pytest.approx(0.2)
    assert info.weights["friendly_sms"] >= 0.2
    # Membership does not move with the weights: reassigning new ids under the new weights
    # puts the same share in the holdout, and the old members stay members.
    analysis = service.analyze_experiment(db, experiment_key=KEY, now=LATER)
    assert analysis.holdout is not None
    assert analysis.holdout.holdout_units == len(holdout)
    assert analysis.holdout.holdout_rate == pytest.approx(0.55, abs=0.05)
    assert analysis.holdout.uplift_low < analysis.holdout.uplift < analysis.holdout.uplift_high
    assert not analysis.srm.flagged, "the SRM check uses the overall propensities"
    again = service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=[r.debtor_id for r in holdout[:50]], now=LATER
    )
    assert set(again.arm) == {"friendly_sms"}


def test_net_value_reward_prefers_the_cheap_arm(db: Engine, channels: LoadedExperiment) -> None:
    net = variant(channels, "")
    text = net.source.replace("\nclv:", "\nobjective: net_value\n\nclv:")
    net = LoadedExperiment(net.path, parse_experiment(text, file="net.yaml"), text)
    service.sync_experiment(db, net, now=T0)
    simulate(db, 4_000, seed=6)
    # Churn matures after the 60-day horizon: before that the net value is mostly prior.
    info = service.update_allocation(db, experiment_key=KEY, now=T0 + timedelta(days=61), seed=7)
    assert "net_value" in info.reason
    # Same pay rate ranking, but collection costs 9.50 a case: it must be the least favoured.
    assert info.p_best["direct_collection"] == pytest.approx(0.0, abs=1e-3)
    assert sum(info.p_best.values()) == pytest.approx(1.0)


def test_per_segment_allocation_finds_each_segments_best_arm(
    db: Engine, channels: LoadedExperiment
) -> None:
    service.sync_experiment(db, variant(channels, "  per_segment: true\n"), now=T0)
    arms = ("friendly_sms", "direct_collection", "no_action", "discount_nudge")
    rates = {
        "WAOR": dict(zip(arms, (0.80, 0.50, 0.75, 0.90), strict=True)),
        "DICE": dict(zip(arms, (0.15, 0.30, 0.13, 0.15), strict=True)),
    }
    rng = np.random.default_rng(9)
    ids = [f"p-{i}" for i in range(6_000)]
    segments = np.array(["WAOR", "DICE"])[rng.integers(0, 2, len(ids))]
    result = service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=ids, segments=segments, now=T0
    )
    p = np.array([rates[s][a] for s, a in zip(segments, result.arm, strict=True)])
    paid = [i for i, yes in zip(ids, rng.random(len(ids)) < p, strict=True) if yes]
    events = EventBatch(
        event_id=np.array([f"pay-{i}" for i in paid], dtype=object),
        debtor_id=np.array(paid, dtype=object),
        kind=np.full(len(paid), "payment", dtype=object),
        amount=np.full(len(paid), 40.0),
        occurred_at=np.full(len(paid), to_datetime64(T0 + timedelta(days=2))),
    )
    service.ingest_events(db, events, now=T0 + timedelta(days=2))
    info = service.update_allocation(db, experiment_key=KEY, now=LATER, seed=11)
    assert "per segment" in info.reason
    best = {s: max(w, key=lambda arm: w[arm]) for s, w in info.segment_weights.items()}
    assert best == {"WAOR": "discount_nudge", "DICE": "direct_collection"}
    for weights in info.segment_weights.values():
        assert min(weights.values()) >= 0.05 - 1e-12
        assert sum(weights.values()) == pytest.approx(1.0)

    later = service.assign_debtors(
        db,
        experiment_key=KEY,
        debtor_ids=["new-dice", "new-waor", "new-other"],
        segments=["DICE", "WAOR", "WACE"],
        now=LATER,
    )
    expected = [
        info.segment_weights["DICE"][later.arm[0]],
        info.segment_weights["WAOR"][later.arm[1]],
        info.weights[later.arm[2]],  # a segment without its own weights gets the pooled ones
    ]
    assert later.propensity.tolist() == pytest.approx(expected)
    analysis = service.analyze_experiment(db, experiment_key=KEY, now=LATER + timedelta(days=1))
    assert analysis.strata >= 2, "strata are (period, segment) under per-segment allocation"
    assert not analysis.srm.flagged


def test_promotion_moves_the_holdout_to_the_new_champion(
    db: Engine, channels: LoadedExperiment
) -> None:
    text = "  holdout_share: 0.2\n  champion_floor: 0.3\n"
    loaded = variant(channels, text)
    # No churn events: a margin of 5 points lets the guardrail be shown non-inferior.
    relaxed = loaded.source.replace("max_relative_increase: 0.20", "max_absolute_increase: 0.05")
    loaded = LoadedExperiment(loaded.path, parse_experiment(relaxed, file="v.yaml"), relaxed)
    service.sync_experiment(db, loaded, now=T0)
    simulate(db, 8_000, seed=12)
    cycle = service.run_cycle(db, experiment_key=KEY, now=T0 + timedelta(days=61), update_seed=1)
    assert cycle.promotion.decision.new_champion == "discount_nudge"
    with Session(db) as session:
        latest = queries.latest_allocation(session, experiment_key=KEY)
    assert latest is not None
    assert latest.champion == "discount_nudge"
    # The holdout and the floor follow the new champion; the bandit's split is kept.
    assert latest.bandit_weights == pytest.approx(cycle.allocation.bandit_weights)
    for arm, bandit in latest.bandit_weights.items():
        holdout = 0.2 if arm == "discount_nudge" else 0.0
        assert latest.weights[arm] == pytest.approx(holdout + 0.8 * bandit)
    assert latest.weights["discount_nudge"] >= 0.3
    member = service.assign_debtors(
        db,
        experiment_key=KEY,
        debtor_ids=[f"n{i}" for i in range(400)],
        now=T0 + timedelta(days=62),
    )
    assert set(member.arm[member.holdout]) == {"discount_nudge"}
    assert np.allclose(member.propensity, [latest.weights[a] for a in member.arm]), (
        "propensities are the new allocation's overall weights"
    )
