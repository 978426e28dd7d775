"""Cross-field rules of a file whose fields also have errors, so ``dunning validate`` reports
every mistake in one run.

pydantic runs a model's cross-field validator only once every field validated: a file with a
bad channel and two champions shows the channel first and the champions only after the fix.
Here each invalid value is set aside (a field with a default loses it, a required one gets a
neutral stand-in), the data is validated again, and the experiment's cross-field problems are
kept, except those that involve a value set aside (they would describe the stand-in, not
the file): a block's own rules once any of its fields was set aside, the experiment's rules
when the field they name was.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from engine.config import Experiment
from engine.issues import Found, Loc, describe_all, join_loc, model_at, without_union_tags

#: Rounds of setting values aside; each round can reveal errors the previous one hid.
ROUNDS = 4
#: Prefix of the stand-in values of required fields (never a real key: it cannot clash).
STAND_IN = "invalid_value_"


def _location(error: Mapping[str, Any]) -> Loc:
    loc = without_union_tags(tuple(error["loc"]))
    ctx = error.get("ctx") or {}
    if error["type"] == "cross_field" and ctx.get("field"):
        return join_loc(loc, str(ctx["field"]))
    return loc


def _stand_in(annotation: Any, number: int) -> Any:
    """A neutral valid value for a required field, or None when there is none."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _stand_in(typing.get_args(annotation)[0], number)
    if annotation is str:
        return f"{STAND_IN}{number}"
    if annotation in (int, float):
        return 0.5 if annotation is float else 1
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {}
        for name, info in annotation.model_fields.items():
            if info.is_required():
                value = _stand_in(info.annotation, number)
                if value is None:
                    return None
                fields[name] = value
        return fields
    return None


def _set_aside(data: Any, loc: Loc, aside: list[Loc]) -> Loc | None:
    """Remove or replace the value at ``loc`` (or the nearest enclosing field that can be and
    was not set aside before); returns the location set aside, None when nothing could be."""
    for end in range(len(loc), 0, -1):
        *parents, name = loc[:end]
        if isinstance(name, int) or loc[:end] in aside:
            continue  # list items keep their positions: set the field around them aside
        container: Any = data
        for part in parents:
            try:
                container = container[part]
            except (KeyError, IndexError, TypeError):
                container = None
                break
        model = model_at(tuple(parents))
        if not isinstance(container, dict) or model is None:
            continue
        info = model.model_fields.get(name)
        if info is None:
            if name in container:  # an unknown key
                del container[name]
                return loc[:end]
            continue
        if not info.is_required() and info.default is not PydanticUndefined:
            container.pop(name, None)
            return loc[:end]
        if info.is_required() and info.default_factory is None:
            value = _stand_in(info.annotation, len(aside))
            if value is not None:
                container[name] = value
                return loc[:end]
    return None


def _overlaps(a: Loc, b: Loc) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def cross_field_issues(data: Mapping[str, Any], errors: list[Any]) -> list[Found]:
    """The cross-field problems revealed once the values behind ``errors`` (a failed
    validation of ``data``) are set aside; none that involves a value set aside."""
    patched = copy.deepcopy(dict(data))
    aside: list[Loc] = []
    revealed: list[Found] = []

    def trusted(error: Any) -> bool:
        # A block's own rule (a guardrail's, an eligibility rule's) reads that block's fields:
        # once one of them is set aside, its verdict is about the stand-in. The experiment's
        # rules span the file, so they are judged by the fields they name (``keep``).
        owner = without_union_tags(tuple(error["loc"]))
        return not owner or not any(where[: len(owner)] == owner for where in aside)

    def keep(found: Found) -> bool:
        stand_in = STAND_IN in found[1]
        return not stand_in and not any(_overlaps(found[0], where) for where in aside)

    for _ in range(ROUNDS):
        progress = False
        for error in errors:  # collected problems too: the rules above them run next round
            where = _set_aside(patched, _location(error), aside)
            if where is not None:
                aside.append(where)
                progress = True
        if not progress:
            break
        try:
            Experiment.model_validate(patched)
        except ValidationError as exc:
            errors = exc.errors()
        else:
            break  # valid once the bad values are set aside
        cross = [e for e in errors if e["type"] == "cross_field" and trusted(e)]
        revealed.extend(f for f in describe_all(cross) if keep(f) and f not in revealed)
        if all(e["type"] == "cross_field" and not e["loc"] for e in errors):
            break  # only the experiment's own rules are left: nothing above them to reveal
    return revealed
