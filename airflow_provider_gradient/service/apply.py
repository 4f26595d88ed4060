"""The loop's apply step as a use case over a :class:`~airflow_provider_gradient.service.client.GradientClient`.

:func:`plan_apply` resolves one project per cluster of a submit payload, picks the recommendation each
project's next run uses (:func:`choose_recommendation`: co-pilot Apply, auto-apply, optimisation window)
and merges it, Gradient's tags and a log destination into the payload (pure merge:
:mod:`~airflow_provider_gradient.core.cluster_merge`). No Airflow: the operators, the pre_execute hooks and
the run-now hook read the task, call this, and write the result back.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from airflow_provider_gradient.core.cluster_merge import ClusterPatch, apply_patches, gradient_tags
from airflow_provider_gradient.core.payload import find_clusters, get_cluster
from airflow_provider_gradient.core.window import describe_window, in_window
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.errors import GradientValidationError
from airflow_provider_gradient.service.schemas import (
    ApplyChoiceIn,
    Project,
    ProjectIn,
    ProjectSettingsIn,
    Recommendation,
)


@dataclass
class AppliedCluster:
    """What the apply step did to one cluster (kept on the task object for the record step)."""

    slot_id: str
    app_id: str
    project_id: int
    recommendation_id: int | None
    cluster: dict[str, Any]
    note: str = ""


@dataclass(frozen=True)
class ApplyPlan:
    """The payload to submit and, per cluster slot, what was applied."""

    payload: dict[str, Any]
    clusters: dict[str, AppliedCluster] = field(default_factory=dict)


def choose_recommendation(
    client: GradientClient, project: Project, now: dt.datetime
) -> tuple[Recommendation | None, str]:
    """The recommendation the next run of ``project`` uses, and why (for the task log).

    The project's *current* cluster is the recommendation applied last (by a run, or approved by a user
    with Apply in the CLI, the REST API or the page: co-pilot mode); none means the task's own cluster.
    With auto-apply on, a newer *ready* recommendation replaces it, but only inside the optimisation
    window (UTC, see :mod:`~airflow_provider_gradient.core.window`); outside it the current cluster runs.
    An applied recommendation whose run failed (e.g. out of memory) is not the current cluster any more: the
    one applied before it whose run did not fail is, else the task's own cluster (the log says why). A
    cancelled run (a user, or Airflow killing or timing out the task) says nothing about its cluster: it stays.
    """
    current = client.latest_recommendation(project.id, state="applied")
    failed = ""
    outcome = current.failed_run_outcome if current is not None else None
    if current is not None and outcome is not None:
        # the run that used it failed (e.g. out of memory): never run that cluster again by default; the one
        # applied before it whose run did not fail, else the task's own cluster
        what = "failed" if outcome == "failed" else f"failed ({outcome})"
        failed = f"recommendation {current.id} not reused: the run that used it {what}; "
        current = client.latest_recommendation(project.id, state="applied_ok")
    auto = project.settings.auto_apply
    ready = client.latest_recommendation(project.id, state="ready") if auto else None
    if ready is not None and current is not None and current.applied_to_run is None:
        # a user applied a recommendation after this one was generated: the user's choice stands
        if int(current.applied_ms or 0) >= int(ready.created_ms or 0):
            ready = None
    keep = failed + (f"recommendation {current.id} applied (the project's current cluster)"
                     if current is not None else "no recommendation applied (the task's own cluster)")
    if ready is not None:
        start, end = project.settings.window_start, project.settings.window_end
        if not in_window(start, end, now):
            return current, (f"recommendation {ready.id} not applied: outside the optimisation window "
                             f"{describe_window(start, end)} (now {now.astimezone(dt.UTC):%H:%M} UTC); {keep}")
        return ready, f"recommendation {ready.id} applied"
    if current is None and not auto:
        return None, failed + "no recommendation applied (auto-apply off and none approved with Apply)"
    return current, keep


def cluster_log_url_for(project: Project, default_template: str) -> str:
    """Log destination of a project: its ``cluster_log_url`` setting, else ``default_template``
    (``[gradient] cluster_log_url``), with ``{project_id}`` replaced."""
    template = project.settings.cluster_log_url or default_template
    return template.replace("{project_id}", str(project.id))


def plan_apply(
    client: GradientClient,
    payload: Mapping[str, Any],
    base_app_id: str,
    *,
    log_url_template: str,
    settings: ProjectSettingsIn | None = None,
    region: str | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    now: dt.datetime | None = None,
) -> ApplyPlan:
    """Resolve the project of every cluster of ``payload`` and merge the recommendation its next run uses
    (one ``client.choose_cluster`` per cluster: one REST request in http mode).

    :param base_app_id: app id of the task (a multi-cluster payload gets ``<app id>.<key>`` per cluster).
    :param log_url_template: ``[gradient] cluster_log_url`` (for clusters without a log destination).
    :param settings: settings of projects created now (SLA, auto-apply from the task).
    :param region: AWS region for an ``s3://`` log destination.
    :raises ClusterMergeError: on a malformed payload or recommendation.
    :raises GradientValidationError: a cluster of the task is not a valid one (the fields named, not its values).
    """
    patches: dict[str, ClusterPatch] = {}
    applied: dict[str, AppliedCluster] = {}
    for slot in find_clusters(payload):
        app_id = slot.app_id(base_app_id)
        try:
            choice_in = ApplyChoiceIn(
                project=ProjectIn(app_id=app_id, settings=settings, baseline_cluster=dict(get_cluster(payload, slot)),
                                  dag_id=dag_id, task_id=task_id),
                now_ms=int(now.timestamp() * 1000) if now is not None else None,
            )
        except ValidationError as exc:  # its message would quote the task's cluster (secrets): fields only
            raise GradientValidationError.from_pydantic(exc, ("project",)) from None
        choice = client.choose_cluster(choice_in)
        project, rec, note = choice.project, choice.recommendation, choice.note
        rec_id = rec.id if rec is not None else None
        patches[slot.slot_id] = ClusterPatch(
            cluster=dict(rec.cluster) if rec is not None and rec.cluster else None,
            tags=gradient_tags(project.id, app_id, rec_id),
            cluster_log_url=cluster_log_url_for(project, log_url_template),
            region=region,
        )
        applied[slot.slot_id] = AppliedCluster(slot.slot_id, app_id, project.id, rec_id, {}, note)
    merged = apply_patches(payload, patches)
    for slot in find_clusters(merged):
        if slot.slot_id in applied:
            applied[slot.slot_id].cluster = copy.deepcopy(get_cluster(merged, slot))
    return ApplyPlan(merged, applied)
