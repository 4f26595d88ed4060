"""Value objects of the service (pydantic, frozen): what goes in and what comes out, never ORM rows.

The same classes are the REST API's request/response bodies, so the local and the http client return
identical objects. Times are epoch milliseconds, money USD, sizes bytes.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from airflow_provider_gradient.core.cluster import Cluster, ClusterError

Cloud = Literal["aws", "azure", "gcp"]
Phase = Literal["learning", "optimizing"]
Outcome = Literal["success", "failed", "oom", "cancelled", "timeout"]
LogStatus = Literal["complete", "incomplete", "missing", "pending"]
RecState = Literal["pending", "ready", "applied", "superseded", "failed"]
#: Outcomes of a run that say its cluster did not work for the job. A cancelled run (by a user, or by Airflow
#: killing or timing out the task, which cancels the Databricks run) says nothing about the cluster.
FAILED_RUN_OUTCOMES: frozenset[str] = frozenset({"failed", "oom", "timeout"})

#: Limits of the settings (documented; the API answers 422 outside them).
MAX_WORKERS_LIMIT = 10_000
MAX_LEARNING_RUNS = 50
#: Latest clock a request may name (epoch ms): 9999-12-31, the last instant a datetime holds.
MAX_EPOCH_MS = 253_402_300_799_999
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")



def _not_bool(value: Any) -> Any:
    """A JSON ``true``/``false`` is not a number (pydantic's lax mode would read it as 1/0)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    return value


NotBool = BeforeValidator(_not_bool)
SlaMinutes = Annotated[float, NotBool, Field(gt=0, le=60 * 24 * 31, description="Runtime SLA in minutes (> 0).")]
MaxWorkers = Annotated[
    int, NotBool, Field(ge=1, le=MAX_WORKERS_LIMIT, description=f"Cap on workers, 1..{MAX_WORKERS_LIMIT}.")
]
LearningRuns = Annotated[
    int, NotBool, Field(ge=1, le=MAX_LEARNING_RUNS, description="K, the number of learning runs.")
]
WindowTime = Annotated[
    str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Optimisation window bound, 'HH:MM' (UTC).")
]
Family = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_hhmm(v: str | None) -> str | None:
    if v is not None and not _HHMM.match(v):
        raise ValueError("must be 'HH:MM' (24 h, UTC)")
    return v


class ProjectSettings(_Frozen):
    """The full settings of a project."""

    sla_minutes: SlaMinutes | None = None
    auto_apply: bool = True
    maintain_scaling_type: bool = True
    optimize_instance_size: bool = True
    allowed_families: tuple[Family, ...] = ()
    force_on_demand: bool = False
    allow_arm: bool = Field(
        default=False,
        description="Allow node types of another CPU architecture than the baseline's (x86 <-> ARM/Graviton); "
        "off keeps the baseline's architecture.",
    )
    max_workers: MaxWorkers | None = None
    window_start: WindowTime | None = None
    window_end: WindowTime | None = None
    learning_runs: LearningRuns = 4
    cluster_log_url: Annotated[str, Field(max_length=1000)] | None = None

    _hhmm = field_validator("window_start", "window_end")(_check_hhmm)

    @model_validator(mode="after")
    def _window_pair(self) -> ProjectSettings:
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("window_start and window_end must be set together")
        return self


class ProjectSettingsIn(_Frozen):
    """A partial update of the settings: only the fields given are changed (``null`` clears a nullable one)."""

    sla_minutes: SlaMinutes | None = None
    auto_apply: StrictBool | None = None
    maintain_scaling_type: StrictBool | None = None
    optimize_instance_size: StrictBool | None = None
    allowed_families: tuple[Family, ...] | None = None
    force_on_demand: StrictBool | None = None
    allow_arm: StrictBool | None = None
    max_workers: MaxWorkers | None = None
    window_start: WindowTime | None = None
    window_end: WindowTime | None = None
    learning_runs: LearningRuns | None = None
    cluster_log_url: Annotated[str, Field(max_length=1000)] | None = None

    _hhmm = field_validator("window_start", "window_end")(_check_hhmm)

    def changes(self) -> dict[str, Any]:
        """The fields explicitly given (``None`` for non-nullable fields means "unchanged")."""
        non_nullable = {
            "auto_apply",
            "maintain_scaling_type",
            "optimize_instance_size",
            "allowed_families",
            "force_on_demand",
            "allow_arm",
            "learning_runs",
        }
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if value is None and name in non_nullable:
                continue
            out[name] = value
        return out


class WorkspaceIn(_Frozen):
    """A Databricks workspace (no credentials)."""

    name: Annotated[str, Field(min_length=1, max_length=250)]
    host: Annotated[str, Field(max_length=500)] | None = None
    cloud: Cloud = "aws"
    region: Annotated[str, Field(max_length=64)] | None = None
    plan_type: Annotated[str, Field(max_length=32)] = "Premium"


class Workspace(WorkspaceIn):
    id: int
    created_ms: int


AppId = Annotated[str, Field(min_length=1, max_length=500)]


class ProjectIn(_Frozen):
    """What creating (get-or-create) a project takes."""

    app_id: AppId
    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    settings: ProjectSettingsIn | None = None
    workspace: WorkspaceIn | None = None
    cloud: Cloud | None = None
    region: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    plan_type: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    compute_type: Literal["jobs", "jobs_photon", "jobs_light", "all_purpose"] | None = None
    baseline_cluster: dict[str, Any] | None = None
    dag_id: Annotated[str, Field(max_length=250)] | None = None
    task_id: Annotated[str, Field(max_length=250)] | None = None

    _baseline = field_validator("baseline_cluster")(lambda v: check_cluster(v))


def check_cluster(cluster: dict[str, Any] | None) -> dict[str, Any] | None:
    """Reject a Databricks ``new_cluster`` that is not one (``core.cluster.Cluster`` rules: negative workers,
    min > max, a field of the wrong type ...), a blank node type or an autoscale range without a worker.

    :raises ClusterError: names the field (a ``ValueError``, so pydantic reports it).
    """
    if cluster is None:
        return None
    c = Cluster.from_databricks(cluster, strict=False)
    if "node_type_id" in cluster and (cluster["node_type_id"] is None or not c.node_type_id.strip()):
        raise ClusterError("node_type_id", f"must be a node type name, got {cluster['node_type_id']!r}")
    if c.autoscale_max is not None and c.autoscale_max < 1:
        raise ClusterError("autoscale", f"needs max_workers >= 1, got {c.autoscale_min}..{c.autoscale_max}")
    return cluster


class Project(_Frozen):
    id: int
    app_id: str
    name: str
    workspace: Workspace | None = None
    cloud: Cloud
    #: None: not known yet (filled from the first recorded run whose cluster reports it)
    region: str | None = None
    plan_type: str
    compute_type: str
    settings: ProjectSettings
    phase: Phase
    baseline_cluster: dict[str, Any] | None = None
    dag_id: str | None = None
    task_id: str | None = None
    created_ms: int
    updated_ms: int
    last_run_ms: int | None = None


NonNegFloat = Annotated[float, NotBool, Field(ge=0)]


class RunCost(_Frozen):
    """The cost of one run (the fields of ``core.pricing.RunCost``)."""

    cloud_usd: NonNegFloat = 0.0
    dbu_usd: NonNegFloat = 0.0
    storage_usd: NonNegFloat = 0.0
    total_usd: NonNegFloat = 0.0
    low_usd: NonNegFloat | None = None
    high_usd: NonNegFloat | None = None


def _coerce_cost(v: Any) -> Any:
    if v is None or isinstance(v, (dict, RunCost)):
        return v
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        names = RunCost.model_fields.keys()
        return {k: getattr(v, k) for k in names if hasattr(v, k)}
    return v


RunId = Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]


