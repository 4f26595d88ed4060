"""runs: the Airflow logical date of the DAG run that submitted the run (ROI projects from the schedule)

Revision ID: 0002_run_logical_date
Revises: 0001_initial
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_run_logical_date"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gradient_runs") as batch:
        batch.add_column(sa.Column("logical_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gradient_runs") as batch:
        batch.drop_column("logical_ms")
