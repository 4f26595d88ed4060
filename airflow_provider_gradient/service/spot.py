"""Spot interruptions of a run, from what Databricks and the cloud really report (no Airflow, no I/O).

A spot worker reclaimed by the cloud shows up as:
- a ``NODES_LOST`` cluster event whose ``details.reason.code`` (or ``cause``) names the spot reclaim
  (``SPOT_INSTANCE_TERMINATION``; Azure: eviction / preemption);
- the EC2 instance's state reason ``Server.SpotInstanceTermination`` (Azure VM: evicted);
- in the Spark event log: executors removed as ``worker lost`` and ``ExecutorLostFailure`` task failures,
  and failure texts mentioning the spot termination.

:func:`spot_evidence` counts the reclaimed workers (the largest count any one source gives: each source
sees the same nodes) and says where it looked. A run failed *by* spot loss is recorded with
``failure_kind = "spot"``; the optimiser then never reads it as a memory failure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_gradient.core.eventlog import AppSummary
    from airflow_provider_gradient.service.collected import CloudInstance

__all__ = ["SpotEvidence", "spot_evidence"]

#: Codes / texts that name a spot (preemptible) reclaim.
SPOT_PATTERN = re.compile(
    r"SPOT_INSTANCE_TERMINATION|SpotInstanceTermination|spot instance (?:termination|interruption|reclaim)|"
    r"spot (?:vm|instance).{0,20}(?:evict|preempt|lost)|\bevicted\b|preempt(?:ed|ion)",
    re.IGNORECASE,
)
#: ExecutorRemoved reasons of a lost worker (Databricks/Spark), before the ``:`` detail.
_WORKER_LOST = ("worker lost", "worker decommissioned", "executor decommission")


@dataclass(frozen=True, slots=True)
class SpotEvidence:
    """Spot workers a run lost and where that was seen.

    :param interruptions: reclaimed workers (0: none seen).
    :param sources: human descriptions, e.g. ``"cluster events: 3 nodes lost (SPOT_INSTANCE_TERMINATION)"``.
    """

    interruptions: int = 0
    sources: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the stored failure message."""
        return f"{self.interruptions} spot worker(s) reclaimed by the cloud (" + "; ".join(self.sources) + ")"


def _events_lost(events: Any) -> int:
    lost = 0
    for e in events or ():
        if not isinstance(e, Mapping) or e.get("type") != "NODES_LOST":
            continue
        details = e.get("details") or {}
        if not isinstance(details, Mapping):
            continue
        reason = details.get("reason") or {}
        texts = [str(details.get("cause") or "")]
        if isinstance(reason, Mapping):
            texts.append(str(reason.get("code") or ""))
            params = reason.get("parameters") or {}
            if isinstance(params, Mapping):
                texts.extend(str(v) for v in params.values())
        if not any(SPOT_PATTERN.search(t) for t in texts if t):
            continue
        try:
            n = int(str(details.get("target_num_workers"))) - int(str(details.get("current_num_workers")))
        except ValueError:
            n = 1
        lost += max(1, n)
    return lost


def spot_evidence(
    *,
    events: Sequence[Mapping[str, Any]] = (),
    instances: Sequence[CloudInstance] = (),
    summary: AppSummary | None = None,
    texts: tuple[str, ...] = (),
    spot_cluster: bool = False,
) -> SpotEvidence:
    """Count reclaimed spot workers from cluster events, cloud instances and the event log summary.

    :param events: ``clusters/events`` of the cluster.
    :param instances: the cloud instances of the cluster.
    :param summary: the parsed event log.
    :param texts: more failure texts (run state message).
    :param spot_cluster: the cluster ran its workers on spot (event-log-only evidence counts only then).
    """
    sources: list[str] = []
    counts: list[int] = []
    n_events = _events_lost(events)
    if n_events:
        counts.append(n_events)
        sources.append(f"cluster events: {n_events} node(s) lost, SPOT_INSTANCE_TERMINATION")
    reclaimed = [i for i in instances if i.state_reason and SPOT_PATTERN.search(i.state_reason)]
    if reclaimed:
        counts.append(len(reclaimed))
        code = str(reclaimed[0].state_reason)
        sources.append(f"cloud: {len(reclaimed)} instance(s) ended with {code}")
    removed = summary.executor_removed_reasons if summary is not None else {}
    worker_lost = sum(int(v) for k, v in removed.items() if str(k).lower().startswith(_WORKER_LOST))
    lost_tasks = summary.executor_lost_failures if summary is not None else 0
    named = [t for t in texts if t and SPOT_PATTERN.search(t)]
    if worker_lost and (spot_cluster or counts or named):
        counts.append(worker_lost)
        sources.append(f"event log: {worker_lost} executor(s) removed as worker lost, "
                       f"{lost_tasks} ExecutorLostFailure task(s)")
    if named:
        counts.append(1)
        sources.append("run state: " + " ".join(named[0].split())[:200])
    return SpotEvidence(max(counts) if counts else 0, tuple(sources))
