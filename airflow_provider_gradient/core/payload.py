"""What a Databricks task submits and what it really ran on (pure: no Airflow, no I/O).

* :func:`find_clusters` / :func:`get_cluster` -- where the clusters of a payload are (``json["new_cluster"]``,
  every ``tasks[*].new_cluster``, every ``job_clusters[*].new_cluster``), :func:`log_destination` where one
  delivers its logs;
* :func:`submit_payload` -- the payload an operator builds: its ``json`` overridden by the named arguments;
* :func:`payload_fields` -- which of the operator's attributes receive a merged payload back;
* :func:`submitted_payload` / :func:`payload_from_run` -- the clusters a run really used, from ``runs/get``;
* :func:`tagged_ids` -- the project and recommendation ids read back from Gradient's custom tags.

A recommendation is merged into the clusters by :mod:`~airflow_provider_gradient.core.cluster_merge`.
"""

from __future__ import annotations

import copy
import json as jsonlib
import os.path
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

TAG_PROJECT_ID = "gradient:project-id"
TAG_RECOMMENDATION_ID = "gradient:recommendation-id"
TAG_APP_ID = "gradient:app-id"
GRADIENT_TAG_KEYS = (TAG_PROJECT_ID, TAG_RECOMMENDATION_ID, TAG_APP_ID)

ClusterKind = Literal["single", "task", "job_cluster"]


class ClusterMergeError(ValueError):
    """The payload or the recommendation is not a valid Databricks cluster definition."""


@dataclass(frozen=True, slots=True)
class ClusterSlot:
    """Where one cluster lives in a submit payload.

    :param kind: ``single`` (``json["new_cluster"]``), ``task`` or ``job_cluster``.
    :param key: ``task_key`` / ``job_cluster_key`` ("" for the single form).
    :param index: position in ``tasks`` / ``job_clusters`` (-1 for the single form).
    """

    kind: ClusterKind
    key: str
    index: int = -1

    @property
    def slot_id(self) -> str:
        """Stable name of the slot: ``new_cluster``, ``tasks/<key>`` or ``job_clusters/<key>``."""
        if self.kind == "single":
            return "new_cluster"
        return f"{'tasks' if self.kind == 'task' else 'job_clusters'}/{self.key}"

    def app_id(self, base_app_id: str) -> str:
        """Project app id of this cluster: the base id, or ``<base>.<task_key|job_cluster_key>``."""
        return base_app_id if self.kind == "single" else f"{base_app_id}.{self.key}"


def find_clusters(payload: Mapping[str, Any]) -> list[ClusterSlot]:
    """List the new clusters of a submit payload (tasks on existing clusters are skipped).

    :raises ClusterMergeError: when ``tasks``/``job_clusters`` are not lists of objects or keys are missing.
    """
    if not isinstance(payload, Mapping):
        raise ClusterMergeError(f"payload must be a JSON object, got {type(payload).__name__}")
    slots: list[ClusterSlot] = []
    if isinstance(payload.get("new_cluster"), Mapping):
        slots.append(ClusterSlot("single", ""))
    for name, kind, key_name in (("tasks", "task", "task_key"), ("job_clusters", "job_cluster", "job_cluster_key")):
        items = payload.get(name)
        if items is None:
            continue
        if not isinstance(items, Sequence) or isinstance(items, str | bytes):
            raise ClusterMergeError(f"'{name}' must be a list, got {type(items).__name__}")
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise ClusterMergeError(f"'{name}[{i}]' must be an object, got {type(item).__name__}")
            if not isinstance(item.get("new_cluster"), Mapping):
                continue
            key = item.get(key_name)
            if not isinstance(key, str) or not key:
                raise ClusterMergeError(f"'{name}[{i}]' has a new_cluster but no '{key_name}'")
            slots.append(ClusterSlot(kind, key, i))  # type: ignore[arg-type]
    return slots


def get_cluster(payload: Mapping[str, Any], slot: ClusterSlot) -> dict[str, Any]:
    """Return (a reference to) the ``new_cluster`` dict of ``slot`` in ``payload``."""
    if slot.kind == "single":
        return payload["new_cluster"]  # type: ignore[no-any-return]
    name = "tasks" if slot.kind == "task" else "job_clusters"
    return payload[name][slot.index]["new_cluster"]  # type: ignore[no-any-return]


