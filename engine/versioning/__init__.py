"""Experiment versions: what changed between two of them, which changes a running experiment
may take (:mod:`engine.versioning.fields`), and the definition epochs forced changes start.

Pure functions over stored configurations; :mod:`engine.service.experiments` applies them.
"""

from engine.versioning.diff import ABSENT, Change, config_changes
from engine.versioning.epochs import DefinitionEpoch, current_definition, definition_starts
from engine.versioning.fields import FIELDS, FieldSafety, Safety, field_of, safety_of
from engine.versioning.safety import (
    Finding,
    LiveState,
    Review,
    definition_changes,
    review_changes,
)

__all__ = [
    "ABSENT",
    "FIELDS",
    "Change",
    "DefinitionEpoch",
    "FieldSafety",
    "Finding",
    "LiveState",
    "Review",
    "Safety",
    "config_changes",
    "current_definition",
    "definition_changes",
    "definition_starts",
    "field_of",
    "review_changes",
    "safety_of",
]
