"""Merge a recommended cluster into a Databricks submit payload (pure, no Airflow, no I/O).

A submit payload (``runs/submit`` / ``jobs/update`` ``new_settings``) can hold clusters in three places:
``json["new_cluster"]`` (single-task form), every ``tasks[*].new_cluster`` and every
``job_clusters[*].new_cluster``. Each one is its own Gradient project;
:func:`~airflow_provider_gradient.core.payload.find_clusters` names them and :func:`apply_patches` merges one
:class:`ClusterPatch` per cluster.

Rules of the merge (:func:`merge_cluster`):

* dicts merge recursively, the recommendation wins on scalar conflicts, user keys it does not name stay;
* ``num_workers`` and ``autoscale`` replace each other (Databricks rejects a cluster having both);
* a recommended ``runtime_engine`` takes ``-photon-`` out of a legacy Spark version (Databricks rejects both);
* lists (``init_scripts``, ``ssh_public_keys`` ...) are unioned keeping the user's order, never duplicated;
* user ``custom_tags`` are kept, Gradient's tags overwrite only their own keys;
* clusters backed by an instance pool keep their pool: only the worker count is applied;
* applying the same patch twice gives the same result (idempotent).

Custom tag keys: AWS EC2 allows letters, digits, spaces and ``_ . : / = + - @`` in tag keys and values;
Azure forbids ``< > % & \\ ? /`` in tag names. Gradient's keys (``gradient:project-id`` ...) use only
letters, ``-`` and ``:`` and are valid on both; values are sanitised with :func:`sanitize_tag_value`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gradient.core.cluster import plain_spark_version
from airflow_provider_gradient.core.payload import (
    TAG_APP_ID,
    TAG_PROJECT_ID,
    TAG_RECOMMENDATION_ID,
    ClusterMergeError,
    find_clusters,
    get_cluster,
)
from airflow_provider_gradient.core.redact import REDACTED

#: Fields that only make sense without an instance pool (the pool fixes node types and attributes).
_POOL_LOCKED_KEYS = frozenset(
    {"node_type_id", "driver_node_type_id", "aws_attributes", "azure_attributes", "gcp_attributes"}
)
_WORKER_KEYS = ("num_workers", "autoscale")
#: Characters allowed in tag values on both AWS and Azure (conservative intersection).
_TAG_VALUE_BAD = re.compile(r"[^A-Za-z0-9 _.:=+\-@]")
MAX_TAG_VALUE_LEN = 256

@dataclass(frozen=True, slots=True)
class ClusterPatch:
    """What to do to one cluster.

    :param cluster: recommended ``new_cluster`` fields, or None to only add tags / log conf.
    :param tags: custom tags to set (Gradient's own; user tags are kept).
    :param cluster_log_url: log destination used when the cluster has no ``cluster_log_conf``.
    :param region: AWS region for an ``s3://`` log destination.
    """

    cluster: Mapping[str, Any] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    cluster_log_url: str | None = None
    region: str | None = None


def sanitize_tag_value(value: object) -> str:
    """Return ``value`` as a tag value valid on AWS and Azure (bad characters -> ``_``, ≤ 256 chars)."""
    return _TAG_VALUE_BAD.sub("_", str(value))[:MAX_TAG_VALUE_LEN]


def gradient_tags(project_id: object, app_id: str, recommendation_id: object | None) -> dict[str, str]:
    """The custom tags Gradient puts on every cluster it manages."""
    tags = {TAG_PROJECT_ID: sanitize_tag_value(project_id), TAG_APP_ID: sanitize_tag_value(app_id)}
    tags[TAG_RECOMMENDATION_ID] = "none" if recommendation_id is None else sanitize_tag_value(recommendation_id)
    return tags


def _union_list(base: list[Any], extra: Sequence[Any]) -> list[Any]:
    out = list(base)
    for item in extra:
        if item not in out:
            out.append(copy.deepcopy(item))
    return out


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        cur = base.get(key)
        if value == REDACTED:
            continue  # a stored (redacted) secret never replaces the user's own value
        if isinstance(value, Mapping) and isinstance(cur, dict):
            _deep_merge(cur, value)
        elif isinstance(value, list | tuple):
            base[key] = _union_list(cur if isinstance(cur, list) else [], value)
        else:
            base[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)
    return base


def merge_cluster(
    user_cluster: Mapping[str, Any],
    recommended: Mapping[str, Any] | None,
    *,
    tags: Mapping[str, str] | None = None,
    cluster_log_url: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Return a new ``new_cluster``: ``user_cluster`` with ``recommended`` merged in (see module doc).

    :param user_cluster: the cluster the task would submit.
    :param recommended: recommended cluster fields (``ClusterShape.to_databricks()``), or None.
    :param tags: custom tags to set on top of the user's.
    :param cluster_log_url: log destination to add when the cluster has no ``cluster_log_conf``.
    :param region: AWS region for an ``s3://`` log destination.
    :raises ClusterMergeError: on a malformed cluster or recommendation.
    """
    if not isinstance(user_cluster, Mapping):
        raise ClusterMergeError(f"new_cluster must be an object, got {type(user_cluster).__name__}")
    out: dict[str, Any] = copy.deepcopy(dict(user_cluster))
    if recommended:
        if not isinstance(recommended, Mapping):
            raise ClusterMergeError(f"recommended cluster must be an object, got {type(recommended).__name__}")
        rec = {k: v for k, v in recommended.items() if k != "custom_tags"}
        if "num_workers" in rec and "autoscale" in rec:
            raise ClusterMergeError("recommended cluster sets both num_workers and autoscale")
        if out.get("instance_pool_id"):
            rec = {k: v for k, v in rec.items() if k not in _POOL_LOCKED_KEYS}
        if "num_workers" in rec:
            out.pop("autoscale", None)
        elif "autoscale" in rec:
            out.pop("num_workers", None)
            if not isinstance(rec["autoscale"], Mapping):
                raise ClusterMergeError("recommended autoscale must be an object with min_workers/max_workers")
            out["autoscale"] = dict(rec.pop("autoscale"))
        _deep_merge(out, rec)
        if "runtime_engine" in rec and isinstance(out.get("spark_version"), str):
            # the engine is now explicit: a legacy "-photon-" version would contradict it (Databricks rejects both)
            out["spark_version"] = plain_spark_version(out["spark_version"])
        rec_tags = recommended.get("custom_tags")
        if isinstance(rec_tags, Mapping):
            out["custom_tags"] = {**dict(out.get("custom_tags") or {}), **rec_tags}
    if tags:
        current = out.get("custom_tags") or {}
        if not isinstance(current, Mapping):
            raise ClusterMergeError("custom_tags must be an object")
        out["custom_tags"] = {**dict(current), **{k: sanitize_tag_value(v) for k, v in tags.items()}}
    if cluster_log_url and not out.get("cluster_log_conf"):
        out["cluster_log_conf"] = log_conf_for(cluster_log_url, region=region)
    return out


def log_conf_for(url: str, *, region: str | None = None) -> dict[str, Any]:
    """Databricks ``cluster_log_conf`` for a destination URL (``dbfs:/``, ``s3://`` or ``/Volumes/``).

    :raises ClusterMergeError: for other schemes (Databricks delivers cluster logs only to these).
    """
    if url.startswith("dbfs:/"):
        return {"dbfs": {"destination": url}}
    if url.startswith("s3://"):
        conf: dict[str, Any] = {"destination": url, "enable_encryption": True}
        if region:
            conf["region"] = region
        return {"s3": conf}
    if url.startswith("/Volumes/"):
        return {"volumes": {"destination": url}}
    raise ClusterMergeError(
        f"unsupported cluster log destination {url!r}: use dbfs:/..., s3://... or /Volumes/..."
    )


def apply_patches(payload: Mapping[str, Any], patches: Mapping[str, ClusterPatch]) -> dict[str, Any]:
    """Return a deep copy of ``payload`` with ``patches`` (keyed by :attr:`ClusterSlot.slot_id`) applied.

    :raises ClusterMergeError: on a malformed payload, or a patch naming a cluster that is not there.
    """
    out: dict[str, Any] = copy.deepcopy(dict(payload))
    slots = {s.slot_id: s for s in find_clusters(out)}
    unknown = sorted(set(patches) - set(slots))
    if unknown:
        raise ClusterMergeError(f"no cluster {unknown[0]!r} in payload (clusters: {sorted(slots)})")
    for slot_id, patch in patches.items():
        slot = slots[slot_id]
        merged = merge_cluster(
            get_cluster(out, slot),
            patch.cluster,
            tags=patch.tags,
            cluster_log_url=patch.cluster_log_url,
            region=patch.region,
        )
        if slot.kind == "single":
            out["new_cluster"] = merged
        else:
            name = "tasks" if slot.kind == "task" else "job_clusters"
            out[name][slot.index] = {**out[name][slot.index], "new_cluster": merged}
    return out


def cluster_fields(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """The shape-defining fields of a cluster (what a recommendation sets), for comparisons in tests/UI."""
    keys = ("node_type_id", "driver_node_type_id", *_WORKER_KEYS, "aws_attributes", "azure_attributes",
            "runtime_engine")
    return {k: copy.deepcopy(cluster[k]) for k in keys if k in cluster}
