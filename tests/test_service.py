"""Use cases against real databases (SQLite and PostgreSQL): versioning, sticky assignment,
idempotent ingestion, outcome maturity, allocation updates, promotion and its audit trail."""

from __future__ import annotations

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
from engine.store.tables import AllocationVersion, Assignment, OutcomeEvent

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
KEY = "dunning-channels"


def _variant(channels: LoadedExperiment, old: str, new: str) -> LoadedExperiment:
    text = channels.source.replace(old, new)
    assert text != channels.source, f"{old!r} not found in the experiment file"
    return LoadedExperiment(Path("variant.yaml"), parse_experiment(text, file="variant.yaml"), text)


def _events(*rows: tuple[str, str, str, float, datetime]) -> EventBatch:
    return EventBatch(
        event_id=np.array([r[0] for r in rows], dtype=object),
        debtor_id=np.array([r[1] for r in rows], dtype=object),
        kind=np.array([r[2] for r in rows], dtype=object),
        amount=np.array([r[3] for r in rows], dtype=float),
        occurred_at=np.array([to_datetime64(r[4]) for r in rows], dtype="datetime64[us]"),
    )


def _count(db: Engine, table: type) -> int:
    with Session(db) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


# -- experiments ---------------------------------------------------------------------------


def test_sync_is_idempotent_and_versions_changes(db: Engine, channels: LoadedExperiment) -> None:
    first = service.sync_experiment(db, channels, now=T0)
    again = service.sync_experiment(db, channels, now=T0 + timedelta(hours=1))
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    # Comments and layout are not content: no new version.
    reformatted = LoadedExperiment(
        channels.path, channels.experiment, "# moved\n" + channels.source
    )
    assert service.sync_experiment(db, reformatted, now=T0).created is False

    changed = _variant(channels, "min_days: 21", "min_days: 28")
    second = service.sync_experiment(db, changed, now=T0 + timedelta(days=1))
    assert (second.version, second.created) == (2, True)
    assert service.current_experiment(db, experiment_key=KEY).promotion.min_days == 28
    with Session(db) as session:
        allocations = queries.allocations(session, experiment_key=KEY)
    assert [a.version for a in allocations] == [1], "a rule change keeps the allocation"
    assert allocations[0].weights == pytest.approx(
        dict.fromkeys(channels.experiment.arm_keys, 0.25)
    )
    assert allocations[0].champion == "friendly_sms"


def test_unknown_experiment_is_a_clear_error(db: Engine) -> None:
    with pytest.raises(service.UnknownExperimentError, match="dunning sync"):
        service.assign_debtors(db, experiment_key="nope", debtor_ids=["d1"], now=T0)


# -- assignment ----------------------------------------------------------------------------


ONLY_SMS = {"friendly_sms": 1.0, "direct_collection": 0.0, "no_action": 0.0, "discount_nudge": 0.0}


def test_assignment_is_sticky_and_records_its_context(
    db: Engine, channels: LoadedExperiment
) -> None:
    service.sync_experiment(db, channels, now=T0)
    ids = [f"debtor-{i}" for i in range(2_000)]
    first = service.assign_debtors(
        db,
        experiment_key=KEY,
        debtor_ids=ids,
        segments=["WAOE"] * len(ids),
        amounts_owed=np.full(len(ids), 45.5),
        now=T0,
    )
    assert first.new.all()
    assert set(first.arm) == set(channels.experiment.arm_keys)
    assert np.allclose(first.propensity, 0.25)

    # New weights must not move anyone already assigned.
    service.update_allocation(db, experiment_key=KEY, now=T0, seed=1)
    with Session(db) as session:
        session.execute(
            AllocationVersion.__table__.update().values(  # type: ignore[attr-defined]
                weights=ONLY_SMS, bandit_weights=ONLY_SMS
            )
        )
        session.commit()
    again = service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=[*ids[:500], "late-1", "late-1"], now=T0
    )
    assert list(again.arm[:500]) == list(first.arm[:500])
    assert not again.new[:500].any()
    assert list(again.new[500:]) == [True, False], "a repeated id is assigned once"
    assert list(again.arm[500:]) == ["friendly_sms", "friendly_sms"]
    assert list(again.propensity[500:]) == [1.0, 1.0]

    with Session(db) as session:
        row = session.scalars(select(Assignment).where(Assignment.debtor_id == "debtor-7")).one()
    assert row.experiment_version == 1
    assert row.allocation_version == 1
    assert row.segment == "WAOE"
    assert row.amount_owed == pytest.approx(45.5)
    assert row.pay_due_at - row.assigned_at == timedelta(days=14)
    assert row.churn_due_at - row.assigned_at == timedelta(days=60)
    assert _count(db, Assignment) == 2_001


