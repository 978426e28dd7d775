"""Definition epochs: runs of experiment versions that measure outcomes the same way.

Each assignment stores the experiment version it was made under, and with it the outcome
definition it is measured on (its pay window and churn horizon are fixed at assignment; what its
arm did is the arm of that version). A version that changes a definition field (see
:mod:`engine.versioning.fields`) starts a new epoch; the bandit, the promotion rule and the
analysis read only the debtors of the current epoch (``experiment_version >= since``), so two
definitions are never pooled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.versioning.safety import definition_changes


@dataclass(frozen=True)
class DefinitionEpoch:
    """The definition in force: since which experiment version, and what changed then.

    ``changes`` are the definition changes of version ``since`` (empty when ``since`` is the
    first version: nothing was ever redefined).
    """

    since: int
    changes: tuple[str, ...] = ()

    @property
    def redefined(self) -> bool:
        return bool(self.changes)

    @property
    def min_version(self) -> int | None:
        """The ``min_experiment_version`` filter of the debtors to pool: None while the
        definition never changed (every debtor counts, and no filter slows the read)."""
        return self.since if self.redefined else None


def definition_starts(versions: Sequence[tuple[int, Mapping[str, Any]]]) -> list[int]:
    """For each ``(version, config)`` in version order, the version its epoch starts at."""
    starts: list[int] = []
    for index, (version, config) in enumerate(versions):
        if index == 0 or definition_changes(versions[index - 1][1], config):
            starts.append(version)
        else:
            starts.append(starts[-1])
    return starts


def current_definition(versions: Sequence[tuple[int, Mapping[str, Any]]]) -> DefinitionEpoch:
    """The epoch of the newest version (``versions`` in version order, at least one)."""
    if not versions:
        raise ValueError("an experiment has at least one version")
    since = definition_starts(versions)[-1]
    position = [v for v, _ in versions].index(since)
    if position == 0:
        return DefinitionEpoch(since)
    before, after = versions[position - 1][1], versions[position][1]
    return DefinitionEpoch(since, tuple(str(c) for c in definition_changes(before, after)))
