"""The promotion block and the guardrails of an experiment file: defaults, YAML shape, and
errors pinned to their file, line and field."""

from __future__ import annotations

import pytest

from engine.config import Guardrail, Promotion
from engine.loader import ConfigError, parse_experiment
from tests.conftest import CHANNELS

SOURCE = CHANNELS.read_text()


def edit(old: str, new: str, text: str = SOURCE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(fragment: str, text: str = SOURCE) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_shipped_files_have_a_churn_guardrail_and_a_schedule() -> None:
    experiment = parse_experiment(SOURCE, file="exp.yaml")
    assert experiment.metrics.guardrails == (Guardrail(metric="churn", max_relative_increase=0.2),)
    rule = experiment.promotion
    assert (rule.alpha, rule.method, rule.schedule) == (0.05, "sequential", "0 6 * * *")


def test_defaults_keep_older_files_valid() -> None:
    """A file written before guardrails and the new promotion fields still loads."""
    old = "".join(
        line
        for line in SOURCE.splitlines(keepends=True)
        if not line.startswith(("  guardrails:", "    - metric:", "      max_", "  alpha:"))
        and not line.startswith(("  max_expected_loss:", "  schedule:"))
    )
    experiment = parse_experiment(old, file="old.yaml")
    assert experiment.metrics.guardrails == ()
    assert experiment.promotion == Promotion(min_units_per_arm=1000, min_days=21)
    assert Promotion().horizon_days is None
    assert Promotion().min_ess_share is None


INVALID = [
    pytest.param(
        edit("    - metric: churn", "    - metric: happiness"),
        "metrics.guardrails.0.metric",
        "    - metric: happiness",
        "unknown guardrail metric 'happiness'; known: churn, collection_cases, reminders",
        id="unknown-metric",
    ),
    pytest.param(
        edit(
            "      max_relative_increase: 0.20  # a challenger may raise churn by at most a fifth",
            "      max_relative_increase: 0.20\n"
            "    - metric: churn\n      max_absolute_increase: 0.01",
        ),
        "metrics.guardrails.1.metric",
        None,
        "duplicate guardrail 'churn'",
        id="duplicate",
    ),
    pytest.param(
        edit(
            "      max_relative_increase: 0.20  # a challenger may raise churn by at most a fifth",
            "      note: none",
        ),
        "metrics.guardrails.0.note",
        "      note: none",
        "unknown field 'note'",
        id="unknown-key",
    ),
    pytest.param(
        edit('  schedule: "0 6 * * *"', '  schedule: "0 25 * * *"'),
        "promotion.schedule",
        "  schedule:",
        "invalid cron expression: hour: 25 is outside 0-23",
        id="bad-cron",
    ),
    pytest.param(
        edit("  alpha: 0.05", "  alpha: 0.05\n  method: horizon"),
        "promotion.method",
        "  method: horizon",
        "method: horizon needs horizon_days",
        id="horizon-without-days",
    ),
    pytest.param(
        edit("  alpha: 0.05", "  alpha: 0.05\n  horizon_days: 10"),
        "promotion.horizon_days",
        "  horizon_days: 10",
        "shorter than min_days (21)",
        id="horizon-before-min-days",
    ),
    pytest.param(
        edit("  alpha: 0.05 ", "  alpha: 0.7 "),
        "promotion.alpha",
        "  alpha: 0.7",
        "must be below 0.5, got 0.7",
        id="alpha-range",
    ),
]


@pytest.mark.parametrize(("text", "field", "fragment", "message"), INVALID)
def test_invalid_promotion_settings_point_at_their_line(
    text: str, field: str, fragment: str | None, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, file="exp.yaml")
    [issue] = info.value.issues
    assert (issue.field, message in issue.message) == (field, True), str(issue)
    if fragment is not None:
        assert issue.line == line_of(fragment, text)


def test_a_guardrail_needs_a_margin() -> None:
    text = edit(
        "      max_relative_increase: 0.20  # a challenger may raise churn by at most a fifth\n",
        "",
    )
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, file="exp.yaml")
    [issue] = info.value.issues
    assert issue.field == "metrics.guardrails.0.metric"
    assert "needs max_relative_increase and/or max_absolute_increase" in issue.message
