"""Sparklens-style replay: estimate an application's runtime on a different number of task slots.

Each stage's task durations are rebuilt from its bounded quantile summary (scaled so that their sum is
the exact measured sum) and list-scheduled on ``slots`` cores; stages of one job start when their
parents in that job are done (FIFO between ready stages), jobs run one after another, and the
driver / serial time measured in the log (app duration minus the time when any stage was running)
is added unchanged.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Sequence

from airflow_provider_gradient.core.eventlog.summary import QUANTILE_LEVELS, AppSummary, StageSummary

#: Above this many tasks in a stage, tasks are merged into this many (bounded replay time).
MAX_SIM_TASKS = 20_000


def _quantile_at(q: float, quantiles: Sequence[float]) -> float:
    """Piecewise-linear value of the duration quantile function at level q (0..1)."""
    if len(quantiles) != len(QUANTILE_LEVELS):
        return float(quantiles[-1]) if quantiles else 0.0
    step = QUANTILE_LEVELS[1] - QUANTILE_LEVELS[0]
    pos = min(max(q / step, 0.0), len(quantiles) - 1.0)
    i = min(int(pos), len(quantiles) - 2)
    frac = pos - i
    return quantiles[i] * (1.0 - frac) + quantiles[i + 1] * frac


def task_durations(stage: StageSummary, max_tasks: int = MAX_SIM_TASKS) -> list[float]:
    """Synthetic task durations (ms) of a stage: quantile-shaped, summing to the measured sum.

    When the stage has more than ``max_tasks`` tasks, neighbours are merged (each synthetic task stands
    for several real ones) so that the replay cost stays bounded.

    :param stage: the stage summary.
    :param max_tasks: cap on the number of synthetic tasks.
    """
    n = stage.num_tasks
    if n <= 0:
        return []
    m = min(n, max(1, max_tasks))
    durations = [_quantile_at((i + 0.5) / m, stage.duration_quantiles_ms) for i in range(m)]
    total = sum(durations)
    target = float(stage.task_duration_ms_sum)
    if total > 0:
        scale = target / total
        durations = [d * scale for d in durations]
    elif target > 0:
        durations = [target / m] * m
    random.Random(stage.stage_id * 7919 + stage.attempt).shuffle(durations)
    return durations


def _schedule_job(stages: list[StageSummary], slots: int, start: float, max_tasks: int) -> float:
    """List-schedule one job's stages from ``start``; return the time its last task ends."""
    ids = {(s.stage_id, s.attempt) for s in stages}
    by_id: dict[int, list[StageSummary]] = defaultdict(list)
    for s in stages:
        by_id[s.stage_id].append(s)
    deps: dict[tuple[int, int], set[tuple[int, int]]] = {}
    children: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for s in stages:
        key = (s.stage_id, s.attempt)
        d: set[tuple[int, int]] = set()
        for p in s.parent_ids:
            for ps in by_id.get(p, ()):
                d.add((ps.stage_id, ps.attempt))
        if s.attempt > 0:  # a retry runs after the previous attempt of the same stage
            prev = [(x.stage_id, x.attempt) for x in by_id[s.stage_id] if x.attempt < s.attempt]
            d.update(prev)
        d.discard(key)
        deps[key] = d & ids
        for parent in deps[key]:
            children[parent].append(key)
    lookup = {(s.stage_id, s.attempt): s for s in stages}
    free = [start] * slots
    heapq.heapify(free)
    ready: list[tuple[float, tuple[int, int]]] = [(start, k) for k, d in deps.items() if not d]
    heapq.heapify(ready)
    finished: dict[tuple[int, int], float] = {}
    remaining = {k: len(d) for k, d in deps.items()}
    ready_at: dict[tuple[int, int], float] = {}
    end = start
    while ready:
        at, key = heapq.heappop(ready)
        stage_end = at
        for dur in task_durations(lookup[key], max_tasks):
            slot_free = heapq.heappop(free)
            begin = slot_free if slot_free > at else at
            finish = begin + dur
            heapq.heappush(free, finish)
            if finish > stage_end:
                stage_end = finish
        finished[key] = stage_end
        end = max(end, stage_end)
        for child in children[key]:
            remaining[child] -= 1
            ready_at[child] = max(ready_at.get(child, start), stage_end)
            if remaining[child] == 0:
                heapq.heappush(ready, (ready_at[child], child))
    # Stages in a dependency cycle (corrupt input) never became ready: run them after the rest.
    for key in deps:
        if key not in finished:
            end = _schedule_job([lookup[key]], slots, end, max_tasks) if lookup[key].num_tasks else end
    return end


def serial_time_ms(summary: AppSummary) -> float:
    """Driver / serial time: app duration minus the time when at least one stage was running."""
    if summary.duration_s is None:
        return 0.0
    return max(0.0, summary.duration_s * 1000.0 - summary.stage_active_ms)


def simulate_stage_times(summary: AppSummary, slots: int, *, max_tasks: int = MAX_SIM_TASKS) -> float:
    """Estimated runtime (seconds) of the application on ``slots`` executor cores.

    :param summary: a parsed event log.
    :param slots: number of task slots (executors x cores per executor / task cpus), >= 1.
    :param max_tasks: per-stage cap on simulated tasks (merging neighbours above it).
    :raises ValueError: ``slots`` < 1.
    """
    if slots < 1:
        raise ValueError(f"slots must be >= 1, got {slots}")
    max_tasks = max(max_tasks, 20 * slots)
    t = 0.0
    for stages in job_groups(summary.stage_details):
        t = _schedule_job(stages, slots, t, max_tasks)
    return (t + serial_time_ms(summary)) / 1000.0


def job_groups(stages: Sequence[StageSummary]) -> list[list[StageSummary]]:
    """Stages (with tasks) grouped by job, jobs that overlapped in time merged into one group.

    Groups are in time order; stages of one group share the slot pool and start when their parents
    are done, groups run one after another.
    """
    jobs: dict[object, list[StageSummary]] = defaultdict(list)
    for s in stages:
        if s.num_tasks > 0:
            jobs[s.job_id if s.job_id is not None else ("stage", s.stage_id)].append(s)
    spans = []
    for members in jobs.values():
        starts = [x for s in members for x in (s.submission_ms, s.first_launch_ms) if x is not None]
        ends = [x for s in members for x in (s.completion_ms, s.last_finish_ms) if x is not None]
        lo = min(starts) if starts else 0
        spans.append((lo, max(ends) if ends else lo, members))
    spans.sort(key=lambda x: (x[0], x[1]))
    groups: list[list[StageSummary]] = []
    group_end: int | None = None
    for lo, hi, members in spans:
        if groups and group_end is not None and lo < group_end:
            groups[-1].extend(members)
            group_end = max(group_end, hi)
        else:
            groups.append(list(members))
            group_end = hi
    return groups
