"""Autoscaling: what an autoscaled cluster really used, and the min/max that give a chosen average size.

An autoscaled run is modelled at its *time-averaged* worker count (the node timeline rebuilt from the cluster
events, stored by the record step as ``metrics.cluster_workers_avg``; the event log's ``executors_avg`` when the
events are missing): runtime is predicted and cost priced at that average, not at the range's max or midpoint.

Sizing (:func:`size_autoscale`) uses a two-level picture of the measured runs: the cluster spends a share
``busy`` of the run scaled up to its max and the rest at its min (``avg = min + busy × (max − min)``). For the
average size the optimiser chose:

- a cluster that sat at its minimum for a large share of the run (≥ :data:`IDLE_SHARE`: phases that do not use
  more workers) gets a lower min (one step, by the change factor): those phases then cost less;
- a cluster that was scaled up almost all the run (≥ :data:`BUSY_SHARE`) gets a higher min (one step, at most
  the average): it skips most of the scale-up ramp at the start;
- otherwise the min follows the size (the measured min-to-average relation);
- the max is then set so that the expected average, ``min + busy × (max − min)``, is the chosen size.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airflow_provider_gradient.core.optimizer.types import ClusterShape, Observation

#: Share of the run at the minimum from which the min is lowered.
IDLE_SHARE = 0.25
#: Share of the run scaled up from which the min is raised.
BUSY_SHARE = 0.9
#: Measured autoscaled runs (newest) the sizing looks at.
RECENT_RUNS = 5
#: Metric keys holding a run's time-averaged worker count, in order of preference.
AVERAGE_KEYS: tuple[str, ...] = ("cluster_workers_avg", "executors_avg")


def observed_average_workers(metrics: Mapping[str, float]) -> float | None:
    """The run's time-averaged worker count from its metrics (node timeline first, then executors), or None.

    :param metrics: the run's numeric metrics (``cluster_workers_avg`` from the cluster events,
        ``executors_avg`` from the Spark event log).
    """
    for key in AVERAGE_KEYS:
        v = metrics.get(key)
        if v is not None and isinstance(v, int | float) and math.isfinite(v) and v > 0:
            return float(v)
    return None


@dataclass(frozen=True, slots=True)
class AutoscaleUse:
    """How one autoscaled run used its range.

    :param lo: configured min workers.
    :param hi: configured max workers.
    :param avg: time-averaged worker count.
    """

    lo: int
    hi: int
    avg: float

    @property
    def busy(self) -> float:
        """Share of the run scaled up to the max (two-level picture), 0..1."""
        if self.hi <= self.lo:
            return 1.0
        return min(1.0, max(0.0, (self.avg - self.lo) / (self.hi - self.lo)))


def autoscale_uses(history: Sequence[Observation], recent: int = RECENT_RUNS) -> list[AutoscaleUse]:
    """The newest successful autoscaled runs with a measured average, oldest first.

    :param history: the project's runs, oldest first.
    :param recent: how many to keep.
    """
    out: list[AutoscaleUse] = []
    for o in history:
        s = o.shape
        if not (o.succeeded and s.is_autoscale and s.observed_workers is not None):
            continue
        assert s.autoscale_min is not None and s.autoscale_max is not None
        out.append(AutoscaleUse(s.autoscale_min, s.autoscale_max, s.effective_workers))
    return out[-recent:]


def measured_baseline(baseline: ClusterShape, history: Sequence[Observation]) -> ClusterShape:
    """An autoscaled baseline at the average its own runs measured (mean over the runs on exactly its node type
    and range), so "today's cluster" is modelled where it really ran; other baselines unchanged.

    :param baseline: the user's cluster.
    :param history: the project's runs.
    """
    if not baseline.is_autoscale or baseline.observed_workers is not None:
        return baseline
    same = [o.shape.observed_workers for o in history
            if o.succeeded and o.shape.observed_workers is not None and o.shape.node_type_id == baseline.node_type_id
            and (o.shape.autoscale_min, o.shape.autoscale_max) == (baseline.autoscale_min, baseline.autoscale_max)]
    if not same:
        return baseline
    return dataclasses.replace(baseline, observed_workers=statistics.fmean(x for x in same if x is not None))


@dataclass(frozen=True, slots=True)
class AutoscaleSize:
    """An autoscale range and why.

    :param min_workers: autoscale min.
    :param max_workers: autoscale max.
    :param note: the explanation for the recommendation's reason.
    """

    min_workers: int
    max_workers: int
    note: str


def size_autoscale(
    avg_workers: float,
    history: Sequence[Observation],
    baseline: ClusterShape,
    *,
    floor: int = 1,
    cap: int = 10_000,
    step: float = 2.0,
) -> AutoscaleSize:
    """The autoscale min/max whose expected time-averaged size is ``avg_workers``.

    :param avg_workers: the average worker count chosen by the optimiser (its runtime/cost are modelled there).
    :param history: the project's runs, oldest first (autoscaled runs with a measured average are used).
    :param baseline: the user's cluster (its min/max ratio is the fallback before any measurement).
    :param floor: smallest min allowed.
    :param cap: largest max allowed.
    :param step: largest factor by which the min moves in one recommendation.
    """
    w = max(float(avg_workers), float(floor), 1.0)
    cap = max(cap, floor, 1)
    uses = autoscale_uses(history)
    if not uses:
        assert baseline.autoscale_min is not None and baseline.autoscale_max is not None
        ratio = baseline.autoscale_min / max(baseline.autoscale_max, 1)
        hi = min(cap, max(int(round(w)), 1))
        lo = max(floor, min(hi, int(round(ratio * hi))))
        return AutoscaleSize(lo, hi, f"autoscaling {lo}–{hi} workers: no autoscaled run measured yet, so today's "
                                     f"min/max ratio is kept")
    busy = statistics.median(u.busy for u in uses)
    idle = 1.0 - busy
    last = uses[-1]
    avg_txt = f"{last.avg:.1f} of {last.lo}–{last.hi}"
    if idle >= IDLE_SHARE:
        lo = max(floor, math.ceil(last.lo / step))
        why = (f"it sat at its minimum ~{idle:.0%} of the run (phases that use no more workers), so the min is "
               f"{'lowered to' if lo < last.lo else 'kept at'} {lo}")
    elif busy >= BUSY_SHARE:
        lo = max(floor, min(math.ceil(last.lo * step), int(math.floor(w))))
        why = (f"it was scaled up ~{busy:.0%} of the run, so the min is "
               f"{'raised to' if lo > last.lo else 'kept at'} {lo} to skip most of the scale-up at the start")
    else:
        lo = max(floor, int(round(last.lo * w / max(last.avg, 1e-9))))
        why = f"the min follows the size ({lo}, as measured relative to the average)"
    lo = min(lo, int(math.floor(w)), cap)
    if busy > 0.05:
        hi = math.ceil((w - idle * lo) / busy - 1e-9)
    else:
        hi = int(round(last.hi * w / max(last.avg, 1e-9)))
    hi = min(cap, max(hi, lo + 1, int(math.ceil(w - 1e-9))))
    lo = min(lo, hi)
    expected = lo + busy * (hi - lo)
    note = (f"autoscaling {lo}–{hi} workers: the last autoscaled run averaged {avg_txt} workers (scaled up "
            f"{busy:.0%} of the run); {why}, and the max set so the expected average is ~{expected:.1f} workers "
            f"(runtime predicted and cost priced at that average, not at the max)")
    return AutoscaleSize(lo, hi, note)
