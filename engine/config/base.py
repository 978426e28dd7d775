"""Shared by the experiment models: the frozen base model, cross-field errors, key patterns
and the names of the language's enumerations."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Literal, NewType

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


def _invalid(field: str, message: str) -> PydanticCustomError:
    """A cross-field error that the loader can pin to ``field`` (dotted, relative to the model).

    Model validators only know the model's own location; passing the field in the context lets
    :mod:`engine.loader` point at the line that holds it instead of the top of the mapping.
    """
    return PydanticCustomError("cross_field", "{message}", {"message": message, "field": field})


def _invalid_all(problems: list[tuple[str, str]]) -> PydanticCustomError:
    """Several cross-field errors at once, so an analyst sees all of them in one run.

    A model validator can raise only one error; the loader unpacks ``problems`` into one issue
    per (field, message) pair, each with its own line.
    """
    message = "; ".join(f"{field}: {text}" for field, text in problems)
    return PydanticCustomError(
        "cross_field",
        "{message}",
        {"message": message, "field": problems[0][0], "problems": problems},
    )


def closest(value: str, choices: Iterable[str]) -> str | None:
    """The choice a mistyped ``value`` most likely meant: the same text in another case
    first, then the closest spelling; None when nothing is close."""
    folded = {c.casefold(): c for c in choices}
    if value.casefold() in folded:
        return folded[value.casefold()]
    close = difflib.get_close_matches(value.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for the :func:`closest` choice, or an empty string."""
    match = closest(value, choices)
    return f"; did you mean {match!r}?" if match is not None and match != value else ""


class _Frozen(BaseModel):
    # Numbers must be finite: ``cost: .inf`` would pass every ``ge=0`` and poison the sums.
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False
    )


ExperimentKey = NewType("ExperimentKey", str)
ArmKey = NewType("ArmKey", str)

#: Keys are used in file names, SQL rows and URLs: keep them boring.
KEY_PATTERN = r"^[a-z][a-z0-9_\-]{0,62}$"

#: Columns of the debtor file named in an experiment (unit, segment): plain identifiers.
COLUMN_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

#: Joins the values of a multi-attribute segment, e.g. ``WAOE|DE``.
SEGMENT_SEPARATOR = "|"

#: Tolerance for "weights sum to one": YAML decimals such as 0.1 + 0.2 are not exact in binary.
WEIGHT_SUM_TOLERANCE = 1e-6

PrimaryMetric = Literal["pay_on_time"]
#: Every KPI the engine measures per arm (see :mod:`engine.metrics`).
MetricName = Literal[
    "pay_on_time",
    "collected",
    "collection_cases",
    "reminders",
    "churn",
    "net_value",
    "clv",
    "late_again",
    "cases_per_customer",
]
#: Metrics measured per case of a customer: they need ``unit: {customer, case}`` (a debtor
#: file with a case id), since with one case per debtor there is no "again".
CASE_METRICS = frozenset({"late_again", "cases_per_customer"})
PolicyName = Literal["fixed", "thompson", "top_two"]
#: ``late_again`` (fewer repeat cases) needs ``unit.case``, like the metric of that name.
ObjectiveName = Literal["pay_on_time", "net_value", "late_again"]
Status = Literal["draft", "running", "paused", "stopped"]
Channel = Literal["none", "sms", "email", "letter", "phone", "agency"]
Cadence = Literal["hourly", "daily", "weekly"]

#: Channels that reach the debtor, so contact caps and quiet hours apply to them.
CONTACT_CHANNELS = frozenset({"sms", "email", "letter", "phone"})
