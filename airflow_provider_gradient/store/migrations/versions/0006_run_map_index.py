"""runs: map_index (the Airflow map index of the task instance, so its Gradient tab finds the run of that
mapped instance), and an index on (project, DAG run id) for that lookup

Revision ID: 0006_run_map_index
Revises: 0005_run_pricing_region_unknown
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_run_map_index"
down_revision = "0005_run_pricing_region_unknown"
branch_labels = None
depends_on = None

# Plain ALTER TABLE (no batch "move and copy" on SQLite, see 0003).


def upgrade() -> None:
    op.add_column("gradient_runs", sa.Column("map_index", sa.Integer(), nullable=True))
    op.create_index("ix_gradient_runs_project_airflow_run", "gradient_runs", ["project_id", "airflow_run_id"])


def downgrade() -> None:
    op.drop_index("ix_gradient_runs_project_airflow_run", table_name="gradient_runs")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE gradient_runs DROP COLUMN map_index")
    else:
        op.drop_column("gradient_runs", "map_index")
