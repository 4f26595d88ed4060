"""Glue between the store and ``core.optimizer.recommend``: build the inputs, translate the answer.

core (eventlog, pricing, optimizer) is imported inside the functions so the service imports fast.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_gradient.service.errors import ConflictError
from airflow_provider_gradient.service.schemas import Project, RecommendationIn, Run

if TYPE_CHECKING:
    from airflow_provider_gradient.core.eventlog import StageSummary

log = logging.getLogger(__name__)

#: Run outcome -> Observation.failure_kind.
FAILURE_KIND = {"success": None, "oom": "oom", "timeout": "timeout", "failed": "other"}
_SPOT_HINTS = ("spot", "preempt", "evict", "capacity")


def _failure_kind(run: Run) -> str | None:
    """The optimiser's failure kind of a run: ``spot`` when the record step found the run lost its spot
    workers (``metrics.failure_kind``, from cluster events / cloud state reasons / the event log)."""
    if run.outcome != "success" and (run.metrics or {}).get("failure_kind") == "spot":
        return "spot"
    kind = FAILURE_KIND.get(run.outcome, "other")
    if kind == "other" and run.failure_message and any(h in run.failure_message.lower() for h in _SPOT_HINTS):
        return "spot"
    return kind


def _numeric_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in (metrics or {}).items():
        if isinstance(v, bool):
            out[k] = float(v)
        elif isinstance(v, (int, float)):
            out[k] = float(v)
    return out


def _stages(metrics: Mapping[str, Any] | None) -> tuple[StageSummary, ...]:
    """The ``core.eventlog.StageSummary`` objects of a stored AppSummary dict; none when a stored stage does
    not fit (stages are optional input: never fail the recommendation)."""
    from airflow_provider_gradient.core.eventlog import StageSummary

    raw = (metrics or {}).get("stage_details") or ()
    try:
        return tuple(StageSummary.from_dict(d) for d in raw if isinstance(d, Mapping))
    except (TypeError, ValueError):
        return ()


def build_inputs(
    project: Project, runs: Sequence[Run], *, price_catalog: str | None = None
) -> dict[str, Any]:
    """The optimiser's inputs for a project: ``space``, ``history`` (oldest first), ``settings``, ``baseline``."""
    from airflow_provider_gradient.core.optimizer import (
        ClusterShape,
        NodeOption,
        Observation,
        OptimizerSettings,
        SearchSpace,
    )
    from airflow_provider_gradient.core.pricing import dbu_usd_per_node_dbu, load_catalog

    st = project.settings
    catalog = load_catalog(price_catalog)
    cloud, region, region_note = project.cloud, project.region, None
    if region is None:
        try:
            region = catalog.reference_region(cloud)
        except ValueError as exc:  # UnknownCloudError
            raise ConflictError(f"project {project.app_id!r}: {exc}") from exc
        region_note = (
            f"region unknown: costs estimated at {cloud} {region} list prices (set the project's region, "
            "or record a run whose cluster reports it)"
        )
    baseline_cluster = project.baseline_cluster
    if not baseline_cluster:
        first = next((r for r in sorted(runs, key=lambda r: r.id) if r.cluster_config), None)
        baseline_cluster = first.cluster_config if first is not None else None
    if not baseline_cluster:
        raise ConflictError(
            f"project {project.app_id!r} has no baseline cluster and no recorded run: nothing to optimise yet"
        )
    try:
        baseline = ClusterShape.from_databricks(baseline_cluster, cloud)
    except Exception as exc:  # noqa: BLE001
        raise ConflictError(
            f"the baseline cluster of project {project.app_id!r} is not usable: {exc}"
        ) from exc
    families = {f.lower() for f in st.allowed_families}
    options = []
    for nt in catalog.node_types(cloud, region):
        # the baseline's own type stays in the space (its run is measured and modelled) even when its family is
        # not allowed: the optimiser then never recommends it (core.optimizer.space)
        if families and nt.family.lower() not in families and nt.name != baseline.node_type_id:
            continue
        if nt.gpu:
            continue
        try:
            hourly = catalog.hourly_usd(cloud, region, nt.name)
        except Exception:  # noqa: BLE001 - a node type without a price in this region is not a candidate
            continue
        options.append(
            NodeOption(
                name=nt.name,
                family=nt.family,
                vcpus=nt.vcpus,
                memory_gb=nt.memory_gb,
                hourly_usd=hourly,
                dbu_per_hour=nt.dbu_per_hour,
                spot_discount=nt.spot_discount,
                arch=nt.arch,
            )
        )
    if not [o for o in options if not families or o.family.lower() in families]:
        raise ConflictError(
            f"no node type of the price catalog matches project {project.app_id!r} "
            f"({cloud}/{region}, allowed families {sorted(families) or 'any'})"
        )
    compute_type = project.compute_type
    space = SearchSpace(
        cloud=cloud,
        region=region,
        node_types=tuple(options),
        # $ per rated DBU, with the Photon multiplier when the baseline runs Photon (either signal), as the
        # run costs are priced (core.pricing)
        dbu_usd=dbu_usd_per_node_dbu(catalog, cloud, project.plan_type, compute_type, baseline.photon),
        min_workers=1,
        max_workers=st.max_workers or 64,
        allow_autoscale=True,
        allow_spot=not st.force_on_demand,
        allow_photon=True,
        driver_billed=True,  # real clusters bill the driver: a 1-worker 8xlarge cluster is two 8xlarge nodes
    )
    settings = OptimizerSettings(
        sla_minutes=st.sla_minutes,
        maintain_scaling_type=st.maintain_scaling_type,
        optimize_instance_size=st.optimize_instance_size,
        allowed_families=tuple(st.allowed_families),
        force_on_demand=st.force_on_demand,
        max_workers=st.max_workers,
        learning_runs=st.learning_runs,
        allow_arm=st.allow_arm,
    )
    history = []
    for run in sorted(runs, key=lambda r: (r.start_ms if r.start_ms is not None else r.created_ms, r.id)):
        if run.outcome == "cancelled" or not run.cluster_config:
            continue
        if run.start_ms is None or run.end_ms is None:
            continue
        try:
            shape = ClusterShape.from_databricks(run.cluster_config, cloud)
        except Exception as exc:  # noqa: BLE001 - an unreadable cluster is skipped, not fatal
            log.warning("run %s: cluster config not usable by the optimiser: %s", run.databricks_run_id, exc)
            continue
        history.append(
            Observation(
                shape=shape,
                runtime_s=max(0.0, (run.end_ms - run.start_ms) / 1000.0),
                succeeded=run.outcome == "success",
                failure_kind=_failure_kind(run),
                input_bytes=float(run.input_bytes) if run.input_bytes is not None else None,
                cost_usd=run.cost.total_usd if run.cost is not None else None,
                started_ms=run.start_ms,
                recommendation_id=str(run.recommendation_id) if run.recommendation_id is not None else None,
                metrics=_numeric_metrics(run.metrics),
                stages=_stages(run.metrics),
            )
        )
    if baseline.driver_node_type_id and baseline.driver_node_type_id != baseline.node_type_id:
        # a fixed driver type stays as it is (the optimiser changes the workers): price that node
        try:
            drv = catalog.node_type(cloud, baseline.driver_node_type_id)
            space = dataclasses.replace(space, driver_rate_usd=catalog.hourly_usd(cloud, region, drv.name)
                                        + drv.dbu_per_hour * space.dbu_usd)
        except Exception as exc:  # noqa: BLE001 - unknown driver type: price it like a worker
            log.warning("driver node type %s not priced (%s): priced like the workers",
                        baseline.driver_node_type_id, exc)
    return {
        "space": space,
        "history": history,
        "settings": settings,
        "baseline": baseline,
        "baseline_cluster": baseline_cluster,
        "region_note": region_note,
    }