def test_assignment_matches_the_pure_hash(db: Engine, channels: LoadedExperiment) -> None:
    from engine.assignment import assign

    service.sync_experiment(db, channels, now=T0)
    ids = [f"x{i}" for i in range(300)]
    stored = service.assign_debtors(db, experiment_key=KEY, debtor_ids=ids, now=T0)
    expected = assign(
        ids,
        salt="dunning-channels-2026",
        arm_keys=channels.experiment.arm_keys,
        weights=[0.25] * 4,
    )
    assert list(stored.arm) == list(expected.arm)


# -- events and outcomes -------------------------------------------------------------------


@pytest.fixture
def four_debtors(db: Engine, channels: LoadedExperiment) -> Engine:
    """Four debtors assigned at T0 with outcomes of every kind of timing."""
    service.sync_experiment(db, channels, now=T0)
    service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=["on-time", "late", "never", "early"], now=T0
    )
    service.ingest_events(
        db,
        _events(
            ("e1", "on-time", "payment", 40.0, T0 + timedelta(days=3)),
            ("e2", "late", "payment", 25.0, T0 + timedelta(days=20)),  # after the 14-day window
            ("e3", "early", "payment", 10.0, T0 - timedelta(hours=1)),  # before assignment
            ("e4", "on-time", "reminder", np.nan, T0 + timedelta(hours=1)),
            ("e5", "never", "churn", np.nan, T0 + timedelta(days=30)),
            ("e6", "late", "collection_case", np.nan, T0 + timedelta(days=1)),
            ("e7", "late", "inquiry", np.nan, T0 + timedelta(days=2)),
        ),
        now=T0 + timedelta(days=21),
    )
    return db


def _totals(db: Engine, now: datetime) -> dict[str, int | float]:
    with Session(db) as session:
        cells = queries.outcome_cells(session, experiment_key=KEY, now=now)
    total = sum((c.totals for c in cells[1:]), cells[0].totals)
    return vars(total)


def test_outcomes_count_only_matured_units(four_debtors: Engine) -> None:
    before = _totals(four_debtors, T0 + timedelta(days=13))
    assert before["assigned"] == 4
    assert before["pay_matured"] == 0, "no window has closed on day 13"
    assert before["paid"] == 0

    after = _totals(four_debtors, T0 + timedelta(days=14))
    assert after["pay_matured"] == 4
    assert after["paid"] == 1, "only the payment within [assignment, window] counts"
    assert after["collected"] == pytest.approx(40.0)
    assert (after["reminders"], after["collection_cases"], after["inquiries"]) == (1, 1, 1)
    assert after["churn_matured"] == 0

    horizon = _totals(four_debtors, T0 + timedelta(days=60))
    assert (horizon["churn_matured"], horizon["churned"]) == (4, 1)


def test_late_arriving_event_updates_a_matured_unit(four_debtors: Engine) -> None:
    late_file = _events(("e8", "never", "payment", 12.0, T0 + timedelta(days=10)))
    service.ingest_events(four_debtors, late_file, now=T0 + timedelta(days=30))
    assert _totals(four_debtors, T0 + timedelta(days=30))["paid"] == 2


def test_ingest_is_idempotent(four_debtors: Engine) -> None:
    events_before = _count(four_debtors, OutcomeEvent)
    again = _events(
        ("e1", "on-time", "payment", 40.0, T0 + timedelta(days=3)),
        ("e9", "on-time", "inquiry", np.nan, T0 + timedelta(days=4)),
        ("e9", "on-time", "inquiry", np.nan, T0 + timedelta(days=4)),
    )
    result = service.ingest_events(four_debtors, again, now=T0 + timedelta(days=22))
    assert (result.received, result.inserted, result.duplicates) == (3, 1, 2)
    assert _count(four_debtors, OutcomeEvent) == events_before + 1
    totals = _totals(four_debtors, T0 + timedelta(days=30))
    assert totals["collected"] == pytest.approx(40.0), "a re-sent payment is not counted twice"
    assert totals["inquiries"] == 2


