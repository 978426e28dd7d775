"""Leaf-by-leaf differences between two stored versions of an experiment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Marks a path that exists on one side only.
ABSENT = "(absent)"


@dataclass(frozen=True)
class Change:
    """One leaf that differs between two versions, e.g. ``arms.discount_nudge.cost``."""

    path: str
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.path}: {_show(self.before)} -> {_show(self.after)}"


def _show(value: Any) -> str:
    return ABSENT if value is ABSENT else repr(value)


def _keyed(value: Any) -> Any:
    """Lists of mappings with a ``key`` (arms) become mappings, so a diff names arms, not
    positions: moving an arm is no change, and editing one names it."""
    if isinstance(value, list) and value and all(isinstance(v, dict) and "key" in v for v in value):
        return {str(v["key"]): _keyed(v) for v in value}
    if isinstance(value, dict):
        return {k: _keyed(v) for k, v in value.items()}
    return value


def _leaves(value: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _leaves(inner, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def value_at(config: Mapping[str, Any], path: str) -> Any:
    """The value at a change's ``path`` (arms named by key), or :data:`ABSENT`."""
    value: Any = _keyed(dict(config))
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return ABSENT
        value = value[part]
    return value


def show_value(value: Any) -> str:
    """A value as a change line shows it (``(absent)`` for a missing one)."""
    return _show(value)


def config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Leaf-by-leaf differences between two stored configurations (``model_dump`` JSON)."""
    old = dict(_leaves(_keyed(dict(before))))
    new = dict(_leaves(_keyed(dict(after))))
    changes = []
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path, ABSENT), new.get(path, ABSENT)
        if a != b:
            changes.append(Change(path, a, b))
    return changes
