"""Pydantic validation errors as an analyst reads them: a field path, a plain message, a "did
you mean" for a typo, several cross-field problems unpacked, union-branch noise dropped.

:mod:`engine.loader` turns each path into the line and column that hold it.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from engine.config import Experiment

Loc = tuple[str | int, ...]
#: A problem found: where (field path), what, and an exact position when the path is not enough.
Found = tuple[Loc, str, tuple[int, int] | None]


def _model_at(loc: Loc) -> type[BaseModel] | None:
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


def describe_all(error: Any) -> list[Found]:
    """One issue per problem: a cross-field error may carry several (see ``_invalid_all``)."""
    ctx = error.get("ctx") or {}
    if error["type"] == "cross_field" and ctx.get("problems"):
        loc: Loc = tuple(error["loc"])
        return [(_join(loc, field), str(message), None) for field, message in ctx["problems"]]
    return [_describe(error)]


def _join(loc: Loc, field: str) -> Loc:
    return (*loc, *(int(p) if p.isdigit() else p for p in field.split(".") if p))


def _without_union_tags(loc: Loc) -> Loc:
    """Drop pydantic's union-branch labels (``constrained-str``, ``tuple[...]``) from a location:
    the analyst wrote a field, not a branch."""
    return tuple(p for p in loc if isinstance(p, int) or not ("-" in p or "[" in p))


def drop_branch_noise(found: list[Found]) -> list[Found]:
    """For a field that may take several shapes, a wrong value fails every branch; keep the
    specific complaint (a pattern, a range) over "should be a valid <other shape>"."""
    specific = {loc for loc, message, _ in found if not message.startswith("Input should be a")}
    seen: set[tuple[Loc, str]] = set()
    kept = []
    for loc, message, mark in found:
        if (loc, message) in seen or (loc in specific and message.startswith("Input should be a")):
            continue
        seen.add((loc, message))
        kept.append((loc, message, mark))
    return kept


def _describe(error: Any) -> Found:
    loc: Loc = _without_union_tags(tuple(error["loc"]))
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "cross_field":
        return _join(loc, str(ctx.get("field", ""))), str(ctx["message"]), None
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        message = f"unknown field {key!r}"
        if model is not None:
            close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
            else:
                message += f"; allowed: {', '.join(model.model_fields)}"
        return loc, message, None
    if kind == "missing":
        return loc, f"missing required field {str(loc[-1])!r}", None
    message = str(error["msg"])
    # pydantic prefixes messages of plain ValueErrors raised in validators; drop the noise.
    message = message.removeprefix("Value error, ")
    return loc, message, None


def dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)