#: ``RunPricing.region_source`` of a region the run's cluster or cloud did not report: the Databricks connection's
#: ``region`` extra, the project's region, ``[gradient] region``
CONNECTION_REGION = "Databricks connection extra region"
PROJECT_REGION = "the project's region"
SETTINGS_REGION = "[gradient] region"
CONFIGURED_REGIONS = (CONNECTION_REGION, PROJECT_REGION, SETTINGS_REGION)


class RunPricing(_Frozen):
    """What a run's cost was computed from: cloud, region, plan and the compute type it was billed as.

    ``region`` None: the workspace's region was not known (no zone or event-log region in what Databricks
    reported, no project, connection or ``[gradient] region``), so the run is not priced (``priced`` false)
    rather than priced at another region's prices. ``compute_known`` false: the compute type could not be
    read from Databricks' answers; the run is then priced at the jobs compute rate and ``note`` says so.
    """

    cloud: Annotated[str, Field(max_length=16)]
    region: Annotated[str, Field(max_length=64)] | None = None
    region_source: Annotated[str, Field(max_length=200)] | None = None
    plan_type: Annotated[str, Field(max_length=32)]
    compute_type: Annotated[str, Field(max_length=32)]
    compute_known: bool = True
    compute_source: Annotated[str, Field(max_length=200)] | None = None
    photon: bool = False
    priced: bool = True
    note: Annotated[str, Field(max_length=500)] | None = None

    @property
    def region_reported(self) -> bool:
        """Whether the region was read from what the cluster / cloud reported (not the project's or the
        configured one)."""
        return bool(self.region) and self.region_source is not None and self.region_source not in CONFIGURED_REGIONS

    def label(self) -> str:
        """What the run was billed as, for pages and the CLI: ``All-purpose · Photon · eu-west-1``,
        ``compute unknown (jobs rate) · region unknown``."""
        compute = _COMPUTE_LABELS.get(self.compute_type, self.compute_type)
        parts = [compute if self.compute_known else "compute unknown (jobs rate)"]
        if self.photon:
            parts.append("Photon")
        parts.append(self.region or "region unknown")
        return " · ".join(parts)


