"""Use cases: each is one transaction composed from the pure core and the store.

The CLI, the scheduler and the dashboard call only this package. Each use case takes the
database engine and an explicit ``now`` (so the demo can run simulated days and a rerun can
reproduce a decision) and returns plain value objects, never ORM rows.
"""

from engine.service.allocation import AllocationInfo, update_allocation
from engine.service.analysis import (
    ANALYSIS_SEED,
    analyze_experiment,
    experiment_segments,
    fit_churn_model,
    segment_model,
)
from engine.service.assignments import (
    AssignResult,
    assign_debtors,
)
from engine.service.clock import BackdatedWriteError
from engine.service.common import (
    Database,
    NotRunningError,
    ServiceError,
    StorageError,
    UnknownExperimentError,
    UnknownSegmentError,
    current_experiment,
    has_assignments,
    new_seed,
    utc_now,
)
from engine.service.database import (
    DatabaseError,
    MissingDatabaseError,
    connect_db,
    database_files,
    describe,
    display_url,
    missing_database_file,
    open_db,
    redact,
    reset_database,
)
from engine.service.definitions import Definition, experiment_definition
from engine.service.events import (
    IngestResult,
    ingest_events,
)
from engine.service.experiments import (
    SyncResult,
    UnsafeChangeError,
    VersionEntry,
    experiment_history,
    sync_experiment,
)
from engine.service.lifecycle import StatusChange, set_status
from engine.service.policy import policy_ope
from engine.service.promotion import (
    CycleResult,
    PromotionResult,
    evaluate_promotion,
    run_cycle,
)
from engine.service.reports import (
    DebtorOutcome,
    ExperimentReport,
    ExperimentSummary,
    PromotionRecord,
    assignment_outcomes,
    default_as_of,
    experiment_report,
    latest_activity,
    list_experiments,
    refresh_snapshot,
)
from engine.service.rollback import RollbackResult, rollback_allocation

__all__ = [
    "ANALYSIS_SEED",
    "AllocationInfo",
    "AssignResult",
    "BackdatedWriteError",
    "CycleResult",
    "Database",
    "DatabaseError",
    "DebtorOutcome",
    "Definition",
    "ExperimentReport",
    "ExperimentSummary",
    "IngestResult",
    "MissingDatabaseError",
    "NotRunningError",
    "PromotionRecord",
    "PromotionResult",
    "RollbackResult",
    "ServiceError",
    "StatusChange",
    "StorageError",
    "SyncResult",
    "UnknownExperimentError",
    "UnknownSegmentError",
    "UnsafeChangeError",
    "VersionEntry",
    "analyze_experiment",
    "assign_debtors",
    "assignment_outcomes",
    "connect_db",
    "current_experiment",
    "database_files",
    "default_as_of",
    "describe",
    "display_url",
    "evaluate_promotion",
    "experiment_definition",
    "experiment_history",
    "experiment_report",
    "experiment_segments",
    "fit_churn_model",
    "has_assignments",
    "ingest_events",
    "latest_activity",
    "list_experiments",
    "missing_database_file",
    "new_seed",
    "open_db",
    "policy_ope",
    "redact",
    "refresh_snapshot",
    "reset_database",
    "rollback_allocation",
    "run_cycle",
    "segment_model",
    "set_status",
    "sync_experiment",
    "update_allocation",
    "utc_now",
]
