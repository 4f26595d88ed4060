"""initial Gradient store: workspaces, projects, recommendations, runs

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

CLOUDS = "cloud IN ('aws', 'azure', 'gcp')"
PHASES = "phase IN ('learning', 'optimizing')"


def upgrade() -> None:
    op.create_table(
        "gradient_workspaces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("host", sa.String(length=500), nullable=True),
        sa.Column("cloud", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("plan_type", sa.String(length=32), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(CLOUDS, name="ck_gradient_workspaces_cloud"),
        sa.PrimaryKeyConstraint("id", name="pk_gradient_workspaces"),
        sa.UniqueConstraint("name", name="uq_gradient_workspaces_name"),
    )
    op.create_table(
        "gradient_projects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("app_id", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=True),
        sa.Column("cloud", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("plan_type", sa.String(length=32), nullable=False),
        sa.Column("compute_type", sa.String(length=32), nullable=False),
        sa.Column("sla_minutes", sa.Float(), nullable=True),
        sa.Column("auto_apply", sa.Boolean(), nullable=False),
        sa.Column("maintain_scaling_type", sa.Boolean(), nullable=False),
        sa.Column("optimize_instance_size", sa.Boolean(), nullable=False),
        sa.Column("allowed_families", sa.JSON(), nullable=False),
        sa.Column("force_on_demand", sa.Boolean(), nullable=False),
        sa.Column("max_workers", sa.Integer(), nullable=True),
        sa.Column("window_start", sa.String(length=5), nullable=True),
        sa.Column("window_end", sa.String(length=5), nullable=True),
        sa.Column("learning_runs", sa.Integer(), nullable=False),
        sa.Column("cluster_log_url", sa.String(length=1000), nullable=True),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("baseline_cluster", sa.JSON(), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.Column("task_id", sa.String(length=250), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_run_ms", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(CLOUDS, name="ck_gradient_projects_cloud"),
        sa.CheckConstraint(PHASES, name="ck_gradient_projects_phase"),
        sa.CheckConstraint("sla_minutes IS NULL OR sla_minutes > 0", name="ck_gradient_projects_sla_positive"),
        sa.CheckConstraint(
            "max_workers IS NULL OR (max_workers >= 1 AND max_workers <= 10000)",
            name="ck_gradient_projects_max_workers",
        ),
        sa.CheckConstraint("learning_runs >= 1", name="ck_gradient_projects_learning_runs"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["gradient_workspaces.id"],
            name="fk_gradient_projects_workspace_id_gradient_workspaces",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_gradient_projects"),
        sa.UniqueConstraint("app_id", name="uq_gradient_projects_app_id"),
    )
    op.create_index("ix_gradient_projects_dag_id", "gradient_projects", ["dag_id"])
    op.create_table(
        "gradient_recommendations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("learning_iteration", sa.Integer(), nullable=False),
        sa.Column("learning_total", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.JSON(), nullable=False),
        sa.Column("predicted_runtime_s", sa.Float(), nullable=True),
        sa.Column("runtime_low_s", sa.Float(), nullable=True),
        sa.Column("runtime_high_s", sa.Float(), nullable=True),
        sa.Column("predicted_cost_usd", sa.Float(), nullable=True),
        sa.Column("cost_low_usd", sa.Float(), nullable=True),
        sa.Column("cost_high_usd", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("applied_ms", sa.BigInteger(), nullable=True),
        sa.Column("applied_to_run", sa.BigInteger(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'ready', 'applied', 'superseded', 'failed')",
            name="ck_gradient_recommendations_state",
        ),
        sa.CheckConstraint(PHASES, name="ck_gradient_recommendations_phase"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["gradient_projects.id"],
            name="fk_gradient_recommendations_project_id_gradient_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_gradient_recommendations"),
    )
    op.create_index(
        "ix_gradient_recommendations_project_state", "gradient_recommendations", ["project_id", "state", "id"]
    )
    op.create_index(
        "uq_gradient_recommendations_one_ready",
        "gradient_recommendations",
        ["project_id"],
        unique=True,
        sqlite_where=sa.text("state = 'ready'"),
        postgresql_where=sa.text("state = 'ready'"),
    )
    op.create_table(
        "gradient_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("databricks_run_id", sa.BigInteger(), nullable=False),
        sa.Column("task_key", sa.String(length=250), nullable=True),
        sa.Column("cluster_id", sa.String(length=100), nullable=True),
        sa.Column("cluster_config", sa.JSON(), nullable=True),
        sa.Column("start_ms", sa.BigInteger(), nullable=True),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("input_bytes", sa.BigInteger(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("cost_cloud_usd", sa.Float(), nullable=True),
        sa.Column("cost_dbu_usd", sa.Float(), nullable=True),
        sa.Column("cost_storage_usd", sa.Float(), nullable=True),
        sa.Column("cost_total_usd", sa.Float(), nullable=True),
        sa.Column("cost_low_usd", sa.Float(), nullable=True),
        sa.Column("cost_high_usd", sa.Float(), nullable=True),
        sa.Column("recommendation_id", sa.Integer(), nullable=True),
        sa.Column("log_status", sa.String(length=16), nullable=False),
        sa.Column("log_reason", sa.Text(), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.Column("task_id", sa.String(length=250), nullable=True),
        sa.Column("airflow_run_id", sa.String(length=250), nullable=True),
        sa.Column("try_number", sa.Integer(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('success', 'failed', 'oom', 'cancelled', 'timeout')", name="ck_gradient_runs_outcome"
        ),
        sa.CheckConstraint(
            "log_status IN ('complete', 'incomplete', 'missing', 'pending')", name="ck_gradient_runs_log_status"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["gradient_projects.id"],
            name="fk_gradient_runs_project_id_gradient_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["gradient_recommendations.id"],
            name="fk_gradient_runs_recommendation_id_gradient_recommendations",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_gradient_runs"),
        sa.UniqueConstraint("project_id", "databricks_run_id", name="uq_gradient_runs_project_id_databricks_run_id"),
    )
    op.create_index("ix_gradient_runs_project_time", "gradient_runs", ["project_id", "start_ms"])


def downgrade() -> None:
    op.drop_index("ix_gradient_runs_project_time", table_name="gradient_runs")
    op.drop_table("gradient_runs")
    op.drop_index("uq_gradient_recommendations_one_ready", table_name="gradient_recommendations")
    op.drop_index("ix_gradient_recommendations_project_state", table_name="gradient_recommendations")
    op.drop_table("gradient_recommendations")
    op.drop_index("ix_gradient_projects_dag_id", table_name="gradient_projects")
    op.drop_table("gradient_projects")
    op.drop_table("gradient_workspaces")
