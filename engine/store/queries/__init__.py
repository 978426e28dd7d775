"""Queries that aggregate in the database and the few writes that need dialect care.

Outcomes are derived per assignment from events in SQL (:func:`refresh_outcomes`, run by every
ingestion for the debtors it touches), then summed per (arm, allocation version, segment) cell
(:func:`outcome_cells`): only the cells travel to Python, never the rows.
"""

from engine.store.queries.assignments import (
    AssignedRow,
    AssignmentOutcome,
    arms_in_use,
    assigned_arms,
    assignment_outcomes,
    first_assignment_time,
    recent_contacts,
    segment_values,
)
from engine.store.queries.bulk import insert_assignments, insert_events, stored_assignments
from engine.store.queries.cells import Maturity, OutcomeCell, maturity, outcome_cells
from engine.store.queries.versions import (
    RULE_ACTIONS,
    STATUS_ACTION,
    allocations,
    decisions_on,
    experiment_versions,
    latest_allocation,
    latest_status,
    latest_versions,
    promotions,
)
from engine.store.queries.writes import (
    CHUNK,
    lock_experiment,
    lock_writes,
    refresh_outcomes,
)

__all__ = [
    "CHUNK",
    "RULE_ACTIONS",
    "STATUS_ACTION",
    "AssignedRow",
    "AssignmentOutcome",
    "Maturity",
    "OutcomeCell",
    "allocations",
    "arms_in_use",
    "assigned_arms",
    "assignment_outcomes",
    "decisions_on",
    "experiment_versions",
    "first_assignment_time",
    "insert_assignments",
    "insert_events",
    "latest_allocation",
    "latest_status",
    "latest_versions",
    "lock_experiment",
    "lock_writes",
    "maturity",
    "outcome_cells",
    "promotions",
    "recent_contacts",
    "refresh_outcomes",
    "segment_values",
    "stored_assignments",
]