_COMPUTE_LABELS = {
    "jobs": "Jobs compute",
    "jobs_photon": "Jobs compute",
    "jobs_light": "Jobs Light",
    "all_purpose": "All-purpose",
    "dlt": "Delta Live Tables",
    "sql": "SQL",
    "model_serving": "Model serving",
}


class RunIn(_Frozen):
    """A run to record (cost, metrics and outcome already computed by the caller).

    Recording the same ``databricks_run_id`` again updates the run: fields given (not None) replace the
    stored ones, except that a ``complete`` log status (and its metrics) is never downgraded.
    """

    databricks_run_id: RunId
    outcome: Outcome
    task_key: Annotated[str, Field(max_length=250)] | None = None
    cluster_id: Annotated[str, Field(max_length=100)] | None = None
    cluster_config: dict[str, Any] | None = None
    start_ms: Annotated[int, Field(ge=0)] | None = None
    end_ms: Annotated[int, Field(ge=0)] | None = None
    failure_message: str | None = None
    input_bytes: Annotated[int, Field(ge=0)] | None = None
    metrics: dict[str, Any] | None = None
    cost: RunCost | None = None
    pricing: RunPricing | None = None
    recommendation_id: Annotated[int, Field(ge=1, strict=True)] | None = None
    log_status: LogStatus = "pending"
    log_reason: str | None = None
    dag_id: Annotated[str, Field(max_length=250)] | None = None
    task_id: Annotated[str, Field(max_length=250)] | None = None
    airflow_run_id: Annotated[str, Field(max_length=250)] | None = None
    try_number: Annotated[int, Field(ge=0)] | None = None
    map_index: Annotated[int, Field(ge=-1, le=2**31 - 1, description="Airflow map index (-1: not mapped).")] | None = None
    logical_ms: Annotated[int, Field(ge=0, description="Logical date (epoch ms) of the Airflow DAG run.")] | None = None

    _cost = field_validator("cost", mode="before")(_coerce_cost)

    @model_validator(mode="after")
    def _times(self) -> RunIn:
        if self.start_ms is not None and self.end_ms is not None and self.end_ms < self.start_ms:
            raise ValueError("end_ms must be >= start_ms")
        return self


