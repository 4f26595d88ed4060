"""ORM row -> value object conversions (the only place rows are read field by field)."""

from __future__ import annotations

from airflow_provider_gradient.service.schemas import (
    Project,
    ProjectSettings,
    Recommendation,
    Run,
    RunCost,
    RunPricing,
    Workspace,
)
from airflow_provider_gradient.store.models import ProjectRow, RecommendationRow, RunRow, WorkspaceRow


def workspace_out(row: WorkspaceRow) -> Workspace:
    return Workspace(
        id=row.id,
        name=row.name,
        host=row.host,
        cloud=row.cloud,  # type: ignore[arg-type]
        region=row.region,
        plan_type=row.plan_type,
        created_ms=row.created_ms,
    )


def settings_out(row: ProjectRow) -> ProjectSettings:
    return ProjectSettings(
        sla_minutes=row.sla_minutes,
        auto_apply=bool(row.auto_apply),
        maintain_scaling_type=bool(row.maintain_scaling_type),
        optimize_instance_size=bool(row.optimize_instance_size),
        allowed_families=tuple(row.allowed_families or ()),
        force_on_demand=bool(row.force_on_demand),
        allow_arm=bool(row.allow_arm),
        max_workers=row.max_workers,
        window_start=row.window_start,
        window_end=row.window_end,
        learning_runs=row.learning_runs,
        cluster_log_url=row.cluster_log_url,
    )


def project_out(row: ProjectRow, workspace: WorkspaceRow | None) -> Project:
    return Project(
        id=row.id,
        app_id=row.app_id,
        name=row.name,
        workspace=workspace_out(workspace) if workspace is not None else None,
        cloud=row.cloud,  # type: ignore[arg-type]
        region=row.region,
        plan_type=row.plan_type,
        compute_type=row.compute_type,
        settings=settings_out(row),
        phase=row.phase,  # type: ignore[arg-type]
        baseline_cluster=row.baseline_cluster,
        dag_id=row.dag_id,
        task_id=row.task_id,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
        last_run_ms=row.last_run_ms,
    )


def run_out(row: RunRow) -> Run:
    cost = None
    if row.cost_total_usd is not None:
        cost = RunCost(
            cloud_usd=row.cost_cloud_usd or 0.0,
            dbu_usd=row.cost_dbu_usd or 0.0,
            storage_usd=row.cost_storage_usd or 0.0,
            total_usd=row.cost_total_usd,
            low_usd=row.cost_low_usd,
            high_usd=row.cost_high_usd,
        )
    duration = None
    if row.start_ms is not None and row.end_ms is not None:
        duration = (row.end_ms - row.start_ms) / 1000.0
    return Run(
        id=row.id,
        project_id=row.project_id,
        databricks_run_id=row.databricks_run_id,
        outcome=row.outcome,  # type: ignore[arg-type]
        task_key=row.task_key,
        cluster_id=row.cluster_id,
        cluster_config=row.cluster_config,
        start_ms=row.start_ms,
        end_ms=row.end_ms,
        duration_s=duration,
        failure_message=row.failure_message,
        input_bytes=row.input_bytes,
        metrics=row.metrics,
        cost=cost,
        pricing=RunPricing.model_validate(row.pricing) if row.pricing else None,
        recommendation_id=row.recommendation_id,
        next_recommendation_id=row.next_recommendation_id,
        log_status=row.log_status,  # type: ignore[arg-type]
        log_reason=row.log_reason,
        dag_id=row.dag_id,
        task_id=row.task_id,
        airflow_run_id=row.airflow_run_id,
        try_number=row.try_number,
        map_index=row.map_index,
        logical_ms=row.logical_ms,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


def recommendation_out(row: RecommendationRow, applied_run_outcome: str | None = None) -> Recommendation:
    """:param applied_run_outcome: outcome of the run ``row`` was applied to (``row.applied_to_run``)."""
    return Recommendation(
        id=row.id,
        project_id=row.project_id,
        created_ms=row.created_ms,
        phase=row.phase,  # type: ignore[arg-type]
        learning_iteration=row.learning_iteration,
        learning_total=row.learning_total,
        cluster=row.cluster,
        predicted_runtime_s=row.predicted_runtime_s,
        runtime_low_s=row.runtime_low_s,
        runtime_high_s=row.runtime_high_s,
        predicted_cost_usd=row.predicted_cost_usd,
        cost_low_usd=row.cost_low_usd,
        cost_high_usd=row.cost_high_usd,
        reason=row.reason,
        state=row.state,  # type: ignore[arg-type]
        applied_ms=row.applied_ms,
        applied_to_run=row.applied_to_run,
        updated_ms=row.updated_ms,
        applied_run_outcome=applied_run_outcome,  # type: ignore[arg-type]
    )