def test_events_before_the_assignment_arrive_first(db: Engine, channels: LoadedExperiment) -> None:
    service.sync_experiment(db, channels, now=T0)
    service.ingest_events(db, _events(("p", "d9", "payment", 5.0, T0 + timedelta(hours=2))), now=T0)
    service.assign_debtors(db, experiment_key=KEY, debtor_ids=["d9"], now=T0)
    assert _totals(db, T0 + timedelta(days=15))["paid"] == 1


def test_a_job_refreshes_exactly_its_new_debtors_that_have_events(
    db: Engine, channels: LoadedExperiment
) -> None:
    """Chunks after the first, and a store with earlier assignments: each new debtor with
    events gets them as outcomes, a new one without events keeps zeros, and a debtor assigned
    before keeps what its own ingestion stored."""
    service.sync_experiment(db, channels, now=T0)
    service.assign_debtors(db, experiment_key=KEY, debtor_ids=["old"], now=T0)
    paid = T0 + timedelta(hours=5)  # sent ahead of the assignments (as in the test above)
    service.ingest_events(
        db,
        _events(
            ("p-old", "old", "payment", 7.0, paid),
            ("p-b", "b", "payment", 11.0, paid),
            ("p-d", "d", "payment", 13.0, paid),
        ),
        now=T0,
    )
    with service.assignment_job(db, experiment_key=KEY, now=T0) as job:
        job.assign(["a", "b"])
        job.assign(["c", "d", "old"])
    with Session(db) as session:
        rows = session.exec(select(Assignment.debtor_id, Assignment.collected)).all()
    collected = {str(debtor): float(value) for debtor, value in rows}
    assert collected == {"old": 7.0, "a": 0.0, "b": 11.0, "c": 0.0, "d": 13.0}


# -- allocation and promotion --------------------------------------------------------------


def _simulate_outcomes(db: Engine, rates: dict[str, float], n: int, *, seed: int) -> None:
    """Assign ``n`` debtors at T0 and pay each with its arm's rate on day 2."""
    rng = np.random.default_rng(seed)
    ids = [f"s{seed}-{i}" for i in range(n)]
    result = service.assign_debtors(db, experiment_key=KEY, debtor_ids=ids, now=T0)
    pays = rng.random(n) < np.array([rates[a] for a in result.arm])
    paid = [i for i, p in zip(ids, pays, strict=True) if p]
    service.ingest_events(
        db,
        _events(*[(f"pay-{i}", i, "payment", 30.0, T0 + timedelta(days=2)) for i in paid]),
        now=T0 + timedelta(days=2),
    )


RATES = {"friendly_sms": 0.55, "direct_collection": 0.40, "no_action": 0.50, "discount_nudge": 0.70}


def test_update_uses_matured_outcomes_and_stores_its_seed(
    db: Engine, channels: LoadedExperiment
) -> None:
    service.sync_experiment(db, channels, now=T0)
    _simulate_outcomes(db, RATES, 4_000, seed=3)
    early = service.update_allocation(db, experiment_key=KEY, now=T0 + timedelta(days=5), seed=11)
    assert early.matured_units == 0
    assert max(early.weights.values()) < 0.4, "no matured data: no arm is favoured"

    ready = T0 + timedelta(days=15)
    info = service.update_allocation(db, experiment_key=KEY, now=ready, seed=11)
    assert (info.version, info.kind, info.seed, info.matured_units) == (3, "update", 11, 4_000)
    assert info.weights["discount_nudge"] == pytest.approx(0.85, abs=1e-3)
    assert min(info.weights.values()) >= 0.05 - 1e-12
    assert sum(info.weights.values()) == pytest.approx(1.0)
    # The stored seed reproduces the weights exactly.
    replay = service.update_allocation(db, experiment_key=KEY, now=ready, seed=info.seed)
    assert replay.weights == info.weights


