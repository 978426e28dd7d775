"""SQLModel tables. Rows are append-only facts; nothing here is edited in place.

* ``experiment_version``: each distinct content of an experiment file, keyed by content hash.
* ``allocation``: each traffic split in force, with its seed and reason (who gets what, and why).
* ``assignment``: one row per debtor and experiment (sticky), with the arm's propensity, plus
  its outcome columns (first payment, amount collected in the window, churn, treatment counts),
  which are derived from ``outcome_event`` and refreshed whenever events of the debtor arrive.
* ``dunning_case``: with ``unit: {customer, case}``, one row per case (every case, the first
  too): its entry time, due date and the customer's sticky arm, plus its outcome columns,
  derived from the events matched to it (``engine.store.queries.cases``).
* ``outcome_event``: payments, reminders, collection cases, churn, inquiries; unique event id,
  and the case it names when the events file carries one.
* ``promotion``: the audit trail: every evaluation of the promotion rule, every rollback and
  every status change (``action = 'status'``, the new status in ``reason``, who and what
  changed in ``numbers``).

All times are timezone-aware UTC: SQLModel maps ``datetime`` to its ``UTCDateTime`` type
(``timestamptz`` on PostgreSQL; UTC text on SQLite, which has no time zone type).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class ExperimentVersion(SQLModel, table=True):
    __tablename__ = "experiment_version"
    __table_args__ = (
        UniqueConstraint("experiment_key", "version"),
        UniqueConstraint("experiment_key", "content_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experiment_key: str = Field(max_length=64, index=True)
    version: int
    content_hash: str = Field(max_length=64)
    name: str
    config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source_yaml: str = Field(sa_column=Column(Text, nullable=False))
    source_path: str | None = None
    # The unsafe changes an operator accepted with ``sync --force`` (empty when none). What
    # else changed is the difference of consecutive configs, computed when shown.
    forced: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime


class AllocationVersion(SQLModel, table=True):
    __tablename__ = "allocation"
    __table_args__ = (UniqueConstraint("experiment_key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_key: str = Field(max_length=64, index=True)
    version: int
    experiment_version: int
    kind: str = Field(max_length=16)  # initial | update | promotion | stop_arm | rollback
    champion: str = Field(max_length=64)
    weights: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))
    p_best: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))
    # Split of the debtors outside the holdout; ``weights`` is the overall probability
    # (holdout included), i.e. the propensity stored with each assignment.
    bandit_weights: dict[str, float] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    holdout_share: float = 0.0
    # With per-segment allocation: segment -> arm -> overall probability (the propensity) and
    # segment -> arm -> bandit split. Debtors of a segment not listed get ``weights``.
    segment_weights: dict[str, dict[str, float]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    segment_bandit_weights: dict[str, dict[str, float]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    # Arms stopped by a guardrail breach: 0 traffic in this and every later version (the
    # bandit's updates keep them out) until a rollback restores an earlier version.
    stopped_arms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    seed: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    matured_units: int = 0
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class Assignment(SQLModel, table=True):
    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("experiment_key", "debtor_id"),
        # Covers the daily aggregation (queries.outcome_cells): SQLite reads the index alone.
        Index(
            "ix_assignment_outcomes",
            "experiment_key",
            "assigned_at",
            "arm",
            "pay_due_at",
            "paid_at",
            "churn_due_at",
            "churned_at",
            "collected",
        ),
        Index("ix_assignment_debtor", "debtor_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experiment_key: str = Field(max_length=64)
    debtor_id: str = Field(max_length=128)
    arm: str = Field(max_length=64)
    propensity: float
    experiment_version: int
    allocation_version: int
    segment: str | None = Field(default=None, max_length=64)
    amount_owed: float | None = None
    holdout: bool = False  # in the randomized holdout: gets the champion, never trains the bandit
    reason: str | None = Field(default=None, max_length=200)  # why not the drawn arm (compliance)
    # A contact rule bound for the debtor at assignment (quiet hours, contact cap): whatever arm
    # they drew, they could only get a non-contacting one, so they are not part of the
    # randomised comparison (engine.stats.comparison) nor of the sample-ratio check.
    constrained: bool = False
    # Experiments with a router arm: the treatment applied (the arm itself for a plain arm; the
    # routed arm for a router) and its probability for this debtor (see engine.drawing). The
    # arm stays the unit of the experiment's statistics; NULL in experiments without routers.
    treatment: str | None = Field(default=None, max_length=64)
    # Cost of the treatment given (the arm's, or the routed treatment's), from the experiment
    # version in force at assignment.
    treatment_cost: float = 0.0
    treatment_propensity: float | None = None
    assigned_at: datetime
    pay_due_at: datetime  # assigned_at + pay window: the payment outcome is mature after this
    churn_due_at: datetime  # assigned_at + churn horizon
    # Outcomes derived from outcome_event (see queries.refresh_outcomes); never set by hand.
    # Materialised so the daily update scans one table instead of joining every event again.
    paid_at: datetime | None = None  # first payment at or after assignment
    collected: float = 0.0  # payments within the pay window
    churned_at: datetime | None = None  # first churn at or after assignment
    reminders: int = 0
    collection_cases: int = 0
    inquiries: int = 0


class DunningCase(SQLModel, table=True):
    """One case of a customer in an experiment with ``unit.case``.

    The customer's ``assignment`` row (created by the first case) holds the arm and the
    propensity; a case copies the arm so that per-case outcomes aggregate by arm without a join.
    Outcome columns follow the matching rule of ``engine.store.queries.cases``: derived, never
    set by hand.
    """

    __tablename__ = "dunning_case"
    __table_args__ = (
        UniqueConstraint("experiment_key", "case_id"),
        # The customer's cases in order: the next case's entry time and the event matching.
        Index("ix_case_debtor_opened", "experiment_key", "debtor_id", "opened_at"),
        # Events know their debtor, not the experiment: the outcome refresh of the debtors
        # with new events, and the check of an event's case id, start from the debtor.
        Index("ix_case_debtor", "debtor_id", "case_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experiment_key: str = Field(max_length=64)
    case_id: str = Field(max_length=128)
    debtor_id: str = Field(max_length=128)
    arm: str = Field(max_length=64)  # the customer's sticky arm, copied at insert
    opened_at: datetime  # the as-of of the assign run that brought the case: its entry time
    pay_due_at: datetime  # opened_at + pay window
    amount_owed: float | None = None
    paid_at: datetime | None = None  # first matched payment at or after opened_at
    collected: float = 0.0  # matched payments up to pay_due_at
    reminders: int = 0
    collection_cases: int = 0
    # opened_at of the same customer's next case in this experiment (late_again reads it).
    next_opened_at: datetime | None = None


class OutcomeEvent(SQLModel, table=True):
    __tablename__ = "outcome_event"
    __table_args__ = (Index("ix_event_debtor_kind_time", "debtor_id", "kind", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128, unique=True)
    debtor_id: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    amount: float | None = None
    occurred_at: datetime
    ingested_at: datetime
    # The case the event names (events file column ``case_id``); NULL: matched by time.
    case_id: str | None = Field(default=None, max_length=128)


class PromotionAudit(SQLModel, table=True):
    __tablename__ = "promotion"

    id: int | None = Field(default=None, primary_key=True)
    experiment_key: str = Field(max_length=64, index=True)
    experiment_version: int
    decided_at: datetime
    # promote | continue | stop_arm | inconclusive | rollback | status
    action: str = Field(max_length=16)
    reason: str = Field(max_length=32)
    champion_before: str = Field(max_length=64)
    champion_after: str = Field(max_length=64)
    allocation_version: int | None = None  # the allocation the decision created
    seed: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    dry_run: bool = False
    rule: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    numbers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    explanation: str = Field(sa_column=Column(Text, nullable=False))


class CellSnapshot(SQLModel, table=True):
    """The outcome cells of an experiment as the scheduled cycle left them: a derived read
    model (not a fact), so it is replaced, never appended to. One row per experiment.

    The dashboard reads it instead of scanning every assignment when nothing was written since
    (``last_assignment_id`` and ``last_event_id`` are still the newest ids: every write of an
    assignment or of its outcomes adds one of them) and it asks for the same ``as_of`` and
    definition epoch; otherwise it aggregates the assignments as before.
    """

    __tablename__ = "cell_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    experiment_key: str = Field(max_length=64, unique=True)
    as_of: datetime
    min_experiment_version: int | None = None
    last_assignment_id: int = 0
    last_event_id: int = 0
    assigned: int = 0  # every assignment of the experiment (the overview's count)
    #: The distinct segments of every assignment (the analysis' segment filter).
    segments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: The names of ``ArmTotals``' fields, in the order of each cell's ``totals``; a snapshot
    #: of another field list (an older engine) is not used.
    fields: list[str] = Field(sa_column=Column(JSON, nullable=False))
    #: [arm, allocation_version, segment, holdout, constrained, due day, [totals...]] per cell,
    #: split by allocation period, segment, holdout and the day the pay window closes (every
    #: coarser read sums them); ``churn_cells`` the same by the day the churn horizon closes.
    cells: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    churn_cells: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: [UTC day, arm, debtors assigned] (the traffic chart and today's volume).
    traffic: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: [arm, first pay due, first churn due] (ISO times) per arm.
    maturity: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime
