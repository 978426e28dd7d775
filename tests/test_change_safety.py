"""Change safety by meaning (engine/versioning/fields.py, safety.py, epochs.py): every field of
the language is classified, the docs print the table, and a review of an edit refuses, notes or
accepts each change by its class."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.loader import LoadedExperiment
from engine.schema import experiment_json_schema
from engine.versioning import (
    FIELDS,
    LiveState,
    Safety,
    current_definition,
    definition_starts,
    field_of,
    review_changes,
    safety_of,
)
from engine.versioning.fields import safety_table_markdown

ROOT = Path(__file__).resolve().parents[1]
#: Fields the loader fills in that an analyst never writes (hidden from the JSON Schema).
HIDDEN = {"arms.*.router.fitted"}


def schema_fields() -> Iterator[str]:
    """Every leaf field of the JSON Schema, as the table names it (``*`` for list items)."""
    schema = experiment_json_schema()
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(node: dict[str, Any], prefix: str) -> Iterator[str]:
        node = resolve(node)
        branches = [resolve(b) for b in node.get("anyOf", [])]
        objects = [b for b in branches if b.get("properties")]
        if objects:
            for branch in objects:
                yield from walk(branch, prefix)
        elif node.get("properties"):
            for name, child in node["properties"].items():
                yield from walk(child, f"{prefix}.{name}" if prefix else name)
        elif node.get("type") == "array" and resolve(node.get("items", {})).get("properties"):
            yield from walk(node["items"], f"{prefix}.*")
        else:
            yield prefix

    yield from walk(schema, "")


def test_every_field_of_the_schema_is_classified() -> None:
    fields = set(schema_fields())
    assert len(fields) > 60, "the walk reaches the nested blocks"
    assert {"arms.*.channel", "metrics.pay_window_days", "compliance.quiet_hours.start"} <= fields
    missing = sorted(fields - set(FIELDS))
    assert not missing, f"classify these in engine/versioning/fields.py: {missing}"
    stale = sorted(set(FIELDS) - fields - HIDDEN)
    assert not stale, f"no such field in the language: {stale}"


def test_the_docs_print_the_table() -> None:
    docs = (ROOT / "docs" / "experiment-language.md").read_text(encoding="utf-8")
    assert safety_table_markdown() in docs, "regenerate the table in docs/experiment-language.md"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("arms.friendly_sms.cost", "arms.*.cost"),
        ("allocation.weights.no_action", "allocation.weights"),
        ("eligibility.0.min", "eligibility.*.min"),
        ("arms.router_arm.router.fitted.coefficients.3", "arms.*.router.fitted"),
        ("metrics.pay_window_days", "metrics.pay_window_days"),
    ],
)
def test_changed_leaves_are_named_as_in_the_table(path: str, field: str) -> None:
    assert field_of(path) == field
    assert field in FIELDS


def test_a_block_switched_on_takes_its_strictest_field() -> None:
    assert safety_of("layer").safety is Safety.IDENTITY
    assert safety_of("arms.*.router").safety is Safety.DEFINITION
    assert safety_of("compliance").safety is Safety.LIVE
    with pytest.raises(KeyError, match="no change-safety class"):
        safety_of("nonsense")


# -- reviews --------------------------------------------------------------------------------


def config(channels: LoadedExperiment, **edits: Any) -> dict[str, Any]:
    data = channels.experiment.model_dump(mode="json")
    for dotted, value in edits.items():
        *parents, name = dotted.split("__")
        target = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[name] = value
    return data


RUNNING = LiveState(
    assigned_arms={"friendly_sms", "discount_nudge"}, champion="friendly_sms", bandit_moved=True
)


def test_a_new_pay_window_is_a_new_definition_refused_once_debtors_are_assigned(
    channels: LoadedExperiment,
) -> None:
    before, after = config(channels), config(channels, metrics__pay_window_days=7)
    review = review_changes(before, after, state=RUNNING)
    assert review.new_definition
    [refused] = review.refused
    assert refused.startswith("metrics.pay_window_days: 14 -> 7: each debtor's pay window")
    fresh = review_changes(before, after, state=LiveState())
    assert fresh.refused == (), "nothing is stored yet: nothing to protect"
    assert fresh.new_definition, "the epoch is a property of the versions, not of the data"


@pytest.mark.parametrize(
    ("edits", "safety"),
    [
        ({"arms__3__discount": 0.10}, Safety.DEFINITION),
        ({"arms__1__channel": "letter"}, Safety.DEFINITION),
        ({"currency": "SEK"}, Safety.DEFINITION),
        ({"metrics__churn_horizon_days": 90}, Safety.DEFINITION),
        ({"salt": "new-salt"}, Safety.IDENTITY),
        ({"segment": "country"}, Safety.IDENTITY),
        ({"arms__1__cost": 12.0}, None),
        ({"promotion__min_days": 28}, None),
        ({"clv__monthly_margin": 20.0}, None),
        ({"objective": "net_value"}, None),
        ({"arms__0__label": "SMS"}, None),
    ],
)
def test_each_change_takes_its_class(
    channels: LoadedExperiment, edits: dict[str, Any], safety: Safety | None
) -> None:
    review = review_changes(config(channels), config(channels, **edits), state=RUNNING)
    assert [f.safety for f in review.findings] == ([safety] if safety else [])
    assert review.new_definition == (safety is Safety.DEFINITION)


def test_starting_weights_are_noted_once_the_bandit_moved(channels: LoadedExperiment) -> None:
    weights = dict.fromkeys(channels.experiment.arm_keys, 0.25)
    before, after = config(channels), config(channels, allocation__weights=weights)
    review = review_changes(before, after, state=RUNNING)
    assert review.refused == ()
    [note] = review.notes
    assert note.startswith("allocation.weights: None -> {'friendly_sms': 0.25")
    assert "the weights in the file change nothing" in note
    unmoved = LiveState(assigned_arms=RUNNING.assigned_arms, champion="friendly_sms")
    assert review_changes(before, after, state=unmoved).findings == (), "still the split in force"


def test_the_file_may_catch_up_with_a_promotion(channels: LoadedExperiment) -> None:
    arms = config(channels)["arms"]
    moved = [dict(arm, champion=arm["key"] == "discount_nudge") for arm in arms]
    before, after = config(channels), config(channels, arms=moved)
    [refused] = review_changes(before, after, state=RUNNING).refused
    assert refused.startswith("champion changed in the file (friendly_sms -> discount_nudge)")
    promoted = LiveState(assigned_arms=RUNNING.assigned_arms, champion="discount_nudge")
    assert review_changes(before, after, state=promoted).findings == ()


def test_adding_an_arm_is_live_and_removing_one_with_debtors_is_not(
    channels: LoadedExperiment,
) -> None:
    arms = config(channels)["arms"]
    letter = dict(arms[2], key="letter", channel="letter", contacts_debtor=True, cost=0.9)
    added = review_changes(config(channels), config(channels, arms=[*arms, letter]), state=RUNNING)
    assert (added.findings, added.new_definition) == ((), False)
    without_discount = [a for a in arms if a["key"] != "discount_nudge"]
    removed = review_changes(
        config(channels), config(channels, arms=without_discount), state=RUNNING
    )
    assert removed.refused == (
        "arm(s) discount_nudge removed or renamed, but debtors are assigned to them",
    )


def test_definition_epochs_are_a_function_of_the_version_history(
    channels: LoadedExperiment,
) -> None:
    v1 = config(channels)
    v2 = config(channels, promotion__min_days=28)  # live
    v3 = config(channels, metrics__pay_window_days=7)  # a new definition
    v4 = config(channels, metrics__pay_window_days=7, arms__1__cost=12.0)  # live again
    v5 = config(channels, metrics__pay_window_days=7, arms__1__cost=12.0, currency="SEK")
    versions = list(enumerate([v1, v2, v3, v4, v5], start=1))
    assert definition_starts(versions) == [1, 1, 3, 3, 5]
    assert current_definition(versions[:4]).since == 3
    assert current_definition(versions[:4]).changes == (
        "metrics.pay_window_days: 14 -> 7",
        # v3 also undoes v2's min_days, which is live and not part of the definition.
    )
    assert not current_definition(versions[:2]).redefined
