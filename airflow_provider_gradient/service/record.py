"""The loop's record step as a use case over a :class:`~airflow_provider_gradient.service.client.GradientClient`.

The collectors (``hooks/collectors``) gather a :class:`~airflow_provider_gradient.service.collected.CollectedRun`
per cluster. Here each one is priced and turned into a ``RunIn`` (:func:`~airflow_provider_gradient.service.
ingest.to_run_in`) and handed to ``client.record_and_recommend`` -- record, mark applied, recommend: one call
per cluster (one REST request in http mode). No Airflow.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_gradient.core.payload import TaggedIds
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.collected import CollectedRun
from airflow_provider_gradient.service.ingest import to_run_in
from airflow_provider_gradient.service.run_cost import run_region
from airflow_provider_gradient.service.schemas import (
    CONNECTION_REGION,
    PROJECT_REGION,
    SETTINGS_REGION,
    Project,
    Recommendation,
    Run,
)
from airflow_provider_gradient.settings import GradientSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordResult:
    """What recording one cluster's run produced (``error`` set when it was not recorded)."""

    slot_id: str
    project_id: int | None
    run: Run | None
    cost_usd: float | None
    error: str | None = None
    next_recommendation_id: int | None = None
    project: Project | None = None
    recommendation: Recommendation | None = None


def project_ids(
    client: GradientClient,
    tags: Sequence[TaggedIds],
    base_app_id: str,
    *,
    dag_id: str | None = None,
    task_id: str | None = None,
) -> dict[str, int]:
    """The project of each submitted cluster: the one Gradient's tags name
    (:func:`~airflow_provider_gradient.core.payload.tagged_ids`), else (a cluster Gradient did not prepare) the
    project of ``<app id>[.<key>]``, created if absent.

    :return: project id by slot id.
    """
    projects: dict[str, int] = {}
    for ids in tags:
        pid = ids.project_id
        if pid is None:
            pid = client.get_or_create_project(ids.slot.app_id(base_app_id), dag_id=dag_id, task_id=task_id).id
        projects[ids.slot.slot_id] = pid
    return projects


def record_clusters(
    client: GradientClient,
    collected: Mapping[str, CollectedRun],
    tags: Sequence[TaggedIds],
    *,
    base_app_id: str,
    settings: GradientSettings,
    dag_id: str | None = None,
    task_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
    workspace_region: str | None = None,
) -> list[RecordResult]:
    """Record the collected runs of the submitted clusters (``tags``: their Gradient ids): the project of each
    cluster (:func:`project_ids`), then :func:`record_collected` with the ``[gradient]`` cloud, region, plan and
    price catalog. Raises when a project cannot be resolved; a run that cannot be recorded is an error result.

    :param workspace_region: the region the Databricks connection names (its ``region`` extra), if any.
    """
    projects = project_ids(client, tags, base_app_id, dag_id=dag_id, task_id=task_id)
    return record_collected(
        client,
        collected,
        projects,
        cloud=settings.cloud,
        region=settings.region,
        plan=settings.plan_type,
        price_catalog=settings.price_catalog,
        extra=extra,
        workspace_region=workspace_region,
    )


def record_collected(
    client: GradientClient,
    collected: Mapping[str, CollectedRun],
    project_ids: Mapping[str, int],
    *,
    cloud: str,
    region: str | None,
    plan: str = "Premium",
    price_catalog: str | None = None,
    extra: Mapping[str, Any] | None = None,
    recommend: bool = True,
    workspace_region: str | None = None,
) -> list[RecordResult]:
    """Price each collected run and record it with its project, marking its recommendation applied and
    generating the next one (``client.record_and_recommend``).

    :param region: ``[gradient] region``. A run is priced in the region its cluster reports; else the one the
        Databricks connection names (``workspace_region``), else the project's (one more call), else this one;
        none known -> the run is recorded unpriced.
    :param workspace_region: the ``region`` extra of the task's Databricks connection.
    :param price_catalog: the ``[gradient] price_catalog`` override (None: the shipped catalog).

    Never raises: a failure is returned in :attr:`RecordResult.error`.
    """
    from airflow_provider_gradient.core.pricing import load_catalog

    catalog = load_catalog(price_catalog)
    results = []
    for slot_id, run in collected.items():
        pid = project_ids.get(slot_id)
        if pid is None:
            continue
        try:
            fallback, source = _fallback_region(client, pid, run, workspace_region, region)
            run_in = to_run_in(run, catalog, cloud=cloud, region=fallback, plan=plan, extra=extra, region_source=source)
            outcome = client.record_and_recommend(pid, run_in, recommend=recommend)
        except Exception as e:  # noqa: BLE001 - returned to the caller, who queues the run
            results.append(RecordResult(slot_id, pid, None, None, f"{type(e).__name__}: {e}"))
            continue
        if outcome.recommendation_error:
            log.warning("Gradient: no new recommendation for project %s: %s", pid, outcome.recommendation_error)
        rec = outcome.recommendation
        # as stored: at the project's plan (service.run_plan), which the worker may not have priced it at
        cost = outcome.run.cost.total_usd if outcome.run.cost is not None else None
        results.append(RecordResult(slot_id, pid, outcome.run, cost, None, rec.id if rec is not None else None,
                                    outcome.project, rec))
    return results


def _fallback_region(
    client: GradientClient, pid: int, run: CollectedRun, workspace_region: str | None, region: str | None
) -> tuple[str | None, str | None]:
    """(region, where from) for a run whose cluster may report none: the Databricks connection's, the project's
    (read only when needed), ``[gradient]``'s."""
    if workspace_region:
        return workspace_region, CONNECTION_REGION
    if run_region(run)[0] is None:
        project_region = client.get_project(pid).region
        if project_region:
            return project_region, PROJECT_REGION
    return region, SETTINGS_REGION if region else None