def log_destination(cluster: Mapping[str, Any]) -> str | None:
    """The log destination URL a cluster delivers to, or None when it has no ``cluster_log_conf``."""
    conf = cluster.get("cluster_log_conf")
    if not isinstance(conf, Mapping):
        return None
    for kind in ("dbfs", "s3", "volumes"):
        dest = conf.get(kind)
        if isinstance(dest, Mapping) and isinstance(dest.get("destination"), str):
            return str(dest["destination"])
    return None


#: The operator arguments that override ``json`` when set (``DatabricksSubmitRunOperator``).
NAMED_FIELDS = ("new_cluster", "tasks")


def app_id_of(dag_id: str, task_id: str, *, explicit: Any = None, params: Any = None) -> str:
    """App id of a task's project: ``params["gradient_app_id"]``, the task's ``gradient_app_id``
    (``explicit``), else ``<dag_id>.<task_id>`` (each cluster of a multi-cluster payload: :meth:`ClusterSlot.app_id`)."""
    value = params.get("gradient_app_id") if isinstance(params, Mapping) else None
    value = value or explicit
    return str(value) if value else f"{dag_id}.{task_id}"


def cluster_keys(app_ids: Sequence[str], default_app_id: str) -> list[str | None]:
    """The ``task_key`` / ``job_cluster_key`` each project of one Airflow task is for (the inverse of
    :meth:`ClusterSlot.app_id`), None for a project of the single-cluster form or whose key is unknown.

    The base app id is ``default_app_id`` when every app id is it or starts with it and a dot; else (an
    overridden ``gradient_app_id``) the longest prefix ending in a dot that the app ids share (two or more).

    :param app_ids: the app ids of the projects of the task
    :param default_app_id: the task's default app id, ``<dag_id>.<task_id>``
    """
    if all(a == default_app_id or a.startswith(default_app_id + ".") for a in app_ids):
        base = default_app_id
    elif len(app_ids) >= 2:
        shared = os.path.commonprefix(list(app_ids))
        base = shared[: shared.rfind(".")] if "." in shared else ""
    else:
        base = ""
    if not base:
        return [None] * len(app_ids)
    return [a[len(base) + 1 :] or None if a.startswith(base + ".") else None for a in app_ids]


