"""Dunning cases: a customer late again is a new case with the customer's arm and its own
outcomes (``dunning_case``), and an event may name its case (``outcome_event.case_id``).

Only experiments with ``unit: {customer, case}`` write cases; every stored row stays as it
is (the new column is NULL for the events already ingested: they match by time).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dunning_case",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_key", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("debtor_id", sa.String(length=128), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("pay_due_at", UTC_TIME, nullable=False),
        sa.Column("amount_owed", sa.Float(), nullable=True),
        sa.Column("paid_at", UTC_TIME, nullable=True),
        sa.Column("collected", sa.Float(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("collection_cases", sa.Integer(), nullable=False),
        sa.Column("next_opened_at", UTC_TIME, nullable=True),
        sa.UniqueConstraint("experiment_key", "case_id"),
    )
    op.create_index(
        "ix_case_debtor_opened", "dunning_case", ["experiment_key", "debtor_id", "opened_at"]
    )
    op.create_index("ix_case_debtor", "dunning_case", ["debtor_id", "case_id"])
    with op.batch_alter_table("outcome_event") as batch:
        batch.add_column(sa.Column("case_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outcome_event") as batch:
        batch.drop_column("case_id")
    op.drop_index("ix_case_debtor", table_name="dunning_case")
    op.drop_index("ix_case_debtor_opened", table_name="dunning_case")
    op.drop_table("dunning_case")