def build_and_recommend(
    project: Project, runs: Sequence[Run], *, price_catalog: str | None = None
) -> RecommendationIn:
    """Build the inputs, call ``core.optimizer.recommend``, return what to store."""
    from airflow_provider_gradient.core.optimizer import recommend

    inputs = build_inputs(project, runs, price_catalog=price_catalog)
    try:
        rec = recommend(inputs["space"], inputs["history"], inputs["settings"], inputs["baseline"])
    except ValueError as exc:  # OptimizerError: bad input, named
        raise ConflictError(
            f"the optimiser rejected the inputs of project {project.app_id!r}: {exc}"
        ) from exc
    cluster = dict(rec.cluster) if rec.cluster else rec.shape.to_databricks(cloud=project.cloud)
    reason = rec.reason
    cluster, ebs_reason = size_ebs(project, runs, cluster)
    for note in (ebs_reason, inputs["region_note"]):
        if note:
            reason = f"{reason}; {note}" if reason else note
    return RecommendationIn(
        cluster=cluster,
        phase=rec.phase,  # type: ignore[arg-type]
        learning_iteration=rec.learning_iteration,
        learning_total=rec.learning_total,
        predicted_runtime_s=rec.predicted_runtime_s,
        runtime_low_s=rec.runtime_low_s,
        runtime_high_s=rec.runtime_high_s,
        predicted_cost_usd=rec.predicted_cost_usd,
        cost_low_usd=rec.cost_low_usd,
        cost_high_usd=rec.cost_high_usd,
        reason=reason,
    )


def size_ebs(project: Project, runs: Sequence[Run], cluster: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Size the EBS volumes of a recommended AWS cluster from the disk use the event logs show
    (:mod:`~airflow_provider_gradient.core.optimizer.storage`); (cluster, reason or None)."""
    if project.cloud != "aws":
        return cluster, None
    from airflow_provider_gradient.core.optimizer.storage import DiskUse, apply_ebs_advice, recommend_ebs

    use = [
        DiskUse(float((r.metrics or {}).get("disk_spilled_bytes") or 0),
                float((r.metrics or {}).get("shuffle_write_bytes") or 0))
        for r in runs
        if r.outcome == "success" and r.metrics and r.log_status == "complete"
    ]
    advice = recommend_ebs(cluster, use[:10])  # runs are newest first
    if advice is None:
        return cluster, None
    return apply_ebs_advice(cluster, advice), advice.reason