def test_report_and_listing(four_debtors: Engine) -> None:
    now = T0 + timedelta(days=21)
    report = service.experiment_report(four_debtors, experiment_key=KEY, now=now)
    assert [k.arm for k in report.kpis] == [
        "friendly_sms",
        "direct_collection",
        "no_action",
        "discount_nudge",
    ]
    assert sum(k.assigned for k in report.kpis) == 4
    [summary] = service.list_experiments(four_debtors)
    assert (summary.key, summary.assigned, summary.champion) == (KEY, 4, "friendly_sms")
    assert service.default_as_of(four_debtors, experiment_key=KEY) == now


def test_per_assignment_outcomes_explain_each_debtor(
    four_debtors: Engine, channels: LoadedExperiment
) -> None:
    rows = {
        r.outcome.debtor_id: r
        for r in service.assignment_outcomes(
            four_debtors, experiment_key=KEY, now=T0 + timedelta(days=21)
        )
    }
    assert set(rows) == {"on-time", "late", "never", "early"}
    on_time, late, never = rows["on-time"].outcome, rows["late"].outcome, rows["never"].outcome
    assert (on_time.paid_in_window, on_time.collected) == (True, pytest.approx(40.0))
    assert (late.paid_in_window, late.collected) == (False, 0.0)
    assert late.paid_at == T0 + timedelta(days=20), "paid, but after the window"
    assert (late.collection_cases, on_time.reminders) == (1, 1)
    assert never.churned_in_horizon is None, "churn on day 30 has not happened by day 21"
    assert rows["early"].outcome.paid_in_window is False, "a payment before assignment is no effect"
    for row in rows.values():
        assert row.treatment_cost == channels.experiment.arm(row.outcome.arm).cost
        assert row.outcome.propensity == 0.25
        assert (row.outcome.experiment_version, row.outcome.allocation_version) == (1, 1)

    later = service.assignment_outcomes(
        four_debtors, experiment_key=KEY, now=T0 + timedelta(days=60), debtor_ids=["never"]
    )
    assert [(r.outcome.churned_in_horizon, r.clv) for r in later] == [(True, 0.0)]


def test_analysis_and_segment_model_from_the_database(
    db: Engine, channels: LoadedExperiment
) -> None:
    service.sync_experiment(db, channels, now=T0)
    rng = np.random.default_rng(8)
    ids = [f"seg-{i}" for i in range(4_000)]
    segments = rng.choice(["WAOE", "DICE"], size=len(ids))
    result = service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=ids, segments=segments, now=T0
    )
    rate = {"WAOE": 0.8, "DICE": 0.15}
    pays = rng.random(len(ids)) < np.array([rate[s] for s in segments])
    paid = [i for i, p in zip(ids, pays, strict=True) if p]
    service.ingest_events(
        db,
        _events(*[(f"p-{i}", i, "payment", 20.0, T0 + timedelta(days=1)) for i in paid]),
        now=T0 + timedelta(days=1),
    )
    now = T0 + timedelta(days=15)
    analysis = service.analyze_experiment(db, experiment_key=KEY, now=now)
    pay = {arm.arm: arm.metrics["pay_on_time"] for arm in analysis.arms}
    assert sum(m.units for m in pay.values()) == 4_000
    observed = {a: np.mean(pays[result.arm == a]) for a in channels.experiment.arm_keys}
    for arm, metric in pay.items():  # one stratum, flat prior: posterior mean ~ observed rate
        assert metric.estimate == pytest.approx(observed[arm], abs=0.005)
    assert not analysis.srm.flagged

    only = service.analyze_experiment(db, experiment_key=KEY, now=now, segments=["DICE"])
    assert sum(a.metrics["pay_on_time"].units for a in only.arms) == int((segments == "DICE").sum())
    with pytest.raises(service.UnknownSegmentError, match="WACE"):
        service.analyze_experiment(db, experiment_key=KEY, now=now, segments=["WACE"])

    fit = service.segment_model(db, experiment_key=KEY, now=now)
    assert fit.segments == ("DICE", "WAOE")
    assert fit.means[1].min() > fit.means[0].max(), "willing payers pay more in every arm"
    assert fit.converged
