"""Discover: find the Databricks jobs most worth optimising (Gradient's "top jobs to optimise").

Pure analysis (no Airflow, no network) of what ``hooks.discover`` fetched from a workspace: jobs/list,
runs/list over the last days and clusters/get of the clusters those runs used, plus the app ids already
managed by the provider's store. Per job it sums runs, core-hours and estimated cost (shipped price
catalog), flags findings and estimates the savings still available:

* ``photon``: the job runs with the Photon engine;
* ``autoscaling``: its cluster autoscales;
* ``all_purpose``: it runs on all-purpose (interactive) compute — moving it to jobs compute saves the DBU
  price difference, computed from the catalog;
* ``submitted``: it is submitted via runs/submit (how Airflow's DatabricksSubmitRunOperator runs);
* ``managed``: Gradient already manages it (cluster tagged ``gradient:project-id``/``gradient:app-id``).

Estimated savings = all-purpose DBU difference + ``rightsizing_rate`` (default 20 %, an assumption in the
range Gradient reports) of the remaining cost of jobs that are not managed yet; 0 for managed jobs.

Each task run is priced on the basis a recorded run is (``core/pricing/basis.py``): its compute type from the
cluster report (``cluster_source``; a task on an ``existing_cluster_id`` is all-purpose), the ``[gradient]
plan_type``, and its region from the cluster's zone, else the Databricks connection's ``region`` extra, else
``[gradient] region``. A run whose region is not known, or that the catalog cannot price (node type, region,
compute type), is counted *not priced* with why -- never priced at another region's or plan's prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gradient.core.cluster import Cluster, ClusterError
from airflow_provider_gradient.core.csv_cell import csv_text

DAY_MS = 86_400_000
DEFAULT_DAYS = 30
DEFAULT_RIGHTSIZING_RATE = 0.20
FINDINGS = ("photon", "autoscaling", "all_purpose", "submitted", "managed")
FINDING_LABELS = {
    "photon": "Jobs with Photon",
    "autoscaling": "Jobs with autoscaling",
    "all_purpose": "Jobs on all-purpose compute",
    "submitted": "Submitted via runs/submit",
    "managed": "Managed by Gradient",
}
_MANAGED_TAGS = ("gradient:project-id", "gradient:app-id")
#: why a run with no region from its cluster, the connection or the settings is not priced
REGION_UNKNOWN = ("region unknown: the cluster reported no zone; set the Databricks connection's region extra "
                  "or [gradient] region")


class DiscoverError(ValueError):
    """Bad input to Discover (names the problem)."""


@dataclass(frozen=True, slots=True)
class WorkspaceScan:
    """Raw answers of one workspace: jobs/list, runs/list (window) and clusters/get by cluster id.

    :param name: label of the workspace (the Airflow connection id)
    :param since_ms: start of the scanned window
    :param until_ms: end of the scanned window (now)
    :param region: the connection's ``region`` extra (None: not set)
    """

    name: str
    jobs: tuple[Mapping[str, Any], ...]
    runs: tuple[Mapping[str, Any], ...]
    clusters: Mapping[str, Mapping[str, Any]]
    since_ms: int
    until_ms: int
    region: str | None = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskUsage:
    """One task run: its cluster shape, duration, core-hours and estimated cost."""

    workspace: str
    job_key: str
    job_name: str
    run_id: int
    start_ms: int
    runtime_s: float
    node_type: str
    workers: float
    cores: float
    core_hours: float
    cost_usd: float | None
    dbu_usd: float
    findings: frozenset[str]
    all_purpose_savings_usd: float = 0.0
    #: why ``cost_usd`` is None (region unknown, or what the catalog cannot price)
    unpriced_reason: str | None = None


@dataclass
class JobSummary:
    """A job's totals over the window (one row of the top-jobs table)."""

    workspace: str
    key: str
    name: str
    runs: int = 0
    core_hours: float = 0.0
    cost_usd: float = 0.0
    unpriced_runs: int = 0
    runtime_s: float = 0.0
    estimated_savings_usd: float = 0.0
    findings: set[str] = field(default_factory=set)
    node_types: set[str] = field(default_factory=set)
    last_run_ms: int = 0
    run_ids: set[int] = field(default_factory=set)
    unpriced_reasons: set[str] = field(default_factory=set)

    @property
    def priced(self) -> bool:
        """Whether any of its runs could be priced (else its cost shows as *not priced*)."""
        return self.unpriced_runs < self.runs

    @property
    def avg_runtime_min(self) -> float:
        return self.runtime_s / 60 / self.runs if self.runs else 0.0


