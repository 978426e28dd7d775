"""Eligibility rules: their YAML validation and their vectorised evaluation (engine.eligibility)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import EligibilityRule
from engine.eligibility import columns_used, ineligibility, invalid_cells, numeric_columns
from engine.loader import ConfigError, parse_experiment

SHIPPED = Path(__file__).resolve().parents[1] / "experiments" / "dunning_channels.yaml"
BASE = SHIPPED.read_text(encoding="utf-8")


def with_block(block: str) -> str:
    """The shipped experiment with its eligibility block replaced by ``block``."""
    head, sep, _ = BASE.partition("\neligibility:")
    assert sep, "the shipped experiment ends with its eligibility block"
    return head + "\n" + block


# --- The YAML shape ------------------------------------------------------------------------------


def test_rules_parse_with_defaults_and_integer_values_as_text() -> None:
    experiment = parse_experiment(
        with_block(
            "eligibility:\n"
            "  - column: amount_owed\n"
            "    min: 20\n"
            "    max: 5000\n"
            "  - column: country\n"
            "    one_of: [DE, AT]\n"
            "  - column: dunning_level\n"
            "    none_of: [3, 4]\n"
            "    when_missing: include\n"
        ),
        file="exp.yaml",
    )
    first, second, third = experiment.eligibility
    assert (first.min, first.max, first.when_missing) == (20.0, 5000.0, "exclude")
    assert second.one_of == ("DE", "AT")
    assert (third.none_of, third.when_missing) == (("3", "4"), "include")


INVALID = [
    pytest.param(
        "  - column: amount_owed\n", "eligibility.0.column", "needs a condition", id="none"
    ),
    pytest.param(
        "  - column: amount_owed\n    min: 50\n    max: 20\n",
        "eligibility.0.max",
        "max 20 is below min 50",
        id="min-above-max",
    ),
    pytest.param(
        "  - column: country\n    one_of: [DE]\n    none_of: [AT]\n",
        "eligibility.0.none_of",
        "use one_of or none_of, not both",
        id="both-sets",
    ),
    pytest.param(
        "  - column: country\n    min: 1\n    one_of: [DE]\n",
        "eligibility.0.one_of",
        "numbers (min, max) or values (one_of, none_of), not both",
        id="numbers-and-values",
    ),
    pytest.param(
        "  - column: country\n    one_of: []\n", "eligibility.0.one_of", "at least 1", id="empty"
    ),
    pytest.param(
        "  - column: amount_owed\n    min: .inf\n", "eligibility.0.min", "finite", id="infinite"
    ),
    pytest.param(
        "  - column: amount_owed\n    min: 1\n    when_missing: drop\n",
        "eligibility.0.when_missing",
        "'drop' is not one of: exclude, include",
        id="when-missing",
    ),
    pytest.param(
        "  - column: answer\n    one_of: [no, yes]\n",
        "eligibility.0.one_of",
        "YAML reads them as true/false",
        id="yaml-booleans",
    ),
    pytest.param(
        "  - column: country\n    in: [DE]\n", "eligibility.0.in", "unknown field", id="typo"
    ),
    pytest.param(
        "  - column: ''\n    min: 1\n", "eligibility.0.column", "at least 1", id="no-name"
    ),
]


@pytest.mark.parametrize(("rules", "field", "message"), INVALID)
def test_invalid_rules_name_their_field_and_line(rules: str, field: str, message: str) -> None:
    text = with_block("eligibility:\n" + rules)
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, file="exp.yaml")
    [issue] = info.value.issues
    assert issue.field == field
    assert message in issue.message
    rule_line = text.splitlines().index("eligibility:") + 2  # the "- column:" line
    assert rule_line <= issue.line <= rule_line + 3, issue


# --- Evaluation ----------------------------------------------------------------------------------


def rule(column: str, **conditions: Any) -> EligibilityRule:
    return EligibilityRule.model_validate({"column": column, **conditions})


def test_reasons_name_the_first_failing_rule() -> None:
    rules = [
        rule("amount_owed", min=20, max=5000),
        rule("country", one_of=["DE", "AT"]),
        rule("days_past_due", min=1, when_missing="include"),
        rule("segment", none_of=["VIP"]),
    ]
    columns = {
        "amount_owed": ["12.5", "30", "", "6000", "40", "40", "40", "40"],
        "country": ["DE", "FR", "DE", None, " AT ", "AT", "de", "AT"],
        "days_past_due": ["", "0", "1", "1", "", "0", "3", "7"],
        "segment": ["A", "A", "A", "A", "A", "A", "A", "VIP"],
    }
    assert ineligibility(rules, columns).tolist() == [
        "amount_owed 12.5 < min 20",
        "country FR not one of DE, AT",
        "amount_owed missing",
        "amount_owed 6000 > max 5000",
        None,  # days_past_due missing but included; " AT " is AT
        "days_past_due 0 < min 1",
        "country de not one of DE, AT",  # values are case-sensitive
        "segment VIP is excluded (none_of)",
    ]


def test_bounds_are_inclusive_and_numbers_may_come_typed() -> None:
    rules = [rule("amount_owed", min=20, max=50)]
    values = np.array([19.99, 20.0, 50.0, 50.01, np.nan])
    assert ineligibility(rules, {"amount_owed": values}).tolist() == [
        "amount_owed 19.99 < min 20",
        None,
        None,
        "amount_owed 50.01 > max 50",
        "amount_owed missing",
    ]


def test_no_rules_means_everyone_is_eligible() -> None:
    assert ineligibility([], {}).tolist() == []


def test_invalid_cells_are_reported_not_judged() -> None:
    rules = [rule("days_past_due", min=1), rule("country", one_of=["DE"])]
    cells = {"days_past_due": ["3", "x", "", "inf", "nan", "1e3"], "country": ["DE"] * 6}
    [(name, bad)] = invalid_cells(rules, cells)
    assert name == "days_past_due"
    assert bad.tolist() == [False, True, False, True, True, False]
    with pytest.raises(ValueError, match="not numbers"):
        ineligibility(rules, cells)
    assert columns_used(rules) == ("days_past_due", "country")
    assert numeric_columns(rules) == ("days_past_due",)


def test_missing_column_and_ragged_columns_are_errors() -> None:
    rules = [rule("amount_owed", min=1), rule("country", one_of=["DE"])]
    with pytest.raises(KeyError, match="country"):
        ineligibility(rules, {"amount_owed": ["1"]})
    with pytest.raises(ValueError, match="expected 1"):
        ineligibility(rules, {"amount_owed": ["1"], "country": ["DE", "AT"]})


# --- The vectorised evaluation agrees with a plain row-by-row reading of the rules ---------------


def _reference(rules: list[EligibilityRule], row: dict[str, Any]) -> str | None:
    for r in rules:
        value = row[r.column]
        missing = value is None or (isinstance(value, str) and not value.strip())
        if missing:
            if r.when_missing == "exclude":
                return f"{r.column} missing"
            continue
        if r.min is not None or r.max is not None:
            x = float(value)
            if r.min is not None and x < r.min:
                return f"{r.column} {x:.15g} < min {r.min:.15g}"
            if r.max is not None and x > r.max:
                return f"{r.column} {x:.15g} > max {r.max:.15g}"
        elif r.one_of is not None and value.strip() not in r.one_of:
            return f"{r.column} {value.strip()} not one of {', '.join(r.one_of)}"
        elif r.none_of is not None and value.strip() in r.none_of:
            return f"{r.column} {value.strip()} is excluded (none_of)"
    return None


LETTERS = st.sampled_from(["DE", "AT", "FR", "x"])
NUMBER_RULE = st.builds(
    lambda bounds, inc: rule("n", min=bounds[0], max=bounds[1], when_missing=inc),
    st.tuples(
        st.one_of(st.none(), st.integers(-5, 5)), st.one_of(st.none(), st.integers(5, 10))
    ).filter(lambda b: b != (None, None)),
    st.sampled_from(["exclude", "include"]),
)
TEXT_RULE = st.builds(
    lambda values, negate, inc: rule(
        "t", **{"none_of" if negate else "one_of": values}, when_missing=inc
    ),
    st.lists(LETTERS, min_size=1, max_size=3),
    st.booleans(),
    st.sampled_from(["exclude", "include"]),
)


@settings(max_examples=200, deadline=None)
@given(
    rules=st.lists(st.one_of(NUMBER_RULE, TEXT_RULE), min_size=1, max_size=4),
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.just(""), st.integers(-20, 20).map(str)),
            st.one_of(st.none(), st.just(" "), LETTERS),
        ),
        max_size=30,
    ),
)
def test_vectorised_matches_row_by_row(
    rules: list[EligibilityRule], rows: list[tuple[str | None, str | None]]
) -> None:
    columns = {"n": [r[0] for r in rows], "t": [r[1] for r in rows]}
    got = ineligibility(rules, columns).tolist()
    want = [_reference(rules, {"n": n, "t": t}) for n, t in rows]
    assert got == want
    assert all(isinstance(g, str) or g is None for g in got)
    assert not any(isinstance(g, float) and math.isnan(g) for g in got)
