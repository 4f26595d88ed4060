"""Job performance models: (profile, cluster spec, run index) -> simulated run (runtime, failure, timelines).

``simulate`` is pure and fast (no I/O): the emulator, the event-log writer and the benchmarks call it. The
mechanisms and their parameters are documented in docs/simulator.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gradient.simulator.nodes import NodeFacts, UnknownNodeType, node_facts
from airflow_provider_gradient.simulator.profiles import (
    DEFAULT_PROFILE,
    Profile,
    ProfileError,
    StageShape,
    list_profiles,
    load_profile,
)
from airflow_provider_gradient.simulator.spec import ClusterSpec, ClusterSpecError

__all__ = [
    "DEFAULT_PROFILE",
    "ClusterSpec",
    "ClusterSpecError",
    "ExecutorSpan",
    "NodeSpan",
    "Profile",
    "ProfileError",
    "SimResult",
    "StageSim",
    "UnknownNodeType",
    "list_profiles",
    "load_profile",
    "simulate",
]

GB = 1024**3
#: Seconds between the end of the Spark application and the nodes being terminated.
TERMINATE_S = 15.0
OOM_MESSAGE = "java.lang.OutOfMemoryError: Java heap space"
EXECUTOR_LOST_OOM = (
    "ExecutorLostFailure (executor {executor} exited caused by one of the running tasks) Reason: "
    "Remote RPC client disassociated. Likely due to containers exceeding thresholds, or network issues."
)


@dataclass(frozen=True, slots=True)
class NodeSpan:
    """One VM's life, in seconds since the cluster-create request.

    :param index: 0 = driver, 1.. = worker slots (replacements get new indexes).
    :param role: ``driver`` or ``worker``.
    :param market: ``on_demand`` or ``spot``.
    :param removed_reason: None, ``spot_interruption`` or ``autoscale_down``.
    """

    index: int
    role: str
    node_type: str
    market: str
    start_s: float
    end_s: float
    removed_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutorSpan:
    """One Spark executor (one per worker node), seconds since the cluster-create request."""

    executor_id: str
    node_index: int
    cores: int
    start_s: float
    end_s: float
    removed_reason: str | None = None


@dataclass(frozen=True, slots=True)
class StageSim:
    """What one Spark stage did (enough to write its TaskEnd events; times since cluster create)."""

    stage_id: int
    job_id: int
    name: str
    start_s: float
    end_s: float
    num_tasks: int
    failed_tasks: int
    failure_reason: str | None
    input_bytes: int
    shuffle_read_bytes: int
    shuffle_write_bytes: int
    memory_spilled_bytes: int
    disk_spilled_bytes: int
    peak_execution_memory_bytes: int
    executor_run_ms: int
    cpu_fraction: float
    gc_fraction: float
    succeeded: bool = True

    @property
    def total_tasks(self) -> int:
        """Task attempts that end in a TaskEnd event (successful + failed)."""
        return self.num_tasks + self.failed_tasks


@dataclass(frozen=True, slots=True)
class SimResult:
    """Outcome of one simulated run. Times are seconds since the cluster-create request.

    ``runtime_s`` is the Spark application's duration (what the event log shows); ``total_s`` adds the
    cluster start-up (``startup_s``) and is what runs/get reports as the run duration.
    """

    profile: str
    spec: ClusterSpec
    run_index: int
    seed: int
    input_bytes: int
    startup_s: float
    runtime_s: float
    succeeded: bool
    failure_kind: str | None
    failure_message: str | None
    nodes: tuple[NodeSpan, ...]
    executors: tuple[ExecutorSpan, ...]
    stages: tuple[StageSim, ...]
    num_jobs: int
    spot_interruptions: int = 0
    memory_ratio: float = 0.0
    details: Mapping[str, float] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        """Start-up plus application runtime."""
        return self.startup_s + self.runtime_s

    @property
    def app_start_s(self) -> float:
        """When the Spark application starts."""
        return self.startup_s

    @property
    def app_end_s(self) -> float:
        """When the Spark application ends."""
        return self.startup_s + self.runtime_s

    @property
    def tasks(self) -> int:
        """All task attempts (TaskEnd events)."""
        return sum(s.total_tasks for s in self.stages)

    @property
    def failed_tasks(self) -> int:
        """Failed task attempts."""
        return sum(s.failed_tasks for s in self.stages)

    @property
    def executor_run_ms(self) -> int:
        """Sum of task run time over all attempts."""
        return sum(s.executor_run_ms for s in self.stages)

    def node_hours(self) -> float:
        """VM hours billed (all nodes)."""
        return sum(n.end_s - n.start_s for n in self.nodes) / 3600.0

    def cluster_timeline(self, origin_ms: int = 0) -> Any:
        """The node timeline as ``core.pricing.ClusterTimeline`` (epoch ms from ``origin_ms``)."""
        from airflow_provider_gradient.core.pricing import ClusterTimeline, NodeInterval, VolumeInterval

        nodes = tuple(
            NodeInterval(
                node_type=n.node_type, role=n.role, market=n.market,
                start_ms=origin_ms + int(n.start_s * 1000), end_ms=origin_ms + int(n.end_s * 1000),
            )
            for n in self.nodes
        )
        volumes: tuple[Any, ...] = ()
        if self.spec.ebs_volume_count and self.spec.ebs_volume_size_gb:
            volumes = tuple(
                VolumeInterval(
                    volume_type="gp3", size_gb=self.spec.ebs_volume_size_gb,
                    start_ms=origin_ms + int(n.start_s * 1000), end_ms=origin_ms + int(n.end_s * 1000),
                )
                for n in self.nodes
                for _ in range(self.spec.ebs_volume_count)
            )
        return ClusterTimeline(nodes=nodes, volumes=volumes)


def _lognormal(rng: random.Random, cv: float) -> float:
    if cv <= 0:
        return 1.0
    sigma = math.sqrt(math.log(1.0 + cv * cv))
    return math.exp(rng.gauss(-sigma * sigma / 2.0, sigma))


def _shuffle_s(profile: Profile, shuffle_gb: float, n: int, net_gbps: float) -> float:
    """Network time of an all-to-all shuffle over ``n`` workers plus per-connection overhead."""
    if n <= 1 or shuffle_gb <= 0:
        return 0.0
    transfer = shuffle_gb * 8.0 / (n * net_gbps) * (1.0 - 1.0 / n)
    return transfer + profile.shuffle_conn_s * n


class _Run:
    """Mutable scratch state of one simulation (kept out of the public API)."""

    __slots__ = ("t", "n", "changes", "lost", "next_loss", "replacements", "losses")

    def __init__(self, n: int) -> None:
        self.t = 0.0
        self.n = n
        self.changes: list[tuple[float, int]] = []  # pending (time, delta) worker-count changes
        self.lost: list[tuple[float, int]] = []  # (time, worker slot) spot interruptions
        self.next_loss = math.inf
        self.replacements = 0
        self.losses = 0


def simulate(
    profile: Profile | str,
    spec: ClusterSpec,
    *,
    run_index: int = 0,
    seed: int = 0,
    noise: bool = True,
    input_gb: float | None = None,
) -> SimResult:
    """Simulate one run of ``profile`` on ``spec``.

    :param profile: a :class:`Profile` or a reference for :func:`load_profile`.
    :param spec: the cluster.
    :param run_index: 0-based index of the run (drives input drift).
    :param seed: random seed (with ``run_index`` and the profile name it fixes every draw).
    :param noise: False gives the noise-free expected model (no random draws: used by ``oracle``).
    :param input_gb: override the input size (GB) instead of the drift model.
    :raises UnknownNodeType: node type unknown.
    """
    p = load_profile(profile)
    rng = random.Random(f"{p.name}/{run_index}/{seed}")
    wf = node_facts(spec.cloud, spec.node_type_id)
    df = node_facts(spec.cloud, spec.driver_node_type_id)
    g = float(input_gb) if input_gb is not None else p.input_gb_at(run_index)
    n0, nmax = spec.min_workers, spec.max_workers
    single_node = nmax == 0
    exec_facts: NodeFacts = df if single_node else wf
    cores = exec_facts.vcpus

    # partitions and memory (deterministic: OOM is a cliff, not a coin flip)
    if p.partition_mb is not None:
        input_tasks = int(min(p.max_partitions, max(1, math.ceil(g * 1024.0 / p.partition_mb))))
        task_mem = p.task_memory_gb
    else:
        input_tasks = p.partitions
        task_mem = p.task_memory_gb * g / p.input_gb
    ratio = task_mem / exec_facts.memory_per_core_gb
    spill = 1.0 + p.spill_penalty * (ratio - 1.0) if ratio > 1.0 else 1.0
    oom = ratio > p.oom_ratio
    photon = p.photon_speedup if spec.photon else 1.0

    eps = _lognormal(rng, p.noise_cv) if noise else 1.0
    eps_start = _lognormal(rng, 0.12) if noise else 1.0
    startup = (p.startup_s + p.startup_s_per_worker * n0) * eps_start
    serial = (p.serial_s + p.serial_s_per_gb * g) * eps
    work_total = p.work_core_s_per_gb * g * spill / photon * eps
    shuffle_gb = p.shuffle_gb_per_gb * g
    share_sum = sum(s.work_share for s in p.stages)
    n_jobs = max(s.job for s in p.stages) + 1
    n_spot = max(0, nmax - max(0, spec.first_on_demand - 1)) if spec.spot else 0
    hazard = p.spot_hazard_per_hour / 3600.0

    st = _Run(n0)
    if noise and n_spot and hazard > 0:
        st.next_loss = rng.expovariate(hazard * n_spot)
    if spec.is_autoscale:
        st.changes = []
    st.t = serial * 0.5
    node_changes: list[tuple[float, int, str]] = []  # (app time, delta, reason)
    stages: list[StageSim] = []
    failure: tuple[str, str] | None = None
    oom_stage = max(range(len(p.stages)), key=lambda i: (p.stages[i].shuffle_read_share, p.stages[i].work_share))
    par_time = 0.0
    last_job = 0
    lost_work_cores = 0.0
    for sid, shape in enumerate(p.stages):
        if shape.job != last_job:
            gap = serial * 0.5 / n_jobs
            _idle_gap(st, spec, p, gap, n0, node_changes)
            last_job = shape.job
        start = st.t
        tasks = input_tasks if shape.tasks == 0 else shape.tasks
        work = work_total * shape.work_share / share_sum
        task_time = work / tasks
        if spec.is_autoscale and st.n < nmax and not any(c[0] > st.t for c in st.changes):
            mid = (st.n + nmax + 1) // 2
            st.changes.append((st.t + p.autoscale_lag_s, mid - st.n))
            st.changes.append((st.t + 2 * p.autoscale_lag_s, nmax - mid))
        stage_losses = 0
        remaining = work
        fail_at: float | None = None
        if oom and sid == oom_stage:
            # four attempts of a task die; the stage (and job) aborts
            remaining = min(work, 4 * task_time * max(1, st.n * cores) / max(1, min(tasks, st.n * cores)))
            remaining = min(remaining, work * 0.5)
            fail_at = 1.0
        while remaining > 1e-9:
            m = max(1, st.n) * cores if not single_node else cores
            rate = float(min(m, tasks))
            nxt = min([c[0] for c in st.changes] + [st.next_loss])
            dt = remaining / rate
            if st.t + dt <= nxt:
                st.t += dt
                remaining = 0.0
                break
            remaining -= rate * (nxt - st.t)
            st.t = nxt
            if nxt == st.next_loss:
                stage_losses += 1
                st.losses += 1
                st.lost.append((st.t, st.losses))
                node_changes.append((st.t, -1, "spot_interruption"))
                st.n -= 1
                st.changes.append((st.t + p.spot_replace_s, 1))
                # lost work: the executor's running tasks and shuffle output since the stage started
                lost = cores * min(st.t - start, task_time * 2)
                remaining += lost
                lost_work_cores += lost
                st.t += p.spot_loss_s
                st.next_loss = st.t + rng.expovariate(hazard * max(1, n_spot))
                if p.spot_fail_losses and stage_losses >= p.spot_fail_losses:
                    failure = (
                        "spot",
                        "org.apache.spark.SparkException: Job aborted due to stage failure: "
                        f"ShuffleMapStage {sid} has failed the maximum allowable number of times: 4. "
                        "Most recent failure reason: org.apache.spark.shuffle.FetchFailedException: "
                        "executor lost (spot instance termination)",
                    )
                    break
            else:
                due = [c for c in st.changes if c[0] <= st.t]
                st.changes = [c for c in st.changes if c[0] > st.t]
                for when, delta in due:
                    st.n = min(nmax, st.n + delta)
                    node_changes.append((when, delta, "autoscale" if delta > 0 else "autoscale_down"))
        m = max(1, st.n) * cores
        if m < tasks:
            st.t += 0.5 * (math.ceil(tasks / m) - tasks / m) * task_time
        net = _shuffle_s(p, shuffle_gb * shape.shuffle_read_share, max(st.n, 1), wf.network_gbps) * eps
        overhead = (p.log_coeff_s * math.log(max(m, 1)) + p.per_core_s * m) / len(p.stages) * eps
        st.t += net + overhead
        if fail_at is not None:
            failure = ("oom", f"Job aborted due to stage failure: Task 0 in stage {sid}.0 failed 4 times, "
                              f"most recent failure: Lost task 0.3 in stage {sid}.0: {OOM_MESSAGE}")
        par_time += st.t - start
        failed_tasks = 0
        if failure is not None and failure[0] == "oom":
            failed_tasks = 4
        failed_tasks += stage_losses * cores
        done_frac = 1.0 if failure is None else 0.5
        done_tasks = tasks if failure is None else max(0, int(tasks * done_frac) - failed_tasks)
        spilled = int(max(0.0, task_mem - exec_facts.memory_per_core_gb) * GB * done_tasks) if ratio > 1 else 0
        run_ms = int((work * (1.0 if failure is None else 0.5) + lost_work_cores) * 1000)
        lost_work_cores = 0.0
        stages.append(
            StageSim(
                stage_id=sid, job_id=shape.job, name=shape.name, start_s=start, end_s=st.t,
                num_tasks=done_tasks, failed_tasks=failed_tasks,
                failure_reason=None if failure is None else failure[0],
                input_bytes=int(g * GB * done_frac) if shape.reads_input else 0,
                shuffle_read_bytes=int(shuffle_gb * shape.shuffle_read_share * GB * done_frac),
                shuffle_write_bytes=int(shuffle_gb * shape.shuffle_write_share * GB * done_frac),
                memory_spilled_bytes=spilled, disk_spilled_bytes=int(spilled * 0.35),
                peak_execution_memory_bytes=int(min(task_mem, exec_facts.memory_per_core_gb) * GB),
                executor_run_ms=run_ms,
                cpu_fraction=0.85 if ratio <= 1 else max(0.45, 0.85 / spill),
                gc_fraction=min(0.4, 0.03 + 0.06 * max(0.0, ratio - 0.7)),
                succeeded=failure is None,
            )
        )
        if failure is not None:
            break
    if failure is None:
        _idle_gap(st, spec, p, serial * 0.5 / n_jobs, n0, node_changes)
    spot_fail_p = 0.0
    if n_spot and hazard > 0:
        spot_fail_p = _spot_failure_probability(p, stages, hazard * n_spot)
    if not noise and n_spot and hazard > 0 and failure is None:
        expected = hazard * n_spot * par_time
        per_loss = p.spot_loss_s + (p.spot_replace_s + 2 * work_total / max(1, input_tasks)) / max(1, nmax)
        st.t += expected * per_loss
    runtime = st.t
    nodes, executors = _timelines(spec, startup, runtime, node_changes, n0, cores)
    return SimResult(
        profile=p.name, spec=spec, run_index=run_index, seed=seed, input_bytes=int(g * GB),
        startup_s=startup, runtime_s=runtime, succeeded=failure is None,
        failure_kind=None if failure is None else failure[0],
        failure_message=None if failure is None else failure[1],
        nodes=nodes, executors=executors, stages=tuple(stages), num_jobs=stages[-1].job_id + 1 if stages else 0,
        spot_interruptions=st.losses, memory_ratio=ratio,
        details={"spot_failure_probability": spot_fail_p, "spill_factor": spill, "photon_factor": photon, "noise": eps, "input_gb": g,
                 "input_tasks": float(input_tasks)},
    )


def _spot_failure_probability(p: Profile, stages: list[StageSim], rate_per_s: float) -> float:
    """P(some stage sees ``spot_fail_losses`` or more interruptions) under a Poisson loss process."""
    if not p.spot_fail_losses:
        return 0.0
    ok = 1.0
    for s in stages:
        lam = rate_per_s * (s.end_s - s.start_s)
        term, below = math.exp(-lam), 0.0
        for k in range(p.spot_fail_losses):
            below += term
            term *= lam / (k + 1)
        ok *= min(1.0, below)
    return 1.0 - ok


def _idle_gap(st: _Run, spec: ClusterSpec, p: Profile, gap: float, n0: int, node_changes: list[tuple[float, int, str]]) -> None:
    """Driver-only time: pending scale-ups are dropped, idle autoscaled workers leave after a delay."""
    if spec.is_autoscale:
        st.changes = [c for c in st.changes if c[1] < 0 or c[0] <= st.t]
        for when, delta in st.changes:
            st.n = min(spec.max_workers, st.n + delta)
            node_changes.append((when, delta, "autoscale"))
        st.changes = []
        if gap > p.autoscale_down_s and st.n > n0:
            node_changes.append((st.t + p.autoscale_down_s, n0 - st.n, "autoscale_down"))
            st.n = n0
    else:
        due = sorted(c for c in st.changes if c[0] <= st.t + gap)
        for when, delta in due:
            st.n += delta
            node_changes.append((when, delta, "replacement"))
        st.changes = [c for c in st.changes if c[0] > st.t + gap]
    st.t += gap


def _timelines(
    spec: ClusterSpec, startup: float, runtime: float, changes: list[tuple[float, int, str]], n0: int, cores: int
) -> tuple[tuple[NodeSpan, ...], tuple[ExecutorSpan, ...]]:
    """Turn worker-count changes (app-relative times) into node and executor spans (cluster-relative)."""
    end = startup + runtime
    term = end + TERMINATE_S
    on_demand_workers = max(0, spec.first_on_demand - 1) if spec.spot else 10**9
    nodes: list[NodeSpan] = [NodeSpan(0, "driver", spec.driver_node_type_id,
                                      "spot" if spec.spot and spec.first_on_demand == 0 else "on_demand", 0.0, term)]
    active: list[list[Any]] = []  # [index, node_start, exec_start]
    next_index = 1

    def market(slot: int) -> str:
        return "on_demand" if slot <= on_demand_workers else "spot"

    for _ in range(n0):
        active.append([next_index, 0.0, startup])
        next_index += 1
    executors: list[ExecutorSpan] = []
    closed: list[NodeSpan] = []
    for when, delta, reason in sorted(changes, key=lambda c: c[0]):
        at = startup + when
        if delta > 0:
            for _ in range(delta):
                boot = min(90.0, max(0.0, at - startup))
                active.append([next_index, max(startup, at - boot), at])
                next_index += 1
        else:
            for _ in range(-delta):
                if not active:
                    break
                if reason == "spot_interruption":
                    # a spot worker goes (never the on-demand ones)
                    pick = next((a for a in reversed(active) if market(a[0]) == "spot"), active[-1])
                    active.remove(pick)
                else:
                    pick = active.pop()
                closed.append(NodeSpan(pick[0], "worker", spec.node_type_id, market(pick[0]), pick[1], at, reason))
                executors.append(ExecutorSpan(str(pick[0] - 1), pick[0], cores, pick[2], at, reason))
    for idx, node_start, exec_start in active:
        closed.append(NodeSpan(idx, "worker", spec.node_type_id, market(idx), node_start, term))
        executors.append(ExecutorSpan(str(idx - 1), idx, cores, exec_start, end))
    nodes.extend(sorted(closed, key=lambda n: n.index))
    if spec.max_workers == 0:
        executors = [ExecutorSpan("driver", 0, cores, startup, end)]
    return tuple(nodes), tuple(sorted(executors, key=lambda e: (e.start_s, e.node_index)))


def stage_shapes(profile: Profile | str) -> tuple[StageShape, ...]:
    """The stage layout of a profile (for writers and docs)."""
    return load_profile(profile).stages
