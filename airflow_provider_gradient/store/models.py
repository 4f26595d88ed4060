"""SQLAlchemy 2 models of the Gradient store: Workspace, Project, Run, Recommendation.

Times are epoch milliseconds (``*_ms``), money USD floats, sizes bytes. JSON columns hold plain
JSON-safe dicts. No secret is ever stored here (Databricks/cloud credentials stay in Airflow connections;
Spark properties are redacted by the service before they reach a row).

Any change here needs a new Alembic revision under ``store/migrations/versions`` (a unit test compares
these models with the migrations).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Deterministic constraint names (needed for portable migrations, SQLite batch mode included).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CLOUDS = ("aws", "azure", "gcp")
PHASES = ("learning", "optimizing")
OUTCOMES = ("success", "failed", "oom", "cancelled", "timeout")
LOG_STATUSES = ("complete", "incomplete", "missing", "pending")
REC_STATES = ("pending", "ready", "applied", "superseded", "failed")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class WorkspaceRow(Base):
    """A Databricks workspace (no credentials: those live in the Airflow ``databricks`` connection)."""

    __tablename__ = "gradient_workspaces"
    __table_args__ = (CheckConstraint(_in("cloud", CLOUDS), name="cloud"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(250), nullable=False, unique=True)
    host: Mapped[str | None] = mapped_column(String(500))
    cloud: Mapped[str] = mapped_column(String(16), nullable=False, default="aws")
    region: Mapped[str | None] = mapped_column(String(64))
    plan_type: Mapped[str] = mapped_column(String(32), nullable=False, default="Premium")
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ProjectRow(Base):
    """One optimised Databricks task (keyed by its app id, default ``<dag_id>.<task_id>``)."""

    __tablename__ = "gradient_projects"
    __table_args__ = (
        CheckConstraint(_in("cloud", CLOUDS), name="cloud"),
        CheckConstraint(_in("phase", PHASES), name="phase"),
        CheckConstraint("sla_minutes IS NULL OR sla_minutes > 0", name="sla_positive"),
        CheckConstraint(
            "max_workers IS NULL OR (max_workers >= 1 AND max_workers <= 10000)", name="max_workers"
        ),
        CheckConstraint("learning_runs >= 1", name="learning_runs"),
        Index("ix_gradient_projects_dag_id", "dag_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(String(500), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("gradient_workspaces.id", ondelete="SET NULL"), nullable=True
    )
    cloud: Mapped[str] = mapped_column(String(16), nullable=False, default="aws")
    #: None = not known (never a made-up default: runs are priced in the region their cluster reports)
    region: Mapped[str | None] = mapped_column(String(64))
    plan_type: Mapped[str] = mapped_column(String(32), nullable=False, default="Premium")
    compute_type: Mapped[str] = mapped_column(String(32), nullable=False, default="jobs")
    # settings
    sla_minutes: Mapped[float | None] = mapped_column(Float)
    auto_apply: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    maintain_scaling_type: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    optimize_instance_size: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    allowed_families: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    force_on_demand: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    allow_arm: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    max_workers: Mapped[int | None] = mapped_column(Integer)
    window_start: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" UTC
    window_end: Mapped[str | None] = mapped_column(String(5))
    learning_runs: Mapped[int] = mapped_column(Integer, nullable=False, default=4)
    cluster_log_url: Mapped[str | None] = mapped_column(String(1000))
    # state
    phase: Mapped[str] = mapped_column(String(16), nullable=False, default="learning")
    baseline_cluster: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    task_id: Mapped[str | None] = mapped_column(String(250))
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_run_ms: Mapped[int | None] = mapped_column(BigInteger)


class RunRow(Base):
    """One Databricks run of a project (idempotent on ``(project_id, databricks_run_id)``)."""

    __tablename__ = "gradient_runs"
    __table_args__ = (
        UniqueConstraint("project_id", "databricks_run_id"),
        CheckConstraint(_in("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(_in("log_status", LOG_STATUSES), name="log_status"),
        Index("ix_gradient_runs_project_time", "project_id", "start_ms"),
        Index("ix_gradient_runs_project_airflow_run", "project_id", "airflow_run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("gradient_projects.id", ondelete="CASCADE"), nullable=False
    )
    databricks_run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    task_key: Mapped[str | None] = mapped_column(String(250))
    cluster_id: Mapped[str | None] = mapped_column(String(100))
    cluster_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    start_ms: Mapped[int | None] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    failure_message: Mapped[str | None] = mapped_column(Text)
    input_bytes: Mapped[int | None] = mapped_column(BigInteger)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cost_cloud_usd: Mapped[float | None] = mapped_column(Float)
    cost_dbu_usd: Mapped[float | None] = mapped_column(Float)
    cost_storage_usd: Mapped[float | None] = mapped_column(Float)
    cost_total_usd: Mapped[float | None] = mapped_column(Float)
    cost_low_usd: Mapped[float | None] = mapped_column(Float)
    cost_high_usd: Mapped[float | None] = mapped_column(Float)
    #: what the cost was computed from (service ``RunPricing``: cloud, region, plan, compute type, Photon)
    pricing: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # None: SQL NULL
    recommendation_id: Mapped[int | None] = mapped_column(
        ForeignKey("gradient_recommendations.id", ondelete="SET NULL")
    )
    #: the recommendation generated after recording this run: a retried record returns it (no second one).
    #: No foreign key: SQLite cannot drop such a column in place (downgrade); recommendations are only deleted
    #: with the runs of their project.
    next_recommendation_id: Mapped[int | None] = mapped_column(Integer)
    log_status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    log_reason: Mapped[str | None] = mapped_column(Text)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    task_id: Mapped[str | None] = mapped_column(String(250))
    airflow_run_id: Mapped[str | None] = mapped_column(String(250))
    try_number: Mapped[int | None] = mapped_column(Integer)
    #: Airflow map index of the task instance (-1: not mapped; None: not recorded)
    map_index: Mapped[int | None] = mapped_column(Integer)
    #: logical date (epoch ms) of the Airflow DAG run that submitted this run: the DAG's schedule
    logical_ms: Mapped[int | None] = mapped_column(BigInteger)
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)


class RecommendationRow(Base):
    """A recommended cluster for a project's next run."""

    __tablename__ = "gradient_recommendations"
    __table_args__ = (
        CheckConstraint(_in("state", REC_STATES), name="state"),
        CheckConstraint(_in("phase", PHASES), name="phase"),
        # "latest recommendation of a project in a state"
        Index("ix_gradient_recommendations_project_state", "project_id", "state", "id"),
        # at most one ready recommendation per project, enforced by the database itself
        Index(
            "uq_gradient_recommendations_one_ready",
            "project_id",
            unique=True,
            sqlite_where=text("state = 'ready'"),
            postgresql_where=text("state = 'ready'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("gradient_projects.id", ondelete="CASCADE"), nullable=False
    )
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False)
    learning_iteration: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    learning_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cluster: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    predicted_runtime_s: Mapped[float | None] = mapped_column(Float)
    runtime_low_s: Mapped[float | None] = mapped_column(Float)
    runtime_high_s: Mapped[float | None] = mapped_column(Float)
    predicted_cost_usd: Mapped[float | None] = mapped_column(Float)
    cost_low_usd: Mapped[float | None] = mapped_column(Float)
    cost_high_usd: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="ready")
    applied_ms: Mapped[int | None] = mapped_column(BigInteger)
    applied_to_run: Mapped[int | None] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