def coerce_json(value: Any) -> dict[str, Any]:
    """An operator's ``json`` as a dict (None -> {}, a JSON string is parsed).

    :raises TypeError: when it is not a JSON object.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        value = jsonlib.loads(value)
    if not isinstance(value, Mapping):
        raise TypeError(f"operator json must be an object, got {type(value).__name__}")
    return dict(value)


def submit_payload(json: Any, named: Mapping[str, Any]) -> dict[str, Any]:
    """The submit payload as the operator builds it: ``json`` overridden by the non-None named arguments.

    :param json: the operator's ``json`` (dict, JSON string or None).
    :param named: ``{"new_cluster": ..., "tasks": ...}`` as set on the operator (None = not set).
    """
    payload = coerce_json(json)
    for name in NAMED_FIELDS:
        if named.get(name) is not None:
            payload[name] = named[name]
    return copy.deepcopy(payload)


@dataclass(frozen=True)
class PayloadWrite:
    """Where a merged payload goes back on the operator: named arguments and/or a new ``json``."""

    named: dict[str, Any]
    json: dict[str, Any] | None


def payload_fields(json: Any, named: Mapping[str, Any], merged: Mapping[str, Any]) -> PayloadWrite:
    """Split ``merged`` into what the operator really submits: a named argument that is set receives its
    field, everything else (``job_clusters`` always) goes into ``json``.

    :param json: the operator's current ``json``.
    :param named: the operator's named arguments (None = not set).
    :param merged: the payload after Gradient's merge.
    """
    new_json = coerce_json(json)
    out_named: dict[str, Any] = {}
    touched = False
    for name in NAMED_FIELDS:
        if name not in merged:
            continue
        if named.get(name) is not None:
            out_named[name] = copy.deepcopy(merged[name])
        else:
            new_json[name] = copy.deepcopy(merged[name])
            touched = True
    if "job_clusters" in merged:
        new_json["job_clusters"] = copy.deepcopy(merged["job_clusters"])
        touched = True
    return PayloadWrite(out_named, new_json if touched else None)


def submitted_cluster(run: Mapping[str, Any], slot: ClusterSlot) -> Mapping[str, Any] | None:
    """The ``new_cluster`` ``runs/get`` reports for ``slot`` (None when it does not echo it)."""
    tasks = list(run.get("tasks") or [])
    if slot.kind == "single":
        for task in tasks:
            if isinstance(task.get("new_cluster"), Mapping):
                return task["new_cluster"]  # type: ignore[no-any-return]
        spec = (run.get("cluster_spec") or {}).get("new_cluster")
        return spec if isinstance(spec, Mapping) else None
    if slot.kind == "task":
        for task in tasks:
            if task.get("task_key") == slot.key and isinstance(task.get("new_cluster"), Mapping):
                return task["new_cluster"]  # type: ignore[no-any-return]
        return None
    for jc in run.get("job_clusters") or []:
        if jc.get("job_cluster_key") == slot.key and isinstance(jc.get("new_cluster"), Mapping):
            return jc["new_cluster"]  # type: ignore[no-any-return]
    return None


def submitted_payload(user_payload: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """``user_payload`` with each cluster replaced by the one the run really used (if echoed)."""
    out = copy.deepcopy(dict(user_payload))
    for slot in find_clusters(out):
        real = submitted_cluster(run, slot)
        if real is None:
            continue
        if slot.kind == "single":
            out["new_cluster"] = dict(real)
        else:
            name = "tasks" if slot.kind == "task" else "job_clusters"
            out[name][slot.index] = {**out[name][slot.index], "new_cluster": dict(real)}
    return out


def payload_from_run(run: Mapping[str, Any]) -> dict[str, Any]:
    """A submit-shaped payload rebuilt from ``runs/get`` (clusters filled in by :func:`submitted_payload`)."""
    tasks = [dict(t) for t in run.get("tasks") or []]
    if run.get("job_clusters") or len(tasks) > 1:
        return {"tasks": tasks, "job_clusters": [dict(j) for j in run.get("job_clusters") or []]}
    if tasks and isinstance(tasks[0].get("new_cluster"), Mapping):
        return {"new_cluster": dict(tasks[0]["new_cluster"])}
    spec = (run.get("cluster_spec") or {}).get("new_cluster")
    return {"new_cluster": dict(spec)} if isinstance(spec, Mapping) else {}


def run_payload(user_payload: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The payload a run really used: the task's own payload (or, for run-now jobs whose clusters live in
    the job, the one rebuilt from ``runs/get``) with the clusters ``runs/get`` echoes."""
    base = user_payload if find_clusters(user_payload) else payload_from_run(run)
    return submitted_payload(base, run)


@dataclass(frozen=True)
class TaggedIds:
    """Gradient's ids read back from one cluster's ``gradient:*`` custom tags (None = not tagged)."""

    slot: ClusterSlot
    project_id: int | None
    recommendation_id: int | None


def _tag(cluster: Mapping[str, Any], key: str) -> str | None:
    tags = cluster.get("custom_tags") or {}
    value = tags.get(key) if isinstance(tags, Mapping) else None
    return None if value in (None, "", "none") else str(value)


def tagged_ids(payload: Mapping[str, Any]) -> list[TaggedIds]:
    """The project / recommendation id each cluster of ``payload`` carries in its tags."""
    out = []
    for slot in find_clusters(payload):
        cluster = get_cluster(payload, slot)
        pid = _tag(cluster, TAG_PROJECT_ID)
        rid = _tag(cluster, TAG_RECOMMENDATION_ID)
        out.append(TaggedIds(
            slot,
            int(pid) if pid is not None and pid.isascii() and pid.isdigit() else None,
            int(rid) if rid is not None and rid.isascii() and rid.isdigit() else None,
        ))
    return out
