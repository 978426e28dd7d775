"""A router arm in an experiment: the stored model format, the YAML, assignment, OPE gate."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from engine import service, uplift
from engine import simulate as sim
from engine.cli import app
from engine.drawing import AllocationWeights, draw_arms
from engine.loader import ConfigError, LoadedExperiment, load_experiment, parse_experiment
from engine.service import assign_debtors, policy_ope, sync_experiment
from engine.service.demo import default_start, run_demo

EXAMPLE = Path(__file__).parent.parent / "experiments" / "collection_router.yaml"
MODEL = EXAMPLE.parent / "models" / "collection_router.json"
NOON = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # 12:00 in Stockholm: not quiet
NIGHT = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # 23:00 in Stockholm: quiet hours


def _model() -> uplift.RoutingModel:
    return uplift.parse_routing_model(MODEL.read_text())


def _inputs(batch: sim.DebtorBatch) -> dict[str, np.ndarray]:
    return {"debtor_type": batch.debtor_type, "amount_owed": batch.amount_owed}


# -- the stored model ---------------------------------------------------------------------


def test_stored_model_round_trips_and_routes_like_the_uplift_model() -> None:
    model = _model()
    assert uplift.parse_routing_model(uplift.dump_routing_model(model)) == model
    assert model.treatments == ("direct_collection", "friendly_sms")
    assert model.inputs == ("debtor_type", "amount_owed")
    batch = sim.sample_debtors(3_000, rng=np.random.default_rng(4))
    routed = model.route(_inputs(batch), len(batch))
    expected = uplift.route(
        model.uplift_model(),
        uplift.debtor_covariates(batch.debtor_type, batch.amount_owed),
        champion="direct_collection",
        soft_arm="friendly_sms",
        threshold=model.rule.threshold,
    )
    np.testing.assert_array_equal(routed.choice, expected[:, model.arms.index("friendly_sms")])
    assert routed.valid.all()


def test_undecodable_inputs_get_the_default_treatment() -> None:
    inputs = {
        "debtor_type": np.array(["WAOE", None, "WXOE", "WAOE"], dtype=object),
        "amount_owed": np.array([50.0, 50.0, 50.0, np.nan]),
    }
    routed = _model().route(inputs, 4)
    np.testing.assert_array_equal(routed.valid, [True, False, False, False])
    np.testing.assert_array_equal(routed.choice[1:], 0)  # default_arm
    assert _model().route({"debtor_type": inputs["debtor_type"]}, 4).valid.sum() == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["coef"].update(no_action=[0.0]), "coef.no_action: expected 12"),
        (lambda d: d["coef"]["friendly_sms"].__setitem__(0, 9.0), "edited after it was fitted"),
        (lambda d: d["rule"].update(soft_arm="letter"), "rule.soft_arm"),
        (lambda d: d.update(format="other"), "format: expected"),
        (lambda d: d["features"].append(d["features"][0]), "duplicate feature name"),
        (lambda d: d.update(extra=1), "extra: Extra inputs are not permitted"),
    ],
)
def test_stored_model_rejects(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(MODEL.read_text())
    edit(data)
    with pytest.raises(ValueError, match=message):
        uplift.parse_routing_model(data)


# -- the YAML -----------------------------------------------------------------------------


def test_example_experiment_loads_its_model() -> None:
    experiment = load_experiment(EXAMPLE).experiment
    assert set(experiment.routers) == {"uplift_router"}
    assert experiment.routers["uplift_router"] == _model()
    # The model is part of the content: another model is another experiment version.
    dumped = experiment.model_dump(mode="json")
    assert dumped["arms"][2]["router"]["fitted"]["content_hash"] == _model().content_hash


def _variant(tmp_path: Path, old: str, new: str, model: str | None = None) -> Path:
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "collection_router.json").write_text(model or MODEL.read_text())
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "x.yaml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("[direct_collection, friendly_sms]", "[direct_collection, letter]",
         "arms.2.router.treatments.1", "unknown arm 'letter'"),
        ("[direct_collection, friendly_sms]", "[direct_collection, uplift_router]",
         "arms.2.router.treatments.1", "is a router arm"),
        ("[direct_collection, friendly_sms]", "[direct_collection, friendly_sms, friendly_sms]",
         "", ""),
        ("models/collection_router.json", "models/missing.json",
         "arms.2.router.model", "cannot read router model"),
        ("      treatments:", "      fitted: {}\n      treatments:",
         "arms.2.router.fitted", "read from the model file"),
        ("    router:\n", "    cost: 1.0\n    router:\n", "arms.2.cost", "no treatment of its own"),
        ("segment: debtor_type", "segment: region",
         "arms.2.router.model", "reads column 'debtor_type'"),
        ("fallback_arm: direct_collection", "fallback_arm: uplift_router",
         "compliance.fallback_arm", "is a router arm"),
    ],
)  # fmt: skip
def test_router_yaml_errors(tmp_path: Path, old: str, new: str, field: str, message: str) -> None:
    path = _variant(tmp_path, old, new)
    if not message:  # listing an arm twice is harmless: the set of treatments is the same
        load_experiment(path)
        return
    with pytest.raises(ConfigError) as error:
        load_experiment(path)
    issue = error.value.issues[0]
    assert (issue.field, message in issue.message) == (field, True), str(error.value)
    assert issue.line > 1


def test_a_corrupt_model_file_is_named(tmp_path: Path) -> None:
    path = _variant(tmp_path, "name:", "name:", model="{not json")
    with pytest.raises(ConfigError, match=r"collection_router.json' is invalid: not JSON"):
        load_experiment(path)


# -- drawing ------------------------------------------------------------------------------


def _draw(now: datetime, contacts: int = 0, n: int = 4_000):  # type: ignore[no-untyped-def]
    experiment = load_experiment(EXAMPLE).experiment
    weights = experiment.initial_weights()
    batch = sim.sample_debtors(n, rng=np.random.default_rng(8))
    drawn = draw_arms(
        batch.debtor_id.astype(object),
        batch.debtor_type.astype(object),
        experiment=experiment,
        allocation=AllocationWeights(
            arms=experiment.arm_keys,
            champion=experiment.champion,
            overall=weights,
            bandit=weights,
        ),
        contacts_7d=np.full(n, contacts, dtype=np.int64),
        now=now,
        amounts=batch.amount_owed,
    )
    soft = _model().route(_inputs(batch), n).choice == 1
    return drawn, soft


def test_router_treatments_and_their_probabilities() -> None:
    drawn, soft = _draw(NOON)
    dc, sms, router = 0, 1, 2
    assert drawn.treatment is not None
    assert drawn.treatment_propensity is not None
    at_router = drawn.arm_index == router
    np.testing.assert_array_equal(drawn.treatment[at_router], np.where(soft, sms, dc)[at_router])
    np.testing.assert_allclose(drawn.propensity[at_router], 0.45)  # the arm's own weight
    # A treatment's probability: the weights of every arm that gives it to this debtor.
    expected = np.where(drawn.treatment == dc, 0.45 + 0.45 * ~soft, 0.10 + 0.45 * soft)
    np.testing.assert_allclose(drawn.treatment_propensity, expected)


@pytest.mark.parametrize(("now", "contacts"), [(NIGHT, 0), (NOON, 3)])
def test_router_respects_contact_rules(now: datetime, contacts: int) -> None:
    drawn, soft = _draw(now, contacts)
    dc, router = 0, 2
    assert drawn.treatment is not None
    assert drawn.treatment_propensity is not None
    assert not np.any(drawn.treatment == 1)  # nobody is texted
    # Routed to the SMS -> fallback arm, reached through all three arms' weights.
    moved = soft & (drawn.arm_index == dc) & (drawn.reason != None)  # noqa: E711
    assert moved.sum() > 100
    np.testing.assert_allclose(drawn.propensity[soft & (drawn.arm_index == dc)], 1.0)
    # Routed to collection -> the router keeps them with its own weight.
    np.testing.assert_allclose(drawn.propensity[~soft & (drawn.arm_index == router)], 0.45)
    assert not np.any(soft & (drawn.arm_index == router))
    np.testing.assert_allclose(drawn.treatment_propensity, 1.0)  # collection, whatever is drawn


# -- database: assignment and the OPE gate -------------------------------------------------


def test_assignment_records_treatment_sticky(db: Engine) -> None:
    loaded = load_experiment(EXAMPLE)
    sync_experiment(db, loaded, now=NOON)
    batch = sim.sample_debtors(600, rng=np.random.default_rng(3))
    first = assign_debtors(
        db,
        experiment_key="collection-router",
        debtor_ids=batch.debtor_id,
        segments=batch.debtor_type,
        amounts_owed=batch.amount_owed,
        now=NOON,
    )
    soft = _model().route(_inputs(batch), len(batch)).choice == 1
    router = first.arm == "uplift_router"
    expected = np.where(soft, "friendly_sms", "direct_collection")
    np.testing.assert_array_equal(first.treatment[router], expected[router])
    np.testing.assert_array_equal(first.treatment[~router], first.arm[~router])
    again = assign_debtors(
        db,
        experiment_key="collection-router",
        debtor_ids=batch.debtor_id,
        segments=batch.debtor_type,
        amounts_owed=batch.amount_owed,
        now=NIGHT,
    )
    assert again.new_count == 0
    np.testing.assert_array_equal(again.treatment, first.treatment)


def test_policy_ope_of_a_deployed_router(db: Engine) -> None:
    loaded = load_experiment(EXAMPLE)
    start = default_start(30)
    run_demo(db, loaded, days=30, debtors_per_day=400, start=start, seed=11)
    result = policy_ope(db, "collection-router", "uplift_router", start + pd.Timedelta(days=30))
    window = loaded.experiment.metrics.pay_window_days
    truth = {arm: sim.true_pay_rate(arm, window_days=window) for arm in sim.ARMS}
    # The log holds (30 - 14) days x 400 matured debtors; the router beats collection clearly.
    assert result.estimate.n == 16 * 400
    assert result.champion.ci_low <= truth["direct_collection"] <= result.champion.ci_high
    assert result.estimate.ci_low > result.champion.ci_high
    assert 0.3 < result.ess_share < 0.9  # the champion's and router's debtors routed alike
    assert 0.6 < result.routed_share["friendly_sms"] < 0.85
    with pytest.raises(Exception, match="not a router arm"):
        policy_ope(db, "collection-router", "friendly_sms", start + pd.Timedelta(days=30))

    # A router arm costs what its treatments cost: the mix it actually routed to.
    report = service.experiment_report(
        db, experiment_key="collection-router", now=start + pd.Timedelta(days=30)
    )
    costs = {k.arm: k.cost_per_debtor for k in report.kpis}
    experiment = loaded.experiment
    sms, agency = experiment.arm("friendly_sms").cost, experiment.arm("direct_collection").cost
    assert sms < costs["uplift_router"] < agency
    assert costs["direct_collection"] == pytest.approx(agency)

    # The promotion rule gates the router on that ESS share: with a bar above it, no promotion.
    strict_text = loaded.source.replace("min_ess_share: 0.2", "min_ess_share: 0.95")
    strict = LoadedExperiment(
        loaded.path,
        parse_experiment(strict_text, file=str(loaded.path), base_dir=loaded.path.parent),
        strict_text,
    )
    service.sync_experiment(db, strict, now=start + pd.Timedelta(days=30))
    decision = service.evaluate_promotion(
        db, experiment_key="collection-router", now=start + pd.Timedelta(days=30), dry_run=True
    ).decision
    assert decision.ess_share["uplift_router"] == pytest.approx(result.ess_share)
    assert decision.action != "promote"


# -- the CLI ------------------------------------------------------------------------------


def test_uplift_fit_cli(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    sim.randomised_log(6_000, rng=np.random.default_rng(1)).to_csv(log, index=False)
    out = tmp_path / "models" / "router.json"
    runner = CliRunner()
    result = runner.invoke(app, ["uplift", "fit", str(log), "-o", str(out), "--threshold", "0.4"])
    assert result.exit_code == 0, result.output
    assert "router" in result.output
    assert "ESS share" in result.output
    model = uplift.parse_routing_model(out.read_text())
    assert model.training.n == 6_000
    assert model.training.source == "log.csv"
    assert model.evaluation is not None
    assert model.evaluation.router.ess_share > 0.2
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(log)
    frame.loc[3, "debtor_type"] = "XXXX"
    frame.loc[5, "reward"] = 2
    frame.to_csv(bad, index=False)
    result = runner.invoke(app, ["uplift", "fit", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert "bad.csv:5: debtor_type" in result.output
    assert "bad.csv:7: reward" in result.output
