"""The tables as the engine created them before it had migrations.

A database created by ``create_all`` of that version (no ``alembic_version`` table) has
exactly this layout: ``dunning db upgrade`` stamps it 0001 and upgrades it from there.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("experiment_version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("champion", sa.String(length=64), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("p_best", sa.JSON(), nullable=False),
        sa.Column("bandit_weights", sa.JSON(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("segment_weights", sa.JSON(), nullable=False),
        sa.Column("segment_bandit_weights", sa.JSON(), nullable=False),
        sa.Column("stopped_arms", sa.JSON(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("matured_units", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("experiment_key", "version"),
    )
    op.create_index("ix_allocation_experiment_key", "allocation", ["experiment_key"])

    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_key", sa.String(length=64), nullable=False),
        sa.Column("debtor_id", sa.String(length=128), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("experiment_version", sa.Integer(), nullable=False),
        sa.Column("allocation_version", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=True),
        sa.Column("amount_owed", sa.Float(), nullable=True),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("constrained", sa.Boolean(), nullable=False),
        sa.Column("treatment", sa.String(length=64), nullable=True),
        sa.Column("treatment_cost", sa.Float(), nullable=False),
        sa.Column("treatment_propensity", sa.Float(), nullable=True),
        sa.Column("assigned_at", UTC_TIME, nullable=False),
        sa.Column("pay_due_at", UTC_TIME, nullable=False),
        sa.Column("churn_due_at", UTC_TIME, nullable=False),
        sa.Column("paid_at", UTC_TIME, nullable=True),
        sa.Column("collected", sa.Float(), nullable=False),
        sa.Column("churned_at", UTC_TIME, nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("collection_cases", sa.Integer(), nullable=False),
        sa.Column("inquiries", sa.Integer(), nullable=False),
        sa.UniqueConstraint("experiment_key", "debtor_id"),
    )
    op.create_index("ix_assignment_debtor", "assignment", ["debtor_id"])
    op.create_index(
        "ix_assignment_outcomes",
        "assignment",
        [
            "experiment_key",
            "assigned_at",
            "arm",
            "pay_due_at",
            "paid_at",
            "churn_due_at",
            "churned_at",
            "collected",
        ],
    )

    op.create_table(
        "experiment_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("source_yaml", sa.Text(), nullable=False),
        sa.Column("source_path", sa.String(), nullable=True),
        sa.Column("forced", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("experiment_key", "version"),
        sa.UniqueConstraint("experiment_key", "content_hash"),
    )
    op.create_index(
        "ix_experiment_version_experiment_key", "experiment_version", ["experiment_key"]
    )

    op.create_table(
        "outcome_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("debtor_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("ingested_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        "ix_event_debtor_kind_time", "outcome_event", ["debtor_id", "kind", "occurred_at"]
    )

    op.create_table(
        "promotion",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_key", sa.String(length=64), nullable=False),
        sa.Column("experiment_version", sa.Integer(), nullable=False),
        sa.Column("decided_at", UTC_TIME, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("champion_before", sa.String(length=64), nullable=False),
        sa.Column("champion_after", sa.String(length=64), nullable=False),
        sa.Column("allocation_version", sa.Integer(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
    )
    op.create_index("ix_promotion_experiment_key", "promotion", ["experiment_key"])


def downgrade() -> None:
    for table in ("promotion", "outcome_event", "experiment_version", "assignment", "allocation"):
        op.drop_table(table)