@dataclass(frozen=True, slots=True)
class DiscoverReport:
    """What the Discover page and ``gradient discover`` show."""

    jobs: tuple[JobSummary, ...]
    findings: Mapping[str, int]
    days: tuple[str, ...]
    jobs_per_day: tuple[int, ...]
    core_hours_per_day: tuple[float, ...]
    total_cost_usd: float
    total_core_hours: float
    total_estimated_savings_usd: float
    workspaces: tuple[str, ...]
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (``gradient discover --json``)."""
        return {
            "workspaces": list(self.workspaces),
            "total_cost_usd": round(self.total_cost_usd, 4),
            "total_core_hours": round(self.total_core_hours, 4),
            "total_estimated_savings_usd": round(self.total_estimated_savings_usd, 4),
            "findings": dict(self.findings),
            "timeline": [
                {"day": d, "jobs": n, "core_hours": round(h, 4)}
                for d, n, h in zip(self.days, self.jobs_per_day, self.core_hours_per_day, strict=True)
            ],
            "jobs": [job_dict(j) for j in self.jobs],
            "errors": list(self.errors),
        }


def job_dict(j: JobSummary) -> dict[str, Any]:
    """One job as a JSON-safe dict."""
    return {
        "workspace": j.workspace,
        "key": j.key,
        "name": j.name,
        "runs": j.runs,
        "core_hours": round(j.core_hours, 4),
        "cost_usd": round(j.cost_usd, 4),
        "unpriced_runs": j.unpriced_runs,
        "unpriced_reasons": sorted(j.unpriced_reasons),
        "avg_runtime_min": round(j.avg_runtime_min, 2),
        "estimated_savings_usd": round(j.estimated_savings_usd, 4),
        "findings": sorted(j.findings),
        "node_types": sorted(j.node_types),
        "last_run_ms": j.last_run_ms,
    }


def _managed(cluster: Mapping[str, Any], managed_app_ids: frozenset[str]) -> bool:
    tags = cluster.get("custom_tags") or {}
    if not isinstance(tags, Mapping):
        return False
    if any(tags.get(k) not in (None, "", "none") for k in _MANAGED_TAGS):
        return True
    return bool(managed_app_ids) and str(tags.get("gradient:app-id", "")) in managed_app_ids


def _run_ms(obj: Mapping[str, Any], key: str) -> int:
    try:
        return int(obj.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def task_usages(
    scan: WorkspaceScan,
    catalog: Any,
    *,
    managed_app_ids: Iterable[str] = (),
    plan: str = "Premium",
    region: str | None = None,
) -> list[TaskUsage]:
    """Every task run of ``scan`` in its window with its cluster, core-hours and estimated cost.

    :param scan: what was fetched from one workspace
    :param catalog: a ``core.pricing.PriceCatalog``
    :param managed_app_ids: app ids of the provider's store (a tagged cluster is managed too)
    :param plan: the Databricks plan (``[gradient] plan_type``)
    :param region: ``[gradient] region``, for clusters that report none when the connection names none either
    """
    from airflow_provider_gradient.core.pricing import (
        PricingError,
        compute_use,
        dbu_usd_per_node_dbu,
        estimate_cluster_cost,
        reported_region,
    )

    managed_ids = frozenset(managed_app_ids)
    job_names = {}
    for j in scan.jobs:
        jid = j.get("job_id")
        if jid is not None:
            job_names[int(jid)] = str((j.get("settings") or {}).get("name") or f"job {jid}")
    out: list[TaskUsage] = []
    for run in scan.runs:
        start = _run_ms(run, "start_time")
        if start < scan.since_ms or start > scan.until_ms:
            continue
        run_type = str(run.get("run_type") or "JOB_RUN").upper()
        submitted = run_type == "SUBMIT_RUN"
        job_id = run.get("job_id")
        if submitted or not job_id:
            name = str(run.get("run_name") or f"run {run.get('run_id')}")
            key = f"submit:{name}"
        else:
            key = f"job:{int(job_id)}"
            name = job_names.get(int(job_id)) or str(run.get("run_name") or f"job {job_id}")
        job_clusters = {
            str(jc.get("job_cluster_key")): jc.get("new_cluster") or {}
            for jc in run.get("job_clusters") or ()
            if isinstance(jc, Mapping)
        }
        tasks = list(run.get("tasks") or ()) or [run]
        for task in tasks:
            cluster_id = str(((task.get("cluster_instance") or {}).get("cluster_id")) or "")
            cluster: Mapping[str, Any] = scan.clusters.get(cluster_id) or {}
            spec = task.get("new_cluster") or job_clusters.get(str(task.get("job_cluster_key"))) or {}
            if not spec and task is run:
                spec = (run.get("cluster_spec") or {}).get("new_cluster") or {}
            use = compute_use(cluster, spec or None, existing_cluster=bool(task.get("existing_cluster_id")))
            all_purpose = use.compute_type == "all_purpose"
            shape: Mapping[str, Any] = {**spec, **cluster} if cluster else spec
            try:
                c = Cluster.from_databricks(shape, strict=False)
            except ClusterError:
                continue  # a cluster Databricks would not run: nothing to count
            if not c.node_type_id:
                continue
            t0 = _run_ms(task, "start_time") or start
            t1 = _run_ms(task, "end_time") or _run_ms(run, "end_time")
            if t1 <= t0:
                continue
            runtime_s = (t1 - t0) / 1000.0
            cloud = c.cloud
            where = reported_region(shape)[0] or (str(scan.region).strip().lower() if scan.region else None) or region
            node, workers = c.node_type_id, c.mean_workers
            findings = {
                f
                for f, on in (
                    ("photon", c.photon),
                    ("autoscaling", c.is_autoscale),
                    ("all_purpose", all_purpose),
                    ("submitted", submitted),
                    ("managed", _managed(shape, managed_ids)),
                )
                if on
            }
            cores = cost = None
            dbu = ap_saving = 0.0
            unpriced: str | None = None
            try:
                nt = catalog.node_type(cloud, node)
                dt = catalog.node_type(cloud, c.driver_type)
                cores = nt.vcpus * workers + dt.vcpus
                if where is None:
                    unpriced = REGION_UNKNOWN
                else:
                    est = estimate_cluster_cost(c, catalog=catalog, region=where, runtime_s=runtime_s, plan=plan,
                                                compute_type=use.priced_as)
                    cost, dbu = est.total_usd, est.dbu_usd
                    if all_purpose:
                        jobs_rate = dbu_usd_per_node_dbu(catalog, cloud, plan, "jobs", c.photon)
                        ap_rate = dbu_usd_per_node_dbu(catalog, cloud, plan, "all_purpose", c.photon)
                        if ap_rate > 0:
                            ap_saving = max(dbu * (1 - jobs_rate / ap_rate), 0.0)
            except (PricingError, KeyError, ValueError) as e:
                cost, dbu, ap_saving = None, 0.0, 0.0
                unpriced = str(e)[:200] or type(e).__name__
            out.append(
                TaskUsage(
                    workspace=scan.name,
                    job_key=key,
                    job_name=name,
                    run_id=int(run.get("run_id") or 0),
                    start_ms=t0,
                    runtime_s=runtime_s,
                    node_type=node,
                    workers=workers,
                    cores=cores or 0.0,
                    core_hours=(cores or 0.0) * runtime_s / 3600.0,
                    cost_usd=cost,
                    dbu_usd=dbu,
                    findings=frozenset(findings),
                    all_purpose_savings_usd=ap_saving,
                    unpriced_reason=unpriced,
                )
            )
    return out


def summarize(
    usages: Sequence[TaskUsage],
    *,
    since_ms: int,
    until_ms: int,
    workspaces: Sequence[str] = (),
    rightsizing_rate: float = DEFAULT_RIGHTSIZING_RATE,
    errors: Sequence[str] = (),
) -> DiscoverReport:
    """Aggregate task usages into the Discover report (top jobs by cost, then core-hours).

    :param usages: from :func:`task_usages` (any number of workspaces)
    :param rightsizing_rate: share of an unmanaged job's cost a right-sized cluster is assumed to save
    """
    if not 0.0 <= rightsizing_rate <= 1.0:
        raise DiscoverError(f"rightsizing_rate must be within 0..1, got {rightsizing_rate}")
    if until_ms <= since_ms:
        raise DiscoverError("until_ms must be after since_ms")
    jobs: dict[tuple[str, str], JobSummary] = {}
    first_day = since_ms // DAY_MS
    n_days = int((until_ms - 1) // DAY_MS - first_day + 1)
    day_jobs: list[set[tuple[str, str]]] = [set() for _ in range(n_days)]
    day_hours = [0.0] * n_days
    for u in usages:
        j = jobs.setdefault((u.workspace, u.job_key), JobSummary(u.workspace, u.job_key, u.job_name))
        if u.run_id not in j.run_ids:
            j.run_ids.add(u.run_id)
            j.runs += 1
        j.core_hours += u.core_hours
        j.runtime_s += u.runtime_s
        j.findings |= u.findings
        j.node_types.add(u.node_type)
        j.last_run_ms = max(j.last_run_ms, u.start_ms)
        if u.cost_usd is None:
            j.unpriced_runs += 1
            j.unpriced_reasons.add(u.unpriced_reason or "not priced")
        else:
            j.cost_usd += u.cost_usd
            if "managed" not in u.findings:
                rest = u.cost_usd - u.all_purpose_savings_usd
                j.estimated_savings_usd += u.all_purpose_savings_usd + rest * rightsizing_rate
        d = int(u.start_ms // DAY_MS - first_day)
        if 0 <= d < n_days:
            day_jobs[d].add((u.workspace, u.job_key))
            day_hours[d] += u.core_hours
    for j in jobs.values():
        if "managed" in j.findings:
            j.estimated_savings_usd = 0.0
    ranked = sorted(jobs.values(), key=lambda j: (-j.cost_usd, -j.core_hours, j.name))
    import datetime as dt

    days = tuple(
        dt.datetime.fromtimestamp((first_day + i) * DAY_MS / 1000, tz=dt.UTC).strftime("%Y-%m-%d")
        for i in range(n_days)
    )
    return DiscoverReport(
        jobs=tuple(ranked),
        findings={f: sum(1 for j in ranked if f in j.findings) for f in FINDINGS},
        days=days,
        jobs_per_day=tuple(len(s) for s in day_jobs),
        core_hours_per_day=tuple(day_hours),
        total_cost_usd=sum(j.cost_usd for j in ranked),
        total_core_hours=sum(j.core_hours for j in ranked),
        total_estimated_savings_usd=sum(j.estimated_savings_usd for j in ranked),
        workspaces=tuple(workspaces),
        errors=tuple(errors),
    )


def analyze(
    scans: Sequence[WorkspaceScan],
    catalog: Any = None,
    *,
    managed_app_ids: Iterable[str] = (),
    rightsizing_rate: float = DEFAULT_RIGHTSIZING_RATE,
    plan: str = "Premium",
    region: str | None = None,
) -> DiscoverReport:
    """The Discover report of one or more workspace scans.

    :param scans: one per workspace (Airflow Databricks connection)
    :param catalog: price catalog (default: the shipped one)
    :param plan: the Databricks plan (``[gradient] plan_type``)
    :param region: ``[gradient] region`` (runs whose cluster and connection name none); None: those are not priced
    """
    if not scans:
        raise DiscoverError("no workspace to analyse: give at least one Databricks connection")
    if catalog is None:
        from airflow_provider_gradient.core.pricing import load_catalog

        catalog = load_catalog()
    ids = tuple(managed_app_ids)
    usages = [u for s in scans for u in task_usages(s, catalog, managed_app_ids=ids, plan=plan, region=region)]
    return summarize(
        usages,
        since_ms=min(s.since_ms for s in scans),
        until_ms=max(s.until_ms for s in scans),
        workspaces=[s.name for s in scans],
        rightsizing_rate=rightsizing_rate,
        errors=[e for s in scans for e in s.errors],
    )


CSV_COLUMNS = (
    "workspace",
    "key",
    "name",
    "runs",
    "core_hours",
    "cost_usd",
    "estimated_savings_usd",
    "avg_runtime_min",
    "findings",
    "node_types",
)


def report_csv(report: DiscoverReport) -> str:
    """The top-jobs table as CSV (formula-safe cells)."""
    rows = (
        [d[c] if c not in ("findings", "node_types") else ";".join(d[c]) for c in CSV_COLUMNS]
        for d in map(job_dict, report.jobs)
    )
    return csv_text(CSV_COLUMNS, rows)
