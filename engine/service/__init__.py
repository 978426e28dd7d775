"""Use cases: each is one transaction composed from the pure core and the store.

The CLI, the scheduler and the dashboard call only this package. Each use case takes the
database engine and an explicit ``now`` (so the demo can run simulated days and a rerun can
reproduce a decision) and returns plain value objects, never ORM rows.

Names are imported on first use (PEP 562), not with the package: a verb that assigns debtors
loads the assignment use case, not the statistics the analysis needs (start-up time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import lazy

if TYPE_CHECKING:
    from engine.service.allocation import (
        AllocationInfo,
        update_allocation,
    )
    from engine.service.analysis import (
        ANALYSIS_SEED,
        analyze_experiment,
        experiment_segments,
        fit_churn_model,
        segment_model,
    )
    from engine.service.answers import (
        AssignResult,
    )
    from engine.service.assignments import (
        AssignmentJob,
        assign_debtors,
        assignment_job,
    )
    from engine.service.clock import (
        BackdatedWriteError,
    )
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
        SchemaError,
        connect_db,
        database_files,
        describe,
        display_url,
        missing_database_file,
        open_db,
        redact,
        reset_database,
    )
    from engine.service.definitions import (
        Definition,
        experiment_definition,
    )
    from engine.service.events import (
        IngestionJob,
        IngestResult,
        ingest_events,
        ingestion_job,
    )
    from engine.service.experiments import (
        SyncResult,
        UnsafeChangeError,
        VersionEntry,
        experiment_history,
        sync_experiment,
    )
    from engine.service.lifecycle import (
        StatusChange,
        set_status,
    )
    from engine.service.policy import (
        policy_ope,
    )
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
    from engine.service.rollback import (
        RollbackResult,
        rollback_allocation,
    )
    from engine.service.schema import (
        SchemaStatus,
        UpgradeResult,
        schema_status,
        upgrade_database,
    )

#: Each public name and the module defining it.
_EXPORTS: dict[str, str] = {
    "refresh_snapshot": "engine.service.reports",
    "AssignmentJob": "engine.service.assignments",
    "assignment_job": "engine.service.assignments",
    "IngestionJob": "engine.service.events",
    "ingestion_job": "engine.service.events",
    "ANALYSIS_SEED": "engine.service.analysis",
    "AllocationInfo": "engine.service.allocation",
    "AssignResult": "engine.service.answers",
    "BackdatedWriteError": "engine.service.clock",
    "CycleResult": "engine.service.promotion",
    "Database": "engine.service.common",
    "DatabaseError": "engine.service.database",
    "DebtorOutcome": "engine.service.reports",
    "Definition": "engine.service.definitions",
    "ExperimentReport": "engine.service.reports",
    "ExperimentSummary": "engine.service.reports",
    "IngestResult": "engine.service.events",
    "MissingDatabaseError": "engine.service.database",
    "NotRunningError": "engine.service.common",
    "PromotionRecord": "engine.service.reports",
    "PromotionResult": "engine.service.promotion",
    "RollbackResult": "engine.service.rollback",
    "SchemaError": "engine.service.database",
    "SchemaStatus": "engine.service.schema",
    "ServiceError": "engine.service.common",
    "StatusChange": "engine.service.lifecycle",
    "StorageError": "engine.service.common",
    "SyncResult": "engine.service.experiments",
    "UnknownExperimentError": "engine.service.common",
    "UnknownSegmentError": "engine.service.common",
    "UnsafeChangeError": "engine.service.experiments",
    "UpgradeResult": "engine.service.schema",
    "VersionEntry": "engine.service.experiments",
    "analyze_experiment": "engine.service.analysis",
    "assign_debtors": "engine.service.assignments",
    "assignment_outcomes": "engine.service.reports",
    "connect_db": "engine.service.database",
    "current_experiment": "engine.service.common",
    "database_files": "engine.service.database",
    "default_as_of": "engine.service.reports",
    "describe": "engine.service.database",
    "display_url": "engine.service.database",
    "evaluate_promotion": "engine.service.promotion",
    "experiment_definition": "engine.service.definitions",
    "experiment_history": "engine.service.experiments",
    "experiment_report": "engine.service.reports",
    "experiment_segments": "engine.service.analysis",
    "fit_churn_model": "engine.service.analysis",
    "has_assignments": "engine.service.common",
    "ingest_events": "engine.service.events",
    "latest_activity": "engine.service.reports",
    "list_experiments": "engine.service.reports",
    "missing_database_file": "engine.service.database",
    "new_seed": "engine.service.common",
    "open_db": "engine.service.database",
    "policy_ope": "engine.service.policy",
    "redact": "engine.service.database",
    "reset_database": "engine.service.database",
    "rollback_allocation": "engine.service.rollback",
    "run_cycle": "engine.service.promotion",
    "schema_status": "engine.service.schema",
    "segment_model": "engine.service.analysis",
    "set_status": "engine.service.lifecycle",
    "sync_experiment": "engine.service.experiments",
    "update_allocation": "engine.service.allocation",
    "upgrade_database": "engine.service.schema",
    "utc_now": "engine.service.common",
}

__all__ = [
    "ANALYSIS_SEED",
    "AllocationInfo",
    "AssignResult",
    "AssignmentJob",
    "BackdatedWriteError",
    "CycleResult",
    "Database",
    "DatabaseError",
    "DebtorOutcome",
    "Definition",
    "ExperimentReport",
    "ExperimentSummary",
    "IngestResult",
    "IngestionJob",
    "MissingDatabaseError",
    "NotRunningError",
    "PromotionRecord",
    "PromotionResult",
    "RollbackResult",
    "SchemaError",
    "SchemaStatus",
    "ServiceError",
    "StatusChange",
    "StorageError",
    "SyncResult",
    "UnknownExperimentError",
    "UnknownSegmentError",
    "UnsafeChangeError",
    "UpgradeResult",
    "VersionEntry",
    "analyze_experiment",
    "assign_debtors",
    "assignment_job",
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
    "ingestion_job",
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
    "schema_status",
    "segment_model",
    "set_status",
    "sync_experiment",
    "update_allocation",
    "upgrade_database",
    "utc_now",
]


__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS)
