"""Safe versioning: a changed file becomes a new version with its diff; edits that would corrupt
a running experiment are refused unless forced; layers keep experiments mutually exclusive."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session
from typer.testing import CliRunner

from engine import service
from engine.cli import app
from engine.config import Experiment
from engine.loader import LoadedExperiment, parse_experiment
from engine.store.tables import AllocationVersion, ExperimentVersion
from engine.versioning import LiveState, config_changes, review_changes

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = "dunning-channels"
RUNNER = CliRunner()


def variant(channels: LoadedExperiment, *edits: tuple[str, str]) -> LoadedExperiment:
    text = channels.source
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return LoadedExperiment(Path("edited.yaml"), parse_experiment(text, file="edited.yaml"), text)


def count(db: Engine, table: type) -> int:
    with Session(db) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def assign_everyone(db: Engine, n: int = 400) -> set[str]:
    result = service.assign_debtors(
        db, experiment_key=KEY, debtor_ids=[f"d{i}" for i in range(n)], now=T0
    )
    return set(result.arm)


# -- the pure diff --------------------------------------------------------------------------


def test_changes_name_arms_by_key_not_position(channels: LoadedExperiment) -> None:
    before = channels.experiment.model_dump(mode="json")
    moved = dict(before, arms=list(reversed(before["arms"])))
    assert config_changes(before, moved) == [], "reordering arms changes nothing"
    edited = variant(channels, ("cost: 9.50", "cost: 12.00"), ("min_days: 21", "min_days: 28"))
    changes = [str(c) for c in config_changes(before, edited.experiment.model_dump(mode="json"))]
    assert changes == [
        "arms.direct_collection.cost: 9.5 -> 12.0",
        "promotion.min_days: 21 -> 28",
    ]
    added = variant(
        channels,
        ("arms:\n", "arms:\n  - key: letter\n    channel: letter\n    cost: 0.9\n"),
    )
    diff = [str(c) for c in config_changes(before, added.experiment.model_dump(mode="json"))]
    assert "arms.letter.channel: (absent) -> 'letter'" in diff


def test_nothing_is_unsafe_before_any_assignment(channels: LoadedExperiment) -> None:
    renamed = variant(channels, ("key: no_action", "key: wait"), ("salt: dunning", "salt: x"))
    before = channels.experiment.model_dump(mode="json")
    after = renamed.experiment.model_dump(mode="json")
    assert review_changes(before, after, state=LiveState()).refused == ()
    problems = review_changes(before, after, state=LiveState(assigned_arms={"no_action"})).refused
    assert len(problems) == 2
    assert "no_action removed or renamed" in problems[0]
    assert problems[1].startswith("salt: 'dunning-channels-2026' -> 'x-channels-2026': every")


# -- sync through the service ---------------------------------------------------------------


UNSAFE = [
    pytest.param(("key: no_action", "key: wait_and_see"), "removed or renamed", id="rename-arm"),
    pytest.param(("salt: dunning-channels-2026", "salt: other"), "salt: ", id="salt"),
    pytest.param(
        ("segment: debtor_type", "unit: customer_id\nsegment: debtor_type"), "unit", id="unit"
    ),
    pytest.param(
        ("    champion: true\n", "    champion: false\n"), "champion changed", id="champion"
    ),
    pytest.param(
        ("currency: EUR", "currency: EUR\nlayer: {key: dunning, range: [0, 0.5]}"),
        "layer: None -> {'key': 'dunning'",
        id="layer",
    ),
]


@pytest.mark.parametrize(("edit", "message"), UNSAFE)
def test_unsafe_edit_of_a_running_experiment_is_refused_unless_forced(
    db: Engine, channels: LoadedExperiment, edit: tuple[str, str], message: str
) -> None:
    if "champion: false" in edit[1]:
        edit_ = variant(
            channels, edit, ("  - key: no_action\n", "  - key: no_action\n    champion: true\n")
        )
    else:
        edit_ = variant(channels, edit)
    service.sync_experiment(db, channels, now=T0)
    assert assign_everyone(db) == set(channels.experiment.arm_keys)
    with pytest.raises(service.UnsafeChangeError, match=re.escape(message)) as info:
        service.sync_experiment(db, edit_, now=T0 + timedelta(hours=1))
    assert "--force" in str(info.value)
    assert (count(db, ExperimentVersion), count(db, AllocationVersion)) == (1, 1), "nothing written"

    forced = service.sync_experiment(db, edit_, now=T0 + timedelta(hours=2), force=True)
    assert (forced.version, forced.created) == (2, True)
    assert any(message in p for p in forced.forced)
    history = service.experiment_history(db, experiment_key=KEY)
    assert [e.version for e in history] == [1, 2]
    assert history[1].forced == forced.forced


def test_safe_edits_create_versions_with_their_diff(db: Engine, channels: LoadedExperiment) -> None:
    service.sync_experiment(db, channels, now=T0)
    assign_everyone(db)
    cheaper = variant(channels, ("cost: 9.50", "cost: 8.00"))
    second = service.sync_experiment(db, cheaper, now=T0 + timedelta(days=1))
    assert second.changes == ("arms.direct_collection.cost: 9.5 -> 8.0",)
    # Adding a challenger is safe: existing debtors keep their arms, the split restarts.
    with_letter = variant(
        cheaper,
        ("arms:\n", "arms:\n  - key: letter\n    channel: letter\n    cost: 0.9\n"),
    )
    third = service.sync_experiment(db, with_letter, now=T0 + timedelta(days=2))
    assert third.version == 3
    assert not third.forced
    with Session(db) as session:
        latest = session.scalars(
            select(AllocationVersion).order_by(AllocationVersion.version.desc())  # type: ignore[attr-defined]
        ).first()
    assert latest is not None
    assert set(latest.weights) == {*channels.experiment.arm_keys, "letter"}
    history = service.experiment_history(db, experiment_key=KEY)
    assert history[0].changes == ()
    assert history[1].changes == second.changes
    assert any(c.startswith("arms.letter.") for c in history[2].changes)


def test_layer_ranges_must_not_overlap(db: Engine, channels: LoadedExperiment) -> None:
    first = variant(
        channels, ("currency: EUR", "currency: EUR\nlayer: {key: dunning, range: [0, 0.5]}")
    )
    service.sync_experiment(db, first, now=T0)
    other_text = first.source.replace("key: dunning-channels\n", "key: other-test\n", 1)
    clash = LoadedExperiment(
        Path("o.yaml"), parse_experiment(other_text, file="o.yaml"), other_text
    )
    with pytest.raises(service.ServiceError, match=r"overlaps dunning-channels takes \[0, 0.5\)"):
        service.sync_experiment(db, clash, now=T0)
    disjoint_text = other_text.replace("range: [0, 0.5]", "range: [0.5, 1]")
    disjoint = LoadedExperiment(
        Path("o.yaml"), parse_experiment(disjoint_text, file="o.yaml"), disjoint_text
    )
    assert service.sync_experiment(db, disjoint, now=T0).created


# -- the CLI --------------------------------------------------------------------------------


def test_cli_sync_refuses_then_forces_and_history_shows_it(
    db_url: str, channels: LoadedExperiment, tmp_path: Path
) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(channels.source)
    before = (T0 - timedelta(hours=1)).isoformat()
    assert RUNNER.invoke(app, ["sync", str(path), "--db", db_url, "--as-of", before]).exit_code == 0
    engine = service.open_db(db_url)
    try:
        assign_everyone(engine)
    finally:
        engine.dispose()
    path.write_text(channels.source.replace("key: no_action", "key: wait_and_see"))
    refused = RUNNER.invoke(app, ["sync", str(path), "--db", db_url])
    assert refused.exit_code == 1
    assert "no_action removed or renamed" in refused.stderr
    assert "Traceback" not in refused.output + refused.stderr
    forced = RUNNER.invoke(app, ["sync", str(path), "--db", db_url, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "forced:" in forced.stdout

    shown = RUNNER.invoke(app, ["history", KEY, "--db", db_url])
    assert shown.exit_code == 0
    assert "v2" in shown.stdout
    assert "wait_and_see" in shown.stdout
    as_json = json.loads(RUNNER.invoke(app, ["history", KEY, "--db", db_url, "--json"]).stdout)
    assert [v["version"] for v in as_json["versions"]] == [1, 2]
    assert "arms.no_action.key: 'no_action' -> (absent)" in as_json["versions"][1]["changes"]
    assert as_json["versions"][1]["forced"]

    unknown = RUNNER.invoke(app, ["history", "nope", "--db", db_url])
    assert unknown.exit_code == 2
    assert "dunning sync" in unknown.stderr


def test_stored_config_round_trips(channels: LoadedExperiment) -> None:
    dumped = channels.experiment.model_dump(mode="json")
    assert Experiment.model_validate(dumped) == channels.experiment
