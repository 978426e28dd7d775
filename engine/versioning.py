"""What changed between two versions of an experiment, and which changes are unsafe.

An experiment file is edited while debtors are in it. Most edits are safe (a label, a threshold,
a new challenger); some would silently corrupt what is already in the database:

* removing (or renaming) an arm that has assignments: those debtors' arm no longer exists;
* changing the salt or the unit: every debtor would hash to a different arm, so the sticky
  assignments stop meaning what the allocation says;
* moving the experiment in its layer: debtors already in it may now belong to another one;
* changing the segment attribute under per-segment allocation: the stored per-segment weights
  describe segments that no longer exist;
* changing the champion in the file: the champion is decided by promotions and rollbacks, so an
  edit would bypass the promotion rule and its audit trail.

Pure functions over validated experiments; :mod:`engine.service.experiments` applies them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.config import Experiment

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


def unsafe_changes(
    before: Experiment, after: Experiment, *, arms_with_assignments: Iterable[str]
) -> list[str]:
    """Explanations of the edits that would corrupt a running experiment (empty: safe).

    ``arms_with_assignments`` are the arms debtors are assigned to; with none, every edit is
    safe because nothing in the database depends on the old content yet.
    """
    assigned = set(arms_with_assignments)
    if not assigned:
        return []
    problems = []
    removed = [arm for arm in before.arm_keys if arm in assigned and arm not in after.arm_keys]
    if removed:
        problems.append(
            f"arm(s) {', '.join(removed)} removed or renamed, but debtors are assigned to them"
        )
    if before.assignment_salt != after.assignment_salt:
        problems.append(
            f"salt changed ({before.assignment_salt!r} -> {after.assignment_salt!r}): every "
            "debtor would hash to a different arm"
        )
    if before.unit != after.unit:
        problems.append(
            f"unit changed ({before.unit!r} -> {after.unit!r}): assignments are per {before.unit}"
        )
    if before.layer != after.layer:
        problems.append(
            "layer changed: debtors already in the experiment could now belong to another "
            "experiment of the layer"
        )
    if before.allocation.per_segment and before.segment_columns != after.segment_columns:
        problems.append(
            "segment changed under per-segment allocation: the stored per-segment weights "
            "would describe segments that no longer exist"
        )
    if before.champion != after.champion:
        problems.append(
            f"champion changed in the file ({before.champion} -> {after.champion}): the "
            "champion is changed by `dunning promote` or `dunning rollback`, which audit it"
        )
    return problems
