"""The experiment language as analysts meet it: every shipped file, the fields beyond the
basics (identity, channels, layers, objective, dates), `dunning validate` over many bad files at
once, the JSON Schema for editors, and a mutation test over every shipped experiment."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine.cli import app
from engine.config import Experiment, Layer
from engine.loader import ConfigError, load_experiment, parse_experiment
from engine.schema import EDITOR_COMMENT, experiment_json_schema, schema_text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "experiments").glob("*.yaml"))
CHANNELS = ROOT / "experiments" / "dunning_channels.yaml"
SOURCE = CHANNELS.read_text(encoding="utf-8")
SCHEMA_FILE = ROOT / "docs" / "experiment.schema.json"
LANGUAGE_DOC = ROOT / "docs" / "experiment-language.md"
RUNNER = CliRunner()


def edit(old: str, new: str, text: str = SOURCE) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(fragment: str, text: str = SOURCE) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(hits) == 1, f"{fragment!r} is on lines {hits}"
    return hits[0]


# -- the shipped experiments ----------------------------------------------------------------


def test_three_example_experiments_are_shipped() -> None:
    keys = {load_experiment(path).experiment.key for path in SHIPPED}
    assert {"dunning-channels", "dunning-channels-by-type", "discount-size"} <= keys


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_experiment_validates_and_uses_the_editor_schema(path: Path) -> None:
    loaded = load_experiment(path)
    assert loaded.source.splitlines()[0] == EDITOR_COMMENT
    # Editors read unquoted dates as strings, as the engine does; PyYAML makes them dates.
    data = json.loads(json.dumps(yaml.safe_load(loaded.source), default=str))
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(data)


def test_discount_size_experiment() -> None:
    exp = load_experiment(ROOT / "experiments" / "discount_size.yaml").experiment
    assert [exp.arm(a).discount for a in exp.arm_keys] == [0.0, 0.05, 0.10]
    assert exp.objective == "net_value"
    assert exp.allocation.policy == "top_two"
    assert {exp.arm(a).channel for a in exp.arm_keys} == {"sms"}
    assert all(exp.arm(a).contacts_debtor for a in exp.arm_keys), "sms implies a contact"
    assert exp.status == "draft"
    assert exp.accepts_assignments_on(date(2027, 2, 1)) == "experiment is draft"
    running = exp.model_copy(update={"status": "running"})
    assert running.accepts_assignments_on(date(2027, 1, 3)) == "experiment starts on 2027-01-04"
    assert running.accepts_assignments_on(date(2027, 1, 4)) is None
    assert running.accepts_assignments_on(date(2027, 3, 29)) == "experiment ended on 2027-03-28"


def test_per_type_experiment_allocates_per_segment() -> None:
    exp = load_experiment(ROOT / "experiments" / "dunning_channels_by_type.yaml").experiment
    assert exp.allocation.per_segment
    assert exp.segment == "debtor_type"
    assert exp.allocation.holdout_share == 0.10
    assert exp.compliance is not None
    assert exp.compliance.fallback_arm == "no_action"


# -- fields beyond the basics ---------------------------------------------------------------


def test_channel_implies_the_contact_flags() -> None:
    text = edit("    cost: 9.50", "    channel: agency\n    cost: 9.50")
    text = edit(
        "    cost: 0.06              # SMS gateway", "    channel: sms\n    cost: 0.06  #", text
    )
    exp = parse_experiment(text, file="x.yaml")
    assert exp.arm("direct_collection").opens_collection_case
    assert not exp.arm("direct_collection").contacts_debtor
    assert exp.arm("friendly_sms").contacts_debtor
    assert exp.arm("friendly_sms").channel == "sms"


def test_layer_overlap_is_symmetric_and_per_layer() -> None:
    a, b = Layer(key="dunning", range=(0.0, 0.5)), Layer(key="dunning", range=(0.5, 1.0))
    assert not a.overlaps(b)
    assert not b.overlaps(a)
    assert a.overlaps(Layer(key="dunning", range=(0.4, 0.6)))
    assert not a.overlaps(Layer(key="pricing", range=(0.0, 0.5)))


INVALID = [
    pytest.param(
        edit("status: running ", "status: live "),
        line_of("status: running"),
        "status",
        "'live' is not one of: draft, running, paused, stopped",
        id="unknown-status",
    ),
    pytest.param(
        edit("status: running ", "start_date: 2026-05-01\nend_date: 2026-04-01\nstatus: running "),
        line_of("status: running") + 1,
        "end_date",
        "end_date 2026-04-01 is before start_date 2026-05-01",
        id="end-before-start",
    ),
    pytest.param(
        edit("status: running ", "start_date: 2026-02-30\nstatus: running "),
        line_of("status: running"),
        "start_date",
        "must be a real date YYYY-MM-DD, got '2026-02-30'",
        id="impossible-date",
    ),
    pytest.param(
        edit("status: running ", "start_date: 2026-05-01\nend_date: 2026-05-10\nstatus: running "),
        line_of("status: running") + 1,
        "end_date",
        "shorter than promotion.min_days (21)",
        id="too-short-to-promote",
    ),
    pytest.param(
        edit("    cost: 9.50", "    channel: agency\n    contacts_debtor: true\n    cost: 9.50"),
        line_of("cost: 9.50") + 1,
        "arms.1.contacts_debtor",
        "contacts_debtor: True contradicts channel: agency",
        id="channel-contradiction",
    ),
    pytest.param(
        edit("    cost: 9.50", "    channel: fax\n    cost: 9.50"),
        line_of("cost: 9.50"),
        "arms.1.channel",
        "'fax' is not one of: none, sms, email, letter, phone, agency",
        id="unknown-channel",
    ),
    pytest.param(
        edit("    cost: 9.50", "    channel: SMS\n    cost: 9.50"),
        line_of("cost: 9.50"),
        "arms.1.channel",
        "'SMS' is not one of: none, sms, email, letter, phone, agency; did you mean 'sms'?",
        id="channel-in-capitals",
    ),
    pytest.param(
        edit("currency: EUR", "currency: EUR\nlayer: {key: dunning, range: [0.6, 0.2]}"),
        line_of("currency: EUR") + 1,
        "layer.range",
        "range start 0.6 must be below end 0.2",
        id="layer-range-reversed",
    ),
    pytest.param(
        edit("  primary: pay_on_time", "  primary: pay_on_time\n  secondary: [churn, refunds]"),
        line_of("primary: pay_on_time") + 1,
        "metrics.secondary.1",
        "'refunds' is not one of: pay_on_time, collected,",
        id="unknown-secondary-metric",
    ),
    pytest.param(
        edit("  draws: 20000", "  draws: 20000\n  update_cadence: minutely"),
        line_of("draws: 20000") + 1,
        "allocation.update_cadence",
        "'minutely' is not one of: hourly, daily, weekly",
        id="unknown-cadence",
    ),
    pytest.param(
        edit("\nclv:", "\nobjective: net_value\n\nclv:").replace(
            "  draws: 20000", "  draws: 20000\n  per_segment: true"
        ),
        line_of("draws: 20000") + 3,
        "allocation.per_segment",
        "per_segment allocation works with objective: pay_on_time",
        id="per-segment-net-value",
    ),
    pytest.param(
        edit("    - metric: churn", "    - metric: refunds"),
        line_of("- metric: churn"),
        "metrics.guardrails.0.metric",
        "unknown guardrail metric 'refunds'",
        id="guardrail-on-unknown-metric",
    ),
    pytest.param(
        edit('  schedule: "0 6 * * *"', '  schedule: "0 25 * * *"'),
        line_of('schedule: "0 6 * * *"'),
        "promotion.schedule",
        "invalid cron expression",
        id="bad-cron",
    ),
    pytest.param(
        edit("segment: debtor_type", "segment: debtor_type\nunit: debtor id"),
        line_of("segment: debtor_type") + 1,
        "unit",
        "must be a column name: letters, digits and '_', not starting with a digit, got "
        "'debtor id'; e.g. 'debtor_id'",
        id="unit-not-a-column-name",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), INVALID)
def test_language_errors_name_line_and_field(
    text: str, line: int, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, file="exp.yaml")
    matching = [i for i in info.value.issues if i.field == field and message in i.message]
    assert matching, [str(i) for i in info.value.issues]
    assert matching[0].line == line, str(matching[0])


def test_several_cross_field_errors_are_reported_together() -> None:
    text = edit("    champion: true\n", "    champion: true\n", SOURCE)
    text = text.replace("  - key: no_action\n", "  - key: no_action\n    champion: true\n")
    text = text.replace("min_share: 0.05", "min_share: 0.3")
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, file="exp.yaml")
    fields = {issue.field for issue in info.value.issues}
    assert {"arms.2.champion", "allocation.min_share"} <= fields


def test_validate_reports_every_file_at_once_without_traceback(tmp_path: Path) -> None:
    files = []
    for index, case in enumerate(INVALID):
        text, line, field, _message = case.values
        path = tmp_path / f"bad{index:02d}.yaml"
        path.write_text(str(text), encoding="utf-8")
        files.append((path, line, field))
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)))
    good = tmp_path / "good.yaml"
    good.write_text(SOURCE)
    result = RUNNER.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr
    for path, line, field in files:
        pattern = rf"{re.escape(str(path))}:{line}:\d+: {re.escape(str(field))}: "
        assert re.search(pattern, result.stderr), (pattern, result.stderr)
    assert re.search(rf"{re.escape(str(garbage))}:2:1: file is not UTF-8", result.stderr)
    assert "good.yaml" not in result.stderr


# -- the JSON Schema ------------------------------------------------------------------------


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "docs/experiment.schema.json is stale: run `dunning schema -o docs/experiment.schema.json`"
    )


def test_schema_command_prints_the_schema_and_catches_typos() -> None:
    result = RUNNER.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == experiment_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load(SOURCE)
    assert not list(validator.iter_errors(data))
    data["arms"][1]["cots"] = 9.5
    data["allocation"]["policy"] = "greedy"
    messages = sorted(e.message for e in validator.iter_errors(data))
    assert any("'cots' was unexpected" in m for m in messages)
    assert any("'greedy' is not one of" in m for m in messages)


# -- documentation ---------------------------------------------------------------------------


def _schema_fields(schema: dict[str, object]) -> set[str]:
    """Every property an analyst may write, from the schema editors see."""
    models = [schema, *dict(schema.get("$defs", {})).values()]  # type: ignore[call-overload]
    return {name for model in models for name in dict(model.get("properties", {}))}


def test_every_field_is_documented() -> None:
    doc = LANGUAGE_DOC.read_text(encoding="utf-8")
    missing = sorted(
        n for n in _schema_fields(experiment_json_schema()) if not re.search(rf"[`.]{n}[`.]", doc)
    )
    assert not missing, f"docs/experiment-language.md does not document: {missing}"


# -- robustness: mutate every shipped experiment ---------------------------------------------

SOURCES = {path.name: path.read_text(encoding="utf-8") for path in SHIPPED}
ODD_VALUES = [
    "[1, 2]",
    "{a: 1}",
    "null",
    "true",
    "'x'",
    "-1",
    "1e309",
    "",
    "2026-13-01",
    "&x",
    "*y",
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(SOURCES)))
    lines = SOURCES[name].splitlines()
    keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*(- )?[a-z_]+:", line)]
    for _ in range(draw(st.integers(1, 4))):
        index = min(draw(st.sampled_from(keyed)), len(lines) - 1)
        line = lines[index]
        kind = draw(st.sampled_from(["drop", "duplicate", "retype", "rename"]))
        if kind == "drop":
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, line)
        elif kind == "retype" and ":" in line:
            lines[index] = f"{line.split(':', 1)[0]}: {draw(st.sampled_from(ODD_VALUES))}"
        elif kind == "rename":
            new_key = draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
            lines[index] = re.sub(r"[a-z_]+(?=:)", new_key, line, count=1)
    return name, "\n".join(lines) + "\n"


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_mutated_experiments_load_or_raise_config_error(case: tuple[str, str]) -> None:
    name, text = case
    try:
        experiment = parse_experiment(text, file=name)
    except ConfigError as exc:
        issues = exc.issues
    else:
        # Whatever loads must survive its own round trip through the database's JSON.
        assert Experiment.model_validate(experiment.model_dump(mode="json")) == experiment
        return
    assert issues
    for issue in issues:
        assert issue.file == name
        assert issue.message
        assert 1 <= issue.line <= text.count("\n") + 1


def test_metric_roles_order_the_reports() -> None:
    from engine.analysis.roles import ANALYSIS_METRIC, CASE_ONLY, metric_roles

    exp = load_experiment(ROOT / "experiments" / "discount_size.yaml").experiment
    roles = metric_roles(exp)
    assert list(roles)[:4] == [
        "pay_on_time",
        "net_value_per_debtor",
        "collected_per_debtor",
        "churn",
    ]
    assert [roles[m] for m in list(roles)[:4]] == ["primary", "objective", "secondary", "secondary"]
    # One case per debtor: no repeat-case metric (late_again, cases_per_customer).
    assert set(roles) == set(ANALYSIS_METRIC.values()) - set(CASE_ONLY)
    channels = metric_roles(load_experiment(CHANNELS).experiment)
    assert channels["churn"] == "guardrail"
    assert channels["clv_per_debtor"] == "other"


def test_segment_may_combine_attributes() -> None:
    text = edit("segment: debtor_type", "segment: [debtor_type, country]")
    exp = parse_experiment(text, file="x.yaml")
    assert exp.segment_columns == ("debtor_type", "country")
    twice = edit("segment: debtor_type", "segment: [country, country]")
    with pytest.raises(ConfigError, match="segment repeats an attribute"):
        parse_experiment(twice, file="x.yaml")
    spaced = edit("segment: debtor_type", "segment: debtor type")
    with pytest.raises(ConfigError, match="segment"):
        parse_experiment(spaced, file="x.yaml")
