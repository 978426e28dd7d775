"""The cell snapshot: the scheduled cycle's outcome cells per experiment, read by the
dashboard while nothing was written since (``engine.store.queries.snapshots``).

A derived read model: created empty; the next ``run-cycle`` fills it, and until then every
page aggregates the assignments as before.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cell_snapshot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_key", sa.String(length=64), nullable=False, unique=True),
        sa.Column("as_of", UTC_TIME, nullable=False),
        sa.Column("min_experiment_version", sa.Integer(), nullable=True),
        sa.Column("last_assignment_id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("churn_cells", sa.JSON(), nullable=False),
        sa.Column("traffic", sa.JSON(), nullable=False),
        sa.Column("maturity", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cell_snapshot")
