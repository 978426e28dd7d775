"""Queries that aggregate in the database and the few writes that need dialect care.

Outcomes are derived per assignment from events in SQL (:func:`refresh_outcomes`, run by every
ingestion for the debtors it touches), then summed per (arm, allocation version, segment) cell
(:func:`outcome_cells`): only the cells travel to Python, never the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import lazy

# Names are imported on first use (PEP 562): importing one module of the package does not
# load every other (start-up time of the CLI, benchmarks/bench_startup.py).
if TYPE_CHECKING:
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
    from engine.store.queries.case_sums import CaseMaturity, case_cells, case_maturity
    from engine.store.queries.cases import (
        foreign_cases,
        insert_cases,
        stored_cases,
        unmatched_cases,
    )
    from engine.store.queries.cells import (
        Maturity,
        OutcomeCell,
        as_date,
        maturity,
        outcome_cells,
    )
    from engine.store.queries.snapshots import (
        Snapshot,
        SnapshotMark,
        assigned_since_snapshot,
        coarsen,
        fingerprint,
        fresh_assigned,
        fresh_segments,
        fresh_snapshot,
        snapshot_mark,
        snapshot_segments,
        snapshot_time,
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
        lock_experiment,
        lock_writes,
        refresh_outcomes,
    )

_EXPORTS: dict[str, str] = {
    "as_date": "engine.store.queries.cells",
    "CaseMaturity": "engine.store.queries.case_sums",
    "case_cells": "engine.store.queries.case_sums",
    "case_maturity": "engine.store.queries.case_sums",
    "Snapshot": "engine.store.queries.snapshots",
    "coarsen": "engine.store.queries.snapshots",
    "fingerprint": "engine.store.queries.snapshots",
    "fresh_assigned": "engine.store.queries.snapshots",
    "fresh_segments": "engine.store.queries.snapshots",
    "fresh_snapshot": "engine.store.queries.snapshots",
    "assigned_since_snapshot": "engine.store.queries.snapshots",
    "SnapshotMark": "engine.store.queries.snapshots",
    "snapshot_mark": "engine.store.queries.snapshots",
    "snapshot_segments": "engine.store.queries.snapshots",
    "snapshot_time": "engine.store.queries.snapshots",
    "write_snapshot": "engine.store.queries.snapshots",
    "DailyTraffic": "engine.store.queries.traffic",
    "daily_traffic": "engine.store.queries.traffic",
    "insert_assignments": "engine.store.queries.bulk",
    "insert_events": "engine.store.queries.bulk",
    "stored_assignments": "engine.store.queries.bulk",
    "foreign_cases": "engine.store.queries.cases",
    "insert_cases": "engine.store.queries.cases",
    "stored_cases": "engine.store.queries.cases",
    "unmatched_cases": "engine.store.queries.cases",
    "lock_writes": "engine.store.queries.writes",
    "AssignedRow": "engine.store.queries.assignments",
    "AssignmentOutcome": "engine.store.queries.assignments",
    "CHUNK": "engine.store.queries.writes",
    "Maturity": "engine.store.queries.cells",
    "OutcomeCell": "engine.store.queries.cells",
    "RULE_ACTIONS": "engine.store.queries.versions",
    "STATUS_ACTION": "engine.store.queries.versions",
    "allocations": "engine.store.queries.versions",
    "arms_in_use": "engine.store.queries.assignments",
    "assigned_arms": "engine.store.queries.assignments",
    "assignment_outcomes": "engine.store.queries.assignments",
    "decisions_on": "engine.store.queries.versions",
    "experiment_versions": "engine.store.queries.versions",
    "first_assignment_time": "engine.store.queries.assignments",
    "latest_allocation": "engine.store.queries.versions",
    "latest_status": "engine.store.queries.versions",
    "latest_versions": "engine.store.queries.versions",
    "lock_experiment": "engine.store.queries.writes",
    "maturity": "engine.store.queries.cells",
    "outcome_cells": "engine.store.queries.cells",
    "promotions": "engine.store.queries.versions",
    "recent_contacts": "engine.store.queries.assignments",
    "refresh_outcomes": "engine.store.queries.writes",
    "segment_values": "engine.store.queries.assignments",
}

__all__ = [
    "CHUNK",
    "RULE_ACTIONS",
    "STATUS_ACTION",
    "AssignedRow",
    "AssignmentOutcome",
    "CaseMaturity",
    "DailyTraffic",
    "Maturity",
    "OutcomeCell",
    "Snapshot",
    "SnapshotMark",
    "allocations",
    "arms_in_use",
    "as_date",
    "assigned_arms",
    "assigned_since_snapshot",
    "assignment_outcomes",
    "case_cells",
    "case_maturity",
    "coarsen",
    "daily_traffic",
    "decisions_on",
    "experiment_versions",
    "fingerprint",
    "first_assignment_time",
    "foreign_cases",
    "fresh_assigned",
    "fresh_segments",
    "fresh_snapshot",
    "insert_assignments",
    "insert_cases",
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
    "snapshot_mark",
    "snapshot_segments",
    "snapshot_time",
    "stored_assignments",
    "stored_cases",
    "unmatched_cases",
    "write_snapshot",
]


__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS)
