"""Tests for engine.config and engine.loader: the shipped file, content hash, error reports."""

from __future__ import annotations

import re
from pathlib import Path

import pydantic
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import Experiment
from engine.loader import ConfigError, ConfigIssue, load_all, load_experiment, parse_experiment

SHIPPED = Path(__file__).resolve().parents[1] / "experiments" / "dunning_channels.yaml"
SOURCE = SHIPPED.read_text(encoding="utf-8")
LINES = SOURCE.splitlines()


def edit(old: str, new: str, text: str = SOURCE) -> str:
    """Replace the single occurrence of ``old``; fail loudly if the shipped file drifted."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the shipped file"
    return text.replace(old, new)


def line_of(fragment: str) -> int:
    """1-based line of the only shipped line containing ``fragment``."""
    hits = [i for i, line in enumerate(LINES, start=1) if fragment in line]
    assert len(hits) == 1, f"{fragment!r} is on lines {hits}"
    return hits[0]


def parse(text: str) -> Experiment:
    return parse_experiment(text, file="exp.yaml")


def issues_of(text: str) -> tuple[ConfigIssue, ...]:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.issues, "a ConfigError must carry at least one issue"
    return info.value.issues


# --- The shipped experiment ----------------------------------------------------------------------


def test_shipped_experiment_loads() -> None:
    loaded = load_experiment(SHIPPED)
    exp = loaded.experiment
    assert exp.key == "dunning-channels"
    assert exp.champion == "friendly_sms"
    assert exp.arm_keys == ("friendly_sms", "direct_collection", "no_action", "discount_nudge")
    assert exp.initial_weights() == dict.fromkeys(exp.arm_keys, 0.25)
    assert exp.assignment_salt == "dunning-channels-2026"
    assert exp.arm("direct_collection").cost == 9.5
    assert exp.arm("direct_collection").opens_collection_case
    assert exp.arm("discount_nudge").discount == 0.05
    assert exp.metrics.pay_window_days == 14
    assert exp.metrics.churn_horizon_days == 60
    assert exp.allocation.policy == "thompson"
    assert loaded.source == SOURCE
    assert loaded.path == SHIPPED


def test_experiment_is_frozen_and_arm_lookup_rejects_unknown() -> None:
    exp = parse(SOURCE)
    with pytest.raises(pydantic.ValidationError):
        exp.name = "other"  # type: ignore[misc]
    with pytest.raises(KeyError, match="no arm 'email'"):
        exp.arm("email")


def test_salt_defaults_to_key_and_weights_are_used_when_given() -> None:
    text = edit("salt: dunning-channels-2026\n", "")
    text = edit(
        "  policy: thompson\n",
        "  policy: fixed\n  weights: {friendly_sms: 0.7, direct_collection: 0.1,"
        " no_action: 0.1, discount_nudge: 0.1}\n",
        text,
    )
    exp = parse(text)
    assert exp.assignment_salt == "dunning-channels"
    assert exp.initial_weights() == {
        "friendly_sms": 0.7,
        "direct_collection": 0.1,
        "no_action": 0.1,
        "discount_nudge": 0.1,
    }


# --- Content hash --------------------------------------------------------------------------------


def _strip_comments(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        lines.append(re.sub(r"\s+#.*$", "", line))
    return "\n".join(lines) + "\n"


def _reversed_keys(value: object) -> object:
    if isinstance(value, dict):
        return {k: _reversed_keys(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


def test_content_hash_ignores_comments_key_order_and_formatting() -> None:
    reference = parse(SOURCE).content_hash()
    assert re.fullmatch(r"[0-9a-f]{64}", reference)
    no_comments = _strip_comments(SOURCE)
    assert "#" not in no_comments  # the edit really removed every comment
    data = yaml.safe_load(SOURCE)
    variants = {
        "no comments": no_comments,
        "keys reversed": yaml.safe_dump(_reversed_keys(data), sort_keys=False),
        "keys sorted, flow style": yaml.safe_dump(data, sort_keys=True, default_flow_style=True),
        "9.50 written 9.5": edit("cost: 9.50", "cost: 9.5"),
        "0.0 written 0": edit("cost: 0.0\n", "cost: 0\n"),
        "extra blank lines": SOURCE.replace("\n\n", "\n\n\n\n"),
    }
    for name, text in variants.items():
        assert text != SOURCE, name
        assert parse(text).content_hash() == reference, name


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("cost: 9.50", "cost: 9.51"),
        ("salt: dunning-channels-2026", "salt: dunning-channels-2027"),
        ("min_share: 0.05", "min_share: 0.06"),
        ("name: Dunning channel test", "name: Dunning channel test 2"),
        ("    label: No action\n", "    label: No Action\n"),
    ],
)
def test_content_hash_changes_with_any_value(old: str, new: str) -> None:
    assert parse(edit(old, new)).content_hash() != parse(SOURCE).content_hash()


def test_content_hash_changes_when_champion_moves() -> None:
    text = edit("    champion: true\n", "")
    text = edit("    label: No action\n", "    label: No action\n    champion: true\n", text)
    moved = parse(text)
    assert moved.champion == "no_action"
    assert moved.content_hash() != parse(SOURCE).content_hash()


# --- Invalid inputs: one table, checked against file, line, field and message --------------------

WEIGHTS_AT = line_of("policy: thompson") + 1  # the inserted "weights:" line


def _with_weights(*entries: str) -> str:
    block = "".join(f"    {entry}\n" for entry in entries)
    return edit("  policy: thompson\n", f"  policy: thompson\n  weights:\n{block}")


def _without_clv() -> str:
    start = line_of("clv:")
    end = line_of("allocation:")
    return "\n".join(LINES[: start - 1] + LINES[end - 1 :]) + "\n"


INVALID = [
    pytest.param(
        edit("    cost: 9.50", "    cots: 9.50"),
        line_of("cost: 9.50"),
        "arms.1.cots",
        "did you mean 'cost'?",
        id="typo-in-field",
    ),
    pytest.param(
        edit("cost: 9.50", "cost: cheap"),
        line_of("cost: 9.50"),
        "arms.1.cost",
        "must be a number, got 'cheap'",
        id="wrong-type",
    ),
    pytest.param(
        edit("cost: 9.50", "cost: -1"),
        line_of("cost: 9.50"),
        "arms.1.cost",
        "must be at least 0, got -1",
        id="negative-cost",
    ),
    pytest.param(
        edit("discount: 0.05", "discount: 1.0"),
        line_of("discount: 0.05"),
        "arms.3.discount",
        "must be below 1, got 1.0",
        id="discount-of-100-percent",
    ),
    pytest.param(
        edit("discount: 0.05", "discount: 10"),
        line_of("discount: 0.05"),
        "arms.3.discount",
        "must be below 1, got 10; a share is a fraction: write 0.10 for 10%",
        id="discount-as-a-percentage",
    ),
    pytest.param(
        edit("  - key: no_action", "  - key: No Action"),
        line_of("- key: no_action"),
        "arms.2.key",
        "must be a key: lower-case letters, digits, '-' and '_', starting with a letter, at "
        "most 63 characters, got 'No Action'; e.g. 'no-action'",
        id="arm-key-pattern",
    ),
    pytest.param(
        edit("currency: EUR", "currency: eur"),
        line_of("currency: EUR"),
        "currency",
        "must be a three-letter ISO 4217 currency code such as EUR, got 'eur'; write 'EUR'",
        id="currency-lowercase",
    ),
    pytest.param(
        edit("policy: thompson", "policy: greedy"),
        line_of("policy: thompson"),
        "allocation.policy",
        "'greedy' is not one of: fixed, thompson, top_two",
        id="unknown-policy",
    ),
    pytest.param(
        edit("segment: debtor_type\n", "segment: debtor_type\nsponsor: ops\n"),
        line_of("segment: debtor_type") + 1,
        "sponsor",
        "unknown field 'sponsor'; allowed: key, name",
        id="unknown-field-no-close-match",
    ),
    pytest.param(
        edit("    label: No action\n", "    label: No action\n    champion: true\n"),
        line_of("label: No action") + 1,
        "arms.2.champion",
        "exactly one arm must have champion: true (found: friendly_sms, no_action)",
        id="two-champions",
    ),
    pytest.param(
        edit("    champion: true\n", ""),
        line_of("arms:"),
        "arms",
        "exactly one arm must have champion: true (found: none)",
        id="no-champion",
    ),
    pytest.param(
        _with_weights(
            "friendly_sms: 0.5", "direct_collection: 0.2", "no_action: 0.2", "discount_nudge: 0.2"
        ),
        WEIGHTS_AT,
        "allocation.weights",
        "weights must sum to 1, they sum to 1.1",
        id="weights-not-summing-to-one",
    ),
    pytest.param(
        _with_weights(
            "friendly_sms: 0.25", "direct_collection: 0.25", "no_action: 0.25", "email: 0.25"
        ),
        WEIGHTS_AT + 4,
        "allocation.weights.email",
        "weight for unknown arm 'email'",
        id="weight-for-unknown-arm",
    ),
    pytest.param(
        _with_weights("friendly_sms: 0.5", "direct_collection: 0.25", "no_action: 0.25"),
        WEIGHTS_AT,
        "allocation.weights",
        "no weight for arm(s): discount_nudge",
        id="missing-weight",
    ),
    pytest.param(
        edit(
            "policy: thompson\n",
            "policy: fixed\n  weights:\n    friendly_sms: 0.88\n    direct_collection: 0.04\n"
            "    no_action: 0.04\n    discount_nudge: 0.04\n",
        ),
        WEIGHTS_AT + 2,
        "allocation.weights.direct_collection",
        "weight 0.04 below min_share 0.05",
        id="fixed-weight-below-floor",
    ),
    pytest.param(
        edit("  - key: no_action", "  - key: friendly_sms"),
        line_of("- key: no_action"),
        "arms.2.key",
        "duplicate arm key 'friendly_sms' (also arm 0)",
        id="duplicate-arm-key",
    ),
    pytest.param(
        edit("    cost: 9.50", "    cost: 9.50\n    cost: 8.00"),
        line_of("cost: 9.50") + 1,
        "arms.1.cost",
        f"duplicate key 'cost' (first defined on line {line_of('cost: 9.50')})",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        edit("min_share: 0.05", "min_share: 0.3"),
        line_of("min_share: 0.05"),
        "allocation.min_share",
        "min_share 0.3 x 4 arms exceeds 1",
        id="min-share-times-arms-above-one",
    ),
    pytest.param(
        edit("pay_window_days: 14", "pay_window_days: 90"),
        line_of("pay_window_days: 14"),
        "metrics.pay_window_days",
        "pay_window_days (90) must not exceed churn_horizon_days (60)",
        id="pay-window-beyond-churn-horizon",
    ),
    pytest.param(
        _without_clv(),
        line_of("key: dunning-channels"),  # the top-level mapping starts on the first key
        "clv",
        "missing required field 'clv'",
        id="missing-required-clv",
    ),
    pytest.param(
        edit("  monthly_margin: 14.0      # contribution margin per subscriber-month\n", ""),
        line_of("clv:"),
        "clv.monthly_margin",
        "missing required field 'monthly_margin'",
        id="missing-nested-field",
    ),
    pytest.param("", 1, "", "file is empty; expected a mapping", id="empty-file"),
    pytest.param("# only a comment\n", 1, "", "file is empty", id="comments-only"),
    pytest.param(
        "- a\n- b\n", 1, "", "expected a mapping of experiment fields, got a list", id="list"
    ),
    pytest.param("just text\n", 1, "", "got a str", id="scalar-document"),
    pytest.param(
        edit("    cost: 9.50", "\tcost: 9.50"),
        line_of("cost: 9.50"),
        "",
        "tab character: YAML indentation must use spaces",
        id="tab-indentation",
    ),
    pytest.param(
        edit("  draws: 20000", "  draws: [20000"),
        line_of("promotion:"),  # the flow sequence is closed by nothing before this line
        "",
        "YAML syntax",
        id="unclosed-bracket",
    ),
    pytest.param("key: a\n---\nkey: b\n", 2, "", "YAML syntax", id="two-documents"),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), INVALID)
def test_invalid_experiment_is_reported_with_file_line_field(
    text: str, line: int, field: str, message: str
) -> None:
    issues = issues_of(text)
    matching = [issue for issue in issues if issue.field == field and message in issue.message]
    assert matching, f"no issue at {field!r} with {message!r}: {[str(i) for i in issues]}"
    issue = matching[0]
    assert issue.file == "exp.yaml"
    assert issue.line == line
    assert issue.column >= 1
    # The printed form is what analysts see: file:line:column: field: message.
    assert str(issue).startswith(f"exp.yaml:{line}:{issue.column}:")
    assert message in str(issue)


def test_every_error_is_reported_at_once_in_line_order() -> None:
    text = edit("    cost: 9.50", "    cots: 9.50")
    text = edit("pay_window_days: 14", "pay_window_days: 90", text)
    text = edit("min_units_per_arm: 1000", "min_units_per_arm: lots", text)
    issues = issues_of(text)
    assert [(i.field, i.line) for i in issues] == [
        ("arms.1.cots", line_of("cost: 9.50")),
        ("metrics.pay_window_days", line_of("pay_window_days")),
        ("promotion.min_units_per_arm", line_of("min_units_per_arm")),
    ]
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert len(str(info.value).splitlines()) == 3


# --- Files: bytes that are not YAML, unreadable paths, several files at once ---------------------

FILE_CASES = [
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not UTF-8", id="binary-png"),
    pytest.param(b"key: a\x00b\nname: x\n", 1, "file is binary", id="nul-in-utf8"),
    pytest.param(
        edit("label: No action", "label: No acci\xf3n").encode("latin-1"),
        line_of("label: No action"),
        "not UTF-8",
        id="latin-1-bytes",
    ),
    pytest.param(SOURCE.encode("utf-16"), 1, "not UTF-8", id="utf-16"),
]


@pytest.mark.parametrize(("data", "line", "message"), FILE_CASES)
def test_undecodable_file_raises_config_error(
    tmp_path: Path, data: bytes, line: int, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    [issue] = info.value.issues
    assert issue.file == str(path)
    assert issue.line == line
    assert message in issue.message


@pytest.mark.parametrize("name", ["missing.yaml", "a-directory"])
def test_unreadable_path_raises_config_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "a-directory":
        path.mkdir()
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    [issue] = info.value.issues
    assert issue.file == str(path)
    assert issue.line == 0  # position unknown: there is no text
    assert issue.message.startswith("cannot read:")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SOURCE.encode("utf-8"))
    assert load_experiment(path).experiment.content_hash() == parse(SOURCE).content_hash()


def test_load_all_reports_issues_of_every_file(tmp_path: Path) -> None:
    (tmp_path / "a_typo.yaml").write_text(edit("    cost: 9.50", "    cots: 9.50"))
    (tmp_path / "b_good.yaml").write_text(SOURCE)
    (tmp_path / "c_window.yml").write_text(edit("pay_window_days: 14", "pay_window_days: 90"))
    (tmp_path / "notes.txt").write_text("not an experiment")  # ignored: not .yaml/.yml
    with pytest.raises(ConfigError) as info:
        load_all([tmp_path])
    found = {(Path(i.file).name, i.field, i.line) for i in info.value.issues}
    assert found == {
        ("a_typo.yaml", "arms.1.cots", line_of("cost: 9.50")),
        ("c_window.yml", "metrics.pay_window_days", line_of("pay_window_days")),
    }


def test_load_all_returns_every_good_file_in_order(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(SOURCE)
    (tmp_path / "a.yml").write_text(edit("key: dunning-channels", "key: other"))
    loaded = load_all([tmp_path, SHIPPED])
    assert [x.path.name for x in loaded] == ["a.yml", "b.yaml", SHIPPED.name]
    assert [x.experiment.key for x in loaded] == ["other", "dunning-channels", "dunning-channels"]


# --- Robustness: parse_experiment returns an Experiment or raises ConfigError, nothing else ------

KEY_LINES = [i for i, line in enumerate(LINES) if re.match(r"^\s*(- )?[a-z_]+:", line)]
ODD_VALUES = ["[1, 2]", "{a: 1}", "null", "~", "true", "'0.5'", "-1", "1e309", "", "|", "&x", "*y"]


@st.composite
def mutated_source(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["drop", "duplicate", "retype", "rename"]))
        index = draw(st.sampled_from(KEY_LINES))
        index = min(index, len(lines) - 1)
        line = lines[index]
        if kind == "drop":
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, line)
        elif kind == "retype" and ":" in line:
            head = line.split(":", 1)[0]
            lines[index] = f"{head}: {draw(st.sampled_from(ODD_VALUES))}"
        elif kind == "rename":
            new_key = draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
            lines[index] = re.sub(r"[a-z_]+(?=:)", new_key, line, count=1)
    return "\n".join(lines) + "\n"


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated_source())
def test_mutated_yaml_gives_experiment_or_config_error(text: str) -> None:
    try:
        result: Experiment | None = parse(text)
    except ConfigError as exc:
        result, issues = None, exc.issues
    if result is not None:
        assert isinstance(result, Experiment)
        return
    assert issues
    for issue in issues:
        assert issue.file == "exp.yaml"
        assert 1 <= issue.line <= text.count("\n") + 1
        assert issue.message


@pytest.mark.parametrize("char", ["\x07", "\x01", "\x1b"])
def test_control_character_is_a_config_error(char: str) -> None:
    issues = issues_of(edit("label: No action", f"label: No{char}action"))
    assert any("character" in issue.message for issue in issues)


def test_recursive_alias_is_a_config_error() -> None:
    issues = issues_of(edit("segment: debtor_type", "segment: &a [*a]"))
    assert any(issue.line == line_of("segment: debtor_type") for issue in issues)
