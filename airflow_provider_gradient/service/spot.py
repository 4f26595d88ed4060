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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def _summary_field(summary: Any, name: str) -> Any:
    if summary is None:
        return None
    if isinstance(summary, Mapping):
        return summary.get(name)
    return getattr(summary, name, None)


def spot_evidence(
    *,
    events: Any = (),
    instances: Any = (),
    summary: Any = None,
    texts: tuple[str, ...] = (),
    spot_cluster: bool = False,
) -> SpotEvidence:
    """Count reclaimed spot workers from cluster events, cloud instances and the event log summary.

    :param events: ``clusters/events`` of the cluster.
    :param instances: cloud instances (objects with ``market`` and ``state_reason``).
    :param summary: the parsed event log (``AppSummary`` or its dict).
    :param texts: more failure texts (run state message).
    :param spot_cluster: the cluster ran its workers on spot (event-log-only evidence counts only then).
    """
    sources: list[str] = []
    counts: list[int] = []
    n_events = _events_lost(events)
    if n_events:
        counts.append(n_events)
        sources.append(f"cluster events: {n_events} node(s) lost, SPOT_INSTANCE_TERMINATION")
    reclaimed = [i for i in instances or () if SPOT_PATTERN.search(str(getattr(i, "state_reason", "") or ""))]
    if reclaimed:
        counts.append(len(reclaimed))
        code = str(getattr(reclaimed[0], "state_reason", ""))
        sources.append(f"cloud: {len(reclaimed)} instance(s) ended with {code}")
    removed = _summary_field(summary, "executor_removed_reasons") or {}
    worker_lost = sum(int(v) for k, v in removed.items() if str(k).lower().startswith(_WORKER_LOST)) \
        if isinstance(removed, Mapping) else 0
    lost_tasks = int(_summary_field(summary, "executor_lost_failures") or 0)
    named = [t for t in texts if t and SPOT_PATTERN.search(t)]
    if worker_lost and (spot_cluster or counts or named):
        counts.append(worker_lost)
        sources.append(f"event log: {worker_lost} executor(s) removed as worker lost, "
                       f"{lost_tasks} ExecutorLostFailure task(s)")
    if named:
        counts.append(1)
        sources.append("run state: " + " ".join(named[0].split())[:200])
    return SpotEvidence(max(counts) if counts else 0, tuple(sources))