class Run(_Frozen):
    id: int
    project_id: int
    databricks_run_id: int
    outcome: Outcome
    task_key: str | None = None
    cluster_id: str | None = None
    cluster_config: dict[str, Any] | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    duration_s: float | None = None
    failure_message: str | None = None
    input_bytes: int | None = None
    metrics: dict[str, Any] | None = None
    cost: RunCost | None = None
    #: what the cost was computed from (None: recorded without it, e.g. before migration 0005)
    pricing: RunPricing | None = None
    recommendation_id: int | None = None
    #: the recommendation generated after this run was recorded (None: none yet)
    next_recommendation_id: int | None = None
    log_status: LogStatus
    log_reason: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    airflow_run_id: str | None = None
    try_number: int | None = None
    map_index: int | None = None
    logical_ms: int | None = None
    created_ms: int
    updated_ms: int


class RecommendationIn(_Frozen):
    """A recommendation to store (what ``core.optimizer.recommend`` returns, minus the shape object)."""

    cluster: dict[str, Any]
    phase: Phase
    learning_iteration: Annotated[int, Field(ge=0)] = 0
    learning_total: Annotated[int, Field(ge=0)] = 0
    predicted_runtime_s: float | None = None
    runtime_low_s: float | None = None
    runtime_high_s: float | None = None
    predicted_cost_usd: float | None = None
    cost_low_usd: float | None = None
    cost_high_usd: float | None = None
    reason: str = ""


class Recommendation(RecommendationIn):
    id: int
    project_id: int
    created_ms: int
    state: RecState
    applied_ms: int | None = None
    applied_to_run: int | None = None
    updated_ms: int
    #: outcome of the run it was applied to (None: not applied to a recorded run); read from the run
    applied_run_outcome: Outcome | None = None

    @property
    def failed_run_outcome(self) -> Outcome | None:
        """The outcome of the run it was applied to when that run failed (:data:`FAILED_RUN_OUTCOMES`; a
        cancelled run is no failure of the cluster), else None."""
        if self.state != "applied" or self.applied_run_outcome not in FAILED_RUN_OUTCOMES:
            return None
        return self.applied_run_outcome

    def status(self, *, ascii_only: bool = False) -> str:
        """The state as shown to users: an applied recommendation whose run did not succeed says so,
        e.g. ``applied — run failed (oom)``, ``applied — run cancelled``.

        :param ascii_only: ``-`` instead of the dash (terminal output).
        """
        outcome = self.applied_run_outcome if self.state == "applied" else None
        if outcome in (None, "success"):
            return self.state
        what = {"failed": "run failed", "cancelled": "run cancelled"}.get(outcome or "", f"run failed ({outcome})")
        return f"applied {'-' if ascii_only else '—'} {what}"


class ApplyChoiceIn(_Frozen):
    """What choosing the cluster of a task's next run takes: its project (get-or-create) and the time (UTC,
    epoch ms) the optimisation window is checked at (None: the server's clock)."""

    project: ProjectIn
    now_ms: Annotated[int, Field(ge=0, le=MAX_EPOCH_MS, strict=True)] | None = None


class ApplyChoice(_Frozen):
    """The cluster a task's next run uses: its project, the recommendation to merge (None: the task's own
    cluster) and why (for the task log)."""

    project: Project
    recommendation: Recommendation | None = None
    note: str = ""


class RecordOutcome(_Frozen):
    """What recording a collected run did (``record_and_recommend``): the stored run, its project, the
    recommendation the run used (now applied to it), and the next recommendation or why there is none."""

    run: Run
    project: Project
    applied: Recommendation | None = None
    recommendation: Recommendation | None = None
    recommendation_error: str | None = None


class ApplyIn(_Frozen):
    """Body of "apply": the Databricks run it was applied to (None: approved by a user for the next run)."""

    databricks_run_id: RunId | None = None


class Health(_Frozen):
    status: Literal["ok", "degraded"]
    version: str
    store: str
    schema_revision: str | None = None
    detail: str | None = None
