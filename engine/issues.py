"""Pydantic validation errors as an analyst reads them: a field path and a plain sentence that
says what to write, never pydantic's wording or a raw regular expression.

* ranges name the bound and the value, and a percentage written where a share is expected gets
  the share to write (``discount: 10`` -> "write 0.10 for 10%");
* enumerations list their values and suggest the closest (``channel: SMS`` -> ``sms``), unknown
  keys the closest field;
* patterns are described in words, with a corrected value when one is obvious
  (``key: Friendly SMS`` -> ``friendly-sms``);
* several cross-field problems are unpacked, one per field; union-branch noise is dropped.

:mod:`engine.loader` turns each path into the line and column that hold it.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from engine.config import COLUMN_PATTERN, KEY_PATTERN, Experiment
from engine.config.base import closest

Loc = tuple[str | int, ...]
#: A problem found: where (field path), what, and an exact position when the path is not enough.
Found = tuple[Loc, str, tuple[int, int] | None]


def model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the mapping at ``loc`` (for typo suggestions)."""
    current: Any = Experiment
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Find the model class inside ``X | None``, ``tuple[X, ...]`` or ``Annotated[X, ...]``."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return annotation
    for arg in typing.get_args(annotation):
        inner = _unwrap(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    if origin in (types.UnionType, typing.Union):
        return None
    return _unwrap(typing.get_args(annotation)[0]) if typing.get_args(annotation) else None


def describe_all(errors: Iterable[Mapping[str, Any]]) -> list[Found]:
    """One issue per problem of a pydantic ``ValidationError.errors()`` list: cross-field errors
    unpacked (see ``engine.config.base._invalid_all``), union-branch noise dropped."""
    found: list[Found] = []
    for error in _without_branch_noise(list(errors)):
        ctx = error.get("ctx") or {}
        if error["type"] == "cross_field" and ctx.get("problems"):
            loc: Loc = tuple(error["loc"])
            found.extend((join_loc(loc, f), str(message), None) for f, message in ctx["problems"])
        elif _is_item_count_noise(error):
            continue
        else:
            found.append(_describe(error))
    return found


def join_loc(loc: Loc, field: str) -> Loc:
    return (*loc, *(int(p) if p.isdigit() else p for p in field.split(".") if p))


def _is_union_tag(part: str | int) -> bool:
    return isinstance(part, str) and ("-" in part or "[" in part)


def without_union_tags(loc: Loc) -> Loc:
    """Drop pydantic's union-branch labels (``constrained-str``, ``tuple[...]``) from a location:
    the analyst wrote a field, not a branch."""
    return tuple(p for p in loc if not _is_union_tag(p))


def _without_branch_noise(errors: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A value of a field that takes several shapes fails every branch; keep the specific
    complaint (a pattern, a range) over "not a <the other shape>", and one complaint per
    field when every branch only disagrees on the type."""
    branches: dict[Loc, list[Mapping[str, Any]]] = {}
    for error in errors:
        if any(_is_union_tag(p) for p in error["loc"]):
            branches.setdefault(without_union_tags(tuple(error["loc"])), []).append(error)
    dropped: set[int] = set()
    for group in branches.values():
        specific = [e for e in group if not str(e["type"]).endswith("_type")]
        keep = specific or group[:1]
        dropped.update(id(e) for e in group if e not in keep)
    return [e for e in errors if id(e) not in dropped]


def _is_item_count_noise(error: Mapping[str, Any]) -> bool:
    """pydantic counts only the items that validated ("at least 2 items after validation, not
    0"): when items failed, their own errors say what is wrong, the count does not."""
    if error["type"] != "too_short":
        return False
    given = error.get("input")
    actual = (error.get("ctx") or {}).get("actual_length")
    return isinstance(given, list | tuple) and actual is not None and actual < len(given)


def _describe(error: Mapping[str, Any]) -> Found:
    loc: Loc = without_union_tags(tuple(error["loc"]))
    ctx = error.get("ctx") or {}
    kind = str(error["type"])
    if kind == "cross_field":
        return join_loc(loc, str(ctx.get("field", ""))), str(ctx["message"]), None
    if kind == "extra_forbidden":
        return loc, _unknown_field(loc), None
    if kind == "missing":
        return loc, f"missing required field {str(loc[-1])!r}", None
    return loc, _message(kind, error.get("input"), ctx, str(error["msg"]), loc), None


def _unknown_field(loc: Loc) -> str:
    key = str(loc[-1])
    model = model_at(loc[:-1])
    message = f"unknown field {key!r}"
    if model is None:
        return message
    close = closest(key, list(model.model_fields))
    if close is not None:
        return message + f"; did you mean {close!r}?"
    return message + f"; allowed: {', '.join(model.model_fields)}"


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


#: Upper bounds of 1 on these field names mark a share (0.05 is 5%), where a percentage such as
#: 10 is the usual slip.
_SHARES = re.compile(
    r"discount|share|floor|weights|retention|rate|range|beta|alpha|prob|loss|mixture"
)


def _range_message(kind: str, value: Any, ctx: Mapping[str, Any], loc: Loc) -> str:
    bound = next(iter(ctx.values()))
    words = {
        "greater_than": f"must be above {bound:g}",
        "greater_than_equal": f"must be at least {bound:g}",
        "less_than": f"must be below {bound:g}",
        "less_than_equal": f"must be at most {bound:g}",
    }[kind]
    message = f"{words}, got {_show(value)}"
    name = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    percentage = is_number and 1 < value <= 100 and _SHARES.search(name) is not None
    if kind.startswith("less") and bound == 1 and percentage:
        share = value / 100
        text = f"{share:.2f}" if round(share, 2) == share else f"{share:g}"
        message += f"; a share is a fraction: write {text} for {value:g}%"
    return message


def _pattern_message(value: Any, pattern: str) -> str:
    got = f", got {_show(value)}"
    if pattern == KEY_PATTERN:
        text = (
            "must be a key: lower-case letters, digits, '-' and '_', starting with a letter, "
            "at most 63 characters" + got
        )
        if isinstance(value, str):
            slug = re.sub(r"[^a-z0-9_\-]+", "-", value.strip().lower()).strip("-_")
            if slug and re.fullmatch(KEY_PATTERN, slug):
                text += f"; e.g. {slug!r}"
        return text
    if pattern == COLUMN_PATTERN:
        text = "must be a column name: letters, digits and '_', not starting with a digit" + got
        if isinstance(value, str):
            slug = re.sub(r"\W+", "_", value.strip()).strip("_")
            if slug and re.fullmatch(COLUMN_PATTERN, slug):
                text += f"; e.g. {slug!r}"
        return text
    if pattern == r"^[A-Z]{3}$":
        text = "must be a three-letter ISO 4217 currency code such as EUR" + got
        if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{3}", value.strip()):
            text += f"; write {value.strip().upper()!r}"
        return text
    if "[0-5]" in pattern and ":" in pattern:
        return "must be a time of day HH:MM, from 00:00 to 23:59" + got
    return "has the wrong form" + got


def _literal_message(value: Any, expected: str) -> str:
    allowed = re.findall(r"'([^']*)'", expected)
    message = f"{_show(value)} is not one of: {', '.join(allowed)}"
    close = closest(str(value), allowed) if allowed else None
    if close is not None:
        message += f"; did you mean {close!r}?"
    return message


#: pydantic's type errors: what the field takes, in words.
_TYPES = {
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "int_type": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "list_type": "a list ('- item' lines or [a, b])",
    "tuple_type": "a list ('- item' lines or [a, b])",
    "date_type": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_parsing": "a real date YYYY-MM-DD",
    "date_from_datetime_inexact": "a date YYYY-MM-DD, without a time",
    "finite_number": "a finite number",
}


def _message(kind: str, value: Any, ctx: Mapping[str, Any], raw: str, loc: Loc) -> str:
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"} and ctx:
        return _range_message(kind, value, ctx, loc)
    if kind == "string_pattern_mismatch":
        return _pattern_message(value, str(ctx.get("pattern", "")))
    if kind == "literal_error":
        return _literal_message(value, str(ctx.get("expected", "")))
    if kind in {"too_short", "too_long"}:
        least = kind == "too_short"
        limit = ctx.get("min_length" if least else "max_length")
        items = "arms" if loc == ("arms",) else "item(s)"
        needs = f"needs at least {limit} {items}" if least else f"takes at most {limit} {items}"
        extra = " (a champion and a challenger)" if items == "arms" else ""
        return f"{needs}{extra}, found {ctx.get('actual_length')}"
    if kind in _TYPES:
        message = f"must be {_TYPES[kind]}, got {_show(value)}"
        if kind == "string_type" and isinstance(value, int | float | bool):
            message += f"; quote it: '{value}'"
        return message
    # Plain ValueErrors raised in validators carry a readable message after this prefix.
    return raw.removeprefix("Value error, ")


def dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)
