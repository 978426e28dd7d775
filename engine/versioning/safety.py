"""Review an edit of an experiment against the change-safety table
(:mod:`engine.versioning.fields`): what is refused without ``--force``, what starts a new
definition epoch, what is accepted but changes nothing while the bandit runs.

Pure functions over stored configurations (``model_dump(mode="json")``);
:mod:`engine.service.experiments` applies them when it syncs a file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from engine.versioning.diff import Change, config_changes, show_value, value_at
from engine.versioning.fields import Safety, field_of, safety_of


@dataclass(frozen=True)
class LiveState:
    """What the database holds that the review depends on.

    Attributes
    ----------
    assigned_arms
        Arms with assigned debtors; with none, nothing stored depends on the old content and
        every edit is live.
    champion
        The champion in force (promotions and rollbacks change it, not the file).
    bandit_moved
        Whether the split in force was set by the bandit from outcomes (rather than being the
        configured starting split, as under ``policy: fixed``, before the first update and
        during the burn-in).
    """

    assigned_arms: Collection[str] = ()
    champion: str | None = None
    bandit_moved: bool = False


@dataclass(frozen=True)
class Finding:
    """One changed field, its class, and the sentence that explains it."""

    field: str
    safety: Safety
    message: str


@dataclass(frozen=True)
class Review:
    """Every change of an edit, classified.

    ``refused`` are the definition and identity findings, refused unless ``--force`` (empty
    before any debtor is assigned); ``notes`` are the starting-split findings, accepted with
    the note; ``new_definition`` is True when the edit changes a definition (whether or not a
    debtor is assigned yet), which starts a new definition epoch.
    """

    changes: tuple[Change, ...]
    findings: tuple[Finding, ...]
    new_definition: bool

    @property
    def refused(self) -> tuple[str, ...]:
        strict = (Safety.DEFINITION, Safety.IDENTITY)
        return tuple(f.message for f in self.findings if f.safety in strict)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f.message for f in self.findings if f.safety is Safety.STARTING)


def _arm_keys(config: Mapping[str, Any]) -> list[str]:
    return [str(arm["key"]) for arm in config.get("arms", [])]


def _instance(path: str) -> str:
    """The changed field with its arm named (``arms.sms.router`` for every leaf below it), so
    a new routing model is one finding, not one per coefficient."""
    field = field_of(path)
    depth = field.count(".") + 1
    return ".".join(path.split(".")[:depth])


def _of_a_whole_arm(change: Change, kept: set[str]) -> bool:
    """Whether ``change`` is part of an arm added or removed as a whole (not one of ``kept``,
    the arms on both sides): such an arm is judged as one change, not field by field."""
    parts = change.path.split(".")
    return parts[0] == "arms" and len(parts) > 1 and parts[1] not in kept


def definition_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """The changes from ``before`` to ``after`` that measure outcomes differently: a definition
    field of the experiment, or of an arm on both sides (a new arm has no debtors to measure).
    Any of them starts a new definition epoch (:mod:`engine.versioning.epochs`)."""
    kept = set(_arm_keys(before)) & set(_arm_keys(after))
    return [
        c
        for c in config_changes(before, after)
        if safety_of(field_of(c.path)).safety is Safety.DEFINITION and not _of_a_whole_arm(c, kept)
    ]


def review_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, state: LiveState
) -> Review:
    """Classify every change from ``before`` to ``after`` (stored configurations).

    Adding an arm is live (it has no debtors yet); removing or renaming one is identity when
    it has debtors, and so is moving the champion, unless the file now names the champion
    already in force (it catches up with a promotion). Each other change takes its field's
    class from the table; starting weights are live while the configured split is the one in
    force.
    """
    changes = config_changes(before, after)
    old_arms, new_arms = set(_arm_keys(before)), set(_arm_keys(after))
    assigned = set(state.assigned_arms)
    findings: list[Finding] = []
    seen: set[str] = set()
    removed = sorted(old_arms - new_arms)
    lost = [arm for arm in removed if arm in assigned]
    if lost:
        findings.append(
            Finding(
                "arms.*.key",
                Safety.IDENTITY,
                f"arm(s) {', '.join(lost)} removed or renamed, but debtors are assigned to them",
            )
        )
    old_champion, new_champion = _champion(before), _champion(after)
    if old_champion != new_champion and new_champion != state.champion and assigned:
        entry = safety_of("arms.*.champion")
        findings.append(
            Finding(
                "arms.*.champion",
                entry.safety,
                f"champion changed in the file ({old_champion} -> {new_champion}): {entry.why}",
            )
        )
    # A block switched on or off (``layer: null`` -> a layer) is one change, not one per field.
    switched = [c.path for c in changes if c.before is None or c.after is None]
    for change in changes:
        if _of_a_whole_arm(change, old_arms & new_arms):
            continue  # handled above
        if field_of(change.path) == "arms.*.champion":
            continue  # handled above
        block = next((p for p in switched if change.path.startswith(f"{p}.")), None)
        instance = block or _instance(change.path)
        if instance in seen:
            continue
        seen.add(instance)
        field = field_of(instance)
        entry = safety_of(field)
        safety = entry.safety
        if field == "allocation.weights" and not state.bandit_moved:
            safety = Safety.LIVE  # the configured split is still the one in force
        if safety is Safety.LIVE:
            continue
        if safety in (Safety.DEFINITION, Safety.IDENTITY) and not assigned:
            continue  # nothing stored depends on the old content yet
        findings.append(Finding(field, safety, f"{_shown(instance, before, after)}: {entry.why}"))
    return Review(tuple(changes), tuple(findings), bool(definition_changes(before, after)))


def _shown(path: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    if field_of(path) == "arms.*.router.fitted":
        return f"{path}: the router model file's content changed"
    old, new = show_value(value_at(before, path)), show_value(value_at(after, path))
    return f"{path}: {old} -> {new}"


def _champion(config: Mapping[str, Any]) -> str | None:
    return next((str(a["key"]) for a in config.get("arms", []) if a.get("champion")), None)
