"""runs: next_recommendation_id (the recommendation generated after recording the run; a retried record
returns it instead of generating a second one)

Revision ID: 0004_run_next_recommendation
Revises: 0003_project_allow_arm
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_run_next_recommendation"
down_revision = "0003_project_allow_arm"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (no batch "move and copy" on SQLite, see 0003), and no foreign key: SQLite cannot drop a
# column that is part of one.


def upgrade() -> None:
    op.add_column("gradient_runs", sa.Column("next_recommendation_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE gradient_runs DROP COLUMN next_recommendation_id")
    else:
        op.drop_column("gradient_runs", "next_recommendation_id")
