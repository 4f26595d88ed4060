"""runs: pricing (what each run's cost was computed from: cloud, region, plan, compute type, Photon);
projects: region may be NULL (= not known) instead of a made-up us-east-1

Revision ID: 0005_run_pricing_region_unknown
Revises: 0004_run_next_recommendation
Create Date: 2026-12-06
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0005_run_pricing_region_unknown"
down_revision = "0004_run_next_recommendation"
branch_labels = None
depends_on = None

# SQLite cannot ALTER a column's NOT NULL, and the batch "move and copy" would drop gradient_projects, which with
# foreign keys on cascades to every run and recommendation (see 0003). SQLite documents a safe way to remove (or,
# once no row breaks it, restore) a NOT NULL constraint: edit the table's CREATE statement in sqlite_schema with
# writable_schema and bump schema_version, in the same transaction (https://www.sqlite.org/lang_altertable.html,
# section 7). Rows are not touched.
_REGION = re.compile(r'("?region"?\s+VARCHAR\(64\))(\s+NOT\s+NULL)?', re.IGNORECASE)


def _sqlite_region_not_null(not_null: bool) -> None:
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'gradient_projects'"
    ).scalar_one()
    new, n = _REGION.subn(lambda m: m.group(1) + (" NOT NULL" if not_null else ""), sql, count=1)
    if n != 1:
        raise RuntimeError(f"gradient_projects has no region VARCHAR(64) column to change: {sql}")
    if new == sql:
        return
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'gradient_projects'", (new,)
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.add_column("gradient_runs", sa.Column("pricing", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_region_not_null(False)
    else:
        op.alter_column("gradient_projects", "region", existing_type=sa.String(length=64), nullable=True)
    # '' is no region: what a downgrade wrote for an unknown one
    op.execute("UPDATE gradient_projects SET region = NULL WHERE region = ''")


def downgrade() -> None:
    # the old schema needs a region: an unknown one becomes '' (still visibly unknown), never a made-up region
    op.execute("UPDATE gradient_projects SET region = '' WHERE region IS NULL")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_region_not_null(True)
        op.execute("ALTER TABLE gradient_runs DROP COLUMN pricing")
    else:
        op.alter_column("gradient_projects", "region", existing_type=sa.String(length=64), nullable=False)
        op.drop_column("gradient_runs", "pricing")
