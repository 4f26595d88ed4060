"""projects: allow_arm (node types of another CPU architecture than the baseline's may be recommended)

Revision ID: 0003_project_allow_arm
Revises: 0002_run_logical_date
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_project_allow_arm"
down_revision = "0002_run_logical_date"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (no batch "move and copy" on SQLite): recreating gradient_projects would drop the old table,
# and with foreign keys on that cascades to every run and recommendation. SQLite >= 3.35 drops columns itself.


def upgrade() -> None:
    op.add_column("gradient_projects", sa.Column("allow_arm", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE gradient_projects DROP COLUMN allow_arm")
    else:
        op.drop_column("gradient_projects", "allow_arm")
