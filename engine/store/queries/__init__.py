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
from engine.store.queries.cells import Maturity, OutcomeCell, as_date, maturity, outcome_cells
from engine.store.queries.snapshots import (
    Snapshot,
    coarsen,
    fingerprint,
    fresh_assigned,
    fresh_segments,
    fresh_snapshot,
    write_snapshot,
)
from engine.store.queries.traffic import DailyTraffic, daily_traffic
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
    insert_ignoring_duplicates,
    lock_experiment,
    refresh_outcomes,
)

__all__ = [
    "CHUNK",
    "RULE_ACTIONS",
    "STATUS_ACTION",
    "AssignedRow",
    "AssignmentOutcome",
    "DailyTraffic",
    "Maturity",
    "OutcomeCell",
    "Snapshot",
    "allocations",
    "arms_in_use",
    "as_date",
    "assigned_arms",
    "assignment_outcomes",
    "coarsen",
    "daily_traffic",
    "decisions_on",
    "experiment_versions",
    "fingerprint",
    "first_assignment_time",
    "fresh_assigned",
    "fresh_segments",
    "fresh_snapshot",
    "insert_ignoring_duplicates",
    "latest_allocation",
    "latest_status",
    "latest_versions",
    "lock_experiment",
    "maturity",
    "outcome_cells",
    "promotions",
    "recent_contacts",
    "refresh_outcomes",
    "segment_values",
    "write_snapshot",
]
