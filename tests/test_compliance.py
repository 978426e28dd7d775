"""Contact caps and quiet hours at assignment: the fallback, its reason, the true propensity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from engine import service
from engine.compliance import apply_compliance
from engine.config import QuietHours
from engine.events import EventBatch, to_datetime64
from engine.loader import ConfigError, LoadedExperiment, parse_experiment

ARMS = ["friendly_sms", "direct_collection", "no_action", "discount_nudge"]
CONTACTING = [True, False, False, True]


def test_blocked_debtors_get_the_fallback_with_the_true_propensity() -> None:
    weights = [0.4, 0.1, 0.2, 0.3]
    result = apply_compliance(
        np.array([0, 1, 2, 3, 0, 3]),
        weights=weights,
        contacting=CONTACTING,
        fallback=2,
        contacts_7d=[3, 3, 3, 3, 0, 2],
        cap=3,
        quiet=False,
        fallback_name="no_action",
    )
    assert result.arm_index.tolist() == [2, 1, 2, 2, 0, 3]
    # Blocked: no_action is reached by its own weight and by both contacting arms' weights.
    assert result.propensity.tolist() == pytest.approx([0.9, 0.1, 0.9, 0.9, 0.4, 0.3])
    assert result.reason[0] == "compliance: contact cap of 3 per 7 days reached; fallback no_action"
    assert result.reason[1] is None, "a non-contacting arm is allowed"
    assert result.reason[4] is None
    # The propensities of a blocked debtor's possible arms still sum to one.
    blocked = np.array(weights)
    assert blocked[1] + 0.9 == pytest.approx(1.0)


def test_quiet_hours_block_everyone_and_wrap_midnight() -> None:
    rules = QuietHours(start="21:00", end="08:00", timezone="Europe/Stockholm")
    assert rules.contains(datetime(2026, 1, 5, 21, 30, tzinfo=UTC))  # 22:30 in Stockholm
    assert rules.contains(datetime(2026, 1, 5, 6, 30, tzinfo=UTC))  # 07:30
    assert not rules.contains(datetime(2026, 1, 5, 7, 30, tzinfo=UTC))  # 08:30
    result = apply_compliance(
        np.array([0, 3]),
        weights=[0.25] * 4,
        contacting=CONTACTING,
        fallback=2,
        contacts_7d=[0, 0],
        cap=None,
        quiet=True,
        fallback_name="no_action",
    )
    assert result.arm_index.tolist() == [2, 2]
    assert result.reason.tolist() == ["compliance: quiet hours; fallback no_action"] * 2


def with_rules(channels: LoadedExperiment, block: str) -> LoadedExperiment:
    text = channels.source + block
    return LoadedExperiment(Path("c.yaml"), parse_experiment(text, file="c.yaml"), text)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("compliance:\n  fallback_arm: friendly_sms\n", "contacts the debtor"),
        ("compliance:\n  fallback_arm: letter\n", "unknown arm 'letter'"),
        (
            "compliance:\n  fallback_arm: no_action\n  quiet_hours:\n    timezone: Mars/Olympus\n",
            "unknown time zone",
        ),
        (
            "compliance:\n  fallback_arm: no_action\n  quiet_hours:\n    start: '25:00'\n",
            "must be a time of day HH:MM",
        ),
    ],
)
def test_invalid_rules_name_the_field(channels: LoadedExperiment, block: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        with_rules(channels, block)
    assert all(issue.field.startswith("compliance") for issue in caught.value.issues)


def test_contact_cap_at_assignment(db: Engine, channels: LoadedExperiment) -> None:
    rules = "compliance:\n  contact_cap_per_7_days: 2\n  fallback_arm: no_action\n"
    service.sync_experiment(db, with_rules(channels, rules), now=datetime(2026, 3, 1, tzinfo=UTC))
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    ids = [f"d{i}" for i in range(400)]
    tired = ids[:200]  # two reminders this week (from another campaign)
    events = EventBatch(
        event_id=np.array([f"r{k}-{d}" for d in tired for k in range(2)], dtype=object),
        debtor_id=np.array([d for d in tired for _ in range(2)], dtype=object),
        kind=np.full(400, "reminder", dtype=object),
        amount=np.full(400, np.nan),
        occurred_at=np.full(400, to_datetime64(now - timedelta(days=3))),
    )
    service.ingest_events(db, events, now=now)
    result = service.assign_debtors(db, experiment_key="dunning-channels", debtor_ids=ids, now=now)
    blocked = result.arm[:200]
    assert not set(blocked) & {"friendly_sms", "discount_nudge"}
    moved = result.reason[:200] != None  # noqa: E711 (element-wise)
    assert moved.sum() > 50, "about half of them drew a contacting arm"
    assert set(result.arm[:200][moved]) == {"no_action"}
    assert np.allclose(result.propensity[:200][result.arm[:200] == "no_action"], 0.75)
    # Debtors without recent contacts are untouched.
    assert {"friendly_sms", "discount_nudge"} <= set(result.arm[200:])
    assert all(r is None for r in result.reason[200:])
    assert np.allclose(result.propensity[200:], 0.25)


QUIET = (
    "compliance:\n  quiet_hours:\n    start: '22:00'\n    end: '07:00'\n"
    "    timezone: Europe/Berlin\n  fallback_arm: no_action\n"
)


@pytest.mark.slow
def test_srm_p_values_stay_uniform_when_quiet_hours_bind(channels: LoadedExperiment) -> None:
    """Every run assigns a day batch and a 22:30 batch through the real drawing step. The
    debtors a contact rule assigned are not randomised, so the check leaves them out: its
    p-values are uniform (Kolmogorov-Smirnov), while counting them against the weights flags
    every run (the old behaviour: p = 0)."""
    from scipy import stats as sps

    from engine.drawing import AllocationWeights, draw_arms
    from engine.stats.srm import srm_check

    experiment = with_rules(channels, QUIET).experiment
    arms = tuple(experiment.arm_keys)
    split = dict(zip(arms, (0.4, 0.2, 0.2, 0.2), strict=True))
    allocation = AllocationWeights(arms, "friendly_sms", split, split)
    times = [datetime(2026, 3, 10, 9, tzinfo=UTC), datetime(2026, 3, 10, 21, 30, tzinfo=UTC)]
    p_clean, p_all = [], []
    for run in range(300):
        counts, everyone = np.zeros((len(arms), 2)), np.zeros((len(arms), 2))
        for period, now in enumerate(times):
            ids = np.array([f"r{run}-p{period}-{i}" for i in range(1_000)], dtype=object)
            drawn = draw_arms(
                ids,
                np.full(ids.size, None, dtype=object),
                experiment=experiment,
                allocation=allocation,
                contacts_7d=np.zeros(ids.size, dtype=np.int64),
                now=now,
            )
            free = ~drawn.constrained
            assert drawn.constrained.all() == (period == 1)
            counts[:, period] = np.bincount(drawn.arm_index[free], minlength=len(arms))
            everyone[:, period] = np.bincount(drawn.arm_index, minlength=len(arms))
        weights = np.column_stack([list(split.values())] * 2)
        kept = counts.sum(axis=0) > 0
        p_clean.append(srm_check(counts[:, kept], weights[:, kept], method="multinomial").p_value)
        p_all.append(srm_check(everyone, weights, method="multinomial").p_value)
    assert sps.kstest(p_clean, "uniform").pvalue > 0.01
    assert np.mean(np.array(p_all) < 0.001) == 1.0


def test_a_quiet_hours_batch_neither_flags_srm_nor_enters_the_estimates(
    db: Engine, channels: LoadedExperiment
) -> None:
    """One batch assigned at 22:30 Berlin time used to give p = 0 and block promotion."""
    service.sync_experiment(db, with_rules(channels, QUIET), now=datetime(2026, 3, 1, tzinfo=UTC))
    day, night = datetime(2026, 3, 10, 9, tzinfo=UTC), datetime(2026, 3, 10, 21, 30, tzinfo=UTC)
    key = "dunning-channels"
    service.assign_debtors(
        db, experiment_key=key, debtor_ids=[f"a{i}" for i in range(800)], now=day
    )
    late = service.assign_debtors(
        db, experiment_key=key, debtor_ids=[f"b{i}" for i in range(400)], now=night
    )
    # Nobody is contacted at night: the agency (no contact by the engine) or the fallback.
    assert set(late.arm) == {"no_action", "direct_collection"}
    analysis = service.analyze_experiment(db, experiment_key=key, now=night + timedelta(days=1))
    assert analysis.srm.constrained == 400
    assert not analysis.srm.flagged
    assert sum(analysis.srm.observed.values()) == 800
    assert sum(arm.constrained for arm in analysis.arms) == 400
    assert analysis.arm("no_action").assigned < 400  # only its randomised debtors
    decision = service.evaluate_promotion(db, experiment_key=key, now=night, dry_run=True)
    assert decision.decision.reason != "srm"
