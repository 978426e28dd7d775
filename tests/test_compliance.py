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
