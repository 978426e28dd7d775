"""``dunning validate`` in one pass (engine/crosscheck.py, engine/issues.py): the rules between
fields are reported with the errors of the fields, and every message says what to write in the
analyst's words, never pydantic's."""

from __future__ import annotations

import re

import pytest

from engine.loader import ConfigError, parse_experiment

#: An experiment file with eight mistakes: four of each field, four between fields.
EIGHT_MISTAKES = """\
key: eight-mistakes
name: Eight mistakes
arms:
  - key: friendly_sms
    champion: true
    channel: SMS
  - key: Direct Collection
    channel: agency
  - key: no_action
    champion: true
  - key: discount_nudge
    discount: 10
  - key: no_action
metrics:
  pay_windw_days: 14
clv: {monthly_margin: 14, monthly_retention: 0.975}
allocation:
  weights: {friendly_sms: 0.5, no_action: 0.3, discount_nudge: 0.3}
promotion:
  schedule: "0 25 * * *"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, file="exp.yaml")
    return [str(issue) for issue in info.value.issues]


def test_eight_mistakes_are_reported_in_one_run() -> None:
    assert problems(EIGHT_MISTAKES) == [
        "exp.yaml:6:5: arms.0.channel: 'SMS' is not one of: none, sms, email, letter, phone, "
        "agency; did you mean 'sms'?",
        "exp.yaml:7:5: arms.1.key: must be a key: lower-case letters, digits, '-' and '_', "
        "starting with a letter, at most 63 characters, got 'Direct Collection'; "
        "e.g. 'direct-collection'",
        "exp.yaml:10:5: arms.2.champion: exactly one arm must have champion: true (found: "
        "friendly_sms, no_action)",
        "exp.yaml:12:5: arms.3.discount: must be below 1, got 10; a share is a fraction: "
        "write 0.10 for 10%",
        "exp.yaml:13:5: arms.4.key: duplicate arm key 'no_action' (also arm 2)",
        "exp.yaml:15:3: metrics.pay_windw_days: unknown field 'pay_windw_days'; did you mean "
        "'pay_window_days'?",
        "exp.yaml:18:3: allocation.weights: weights must sum to 1, they sum to 1.1",
        "exp.yaml:20:3: promotion.schedule: invalid cron expression: hour: 25 is outside 0-23",
    ]


#: Mistakes of every kind in one file; none of their messages may show pydantic's wording.
MANY_MISTAKES = """\
key: Bad Key
name: x
currency: eur
segment: debtor type
start_date: 2026-02-30
arms:
  - key: a
    champion: maybe
    channel: Sms
    cost: abc
  - key: b
    label: 3
metrics:
  pay_window_days: 0.5
  secondary: [pay]
  guardrails:
    - metric: churnn
      max_relative_increase: 0.2
clv: {monthly_margin: 1, monthly_retention: 97.5}
allocation:
  min_share: 5
  weights: {a: 0.5, c: 0.5}
compliance:
  fallback_arm: zz
  quiet_hours: {start: "25:00"}
"""


def test_every_kind_of_mistake_reads_as_advice() -> None:
    found = problems(MANY_MISTAKES)
    text = "\n".join(found)
    for internal in ("Input should", "String should", "after validation", "Value error", "^["):
        assert internal not in text
    expected = {
        "key: must be a key": "e.g. 'bad-key'",
        "currency: must be a three-letter ISO 4217": "write 'EUR'",
        "segment: must be a column name": "e.g. 'debtor_type'",
        "start_date: must be a real date YYYY-MM-DD": "got '2026-02-30'",
        "arms.0.champion: must be true or false": "got 'maybe'",
        "arms.0.channel: 'Sms' is not one of": "did you mean 'sms'?",
        "arms.0.cost: must be a number": "got 'abc'",
        "arms.1.label: must be text": "quote it: '3'",
        "metrics.pay_window_days: must be a whole number": "got 0.5",
        "metrics.secondary.0: 'pay' is not one of": "pay_on_time",
        "clv.monthly_retention: must be below 1": "write 0.975 for 97.5%",
        "allocation.min_share: must be below 1": "write 0.05 for 5%",
        "allocation.weights: no weight for arm(s): b": "",
        "allocation.weights.c: weight for unknown arm 'c'": "arms are: a, b",
        "compliance.fallback_arm: unknown arm 'zz'": "arms are: a, b",
        "compliance.quiet_hours.start: must be a time of day HH:MM": "got '25:00'",
    }
    for start, advice in expected.items():
        assert any(start in line and advice in line for line in found), (start, found)
    # A guardrail's own rule reads its fields: it is judged once pay_window_days is no longer
    # in the way, but not on a value that was set aside.
    assert not any("STAND" in line or "invalid_value_" in line for line in found)


def test_a_rule_is_not_judged_on_a_value_set_aside() -> None:
    # one_of is invalid (empty); "the rule needs a condition" would describe the stand-in.
    text = EIGHT_MISTAKES.replace(
        "promotion:", "eligibility:\n  - column: country\n    one_of: []\npromotion:"
    )
    found = problems(text)
    assert any(re.search(r"eligibility\.0\.one_of: needs at least 1 item", p) for p in found)
    assert not any("a rule needs a condition" in p for p in found)


def test_too_few_arms_is_said_once_and_plainly() -> None:
    one_arm = EIGHT_MISTAKES.split("arms:")[0] + (
        "arms:\n  - key: a\n    champion: true\nclv: {monthly_margin: 1, monthly_retention: 0.5}\n"
    )
    assert problems(one_arm) == [
        "exp.yaml:3:1: arms: needs at least 2 arms (a champion and a challenger), found 1"
    ]
    # An arm with an error of its own is not "missing": no count complaint then.
    bad_cost = one_arm.replace("champion: true\n", "champion: true\n    cost: -1\n  - key: b\n")
    assert problems(bad_cost) == ["exp.yaml:6:5: arms.0.cost: must be at least 0, got -1"]
