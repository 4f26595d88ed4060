"""Ground truth for benchmarks and tests: the true cost of a simulated run and the cheapest config meeting an SLA.

Never used by the optimiser itself (it would be cheating); ``gradient bench`` and the tests compare against it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_gradient.simulator.models import ClusterSpec, Profile, SimResult, simulate
from airflow_provider_gradient.simulator.profiles import load_profile

if TYPE_CHECKING:
    from airflow_provider_gradient.core.optimizer import SearchSpace
    from airflow_provider_gradient.core.pricing import PriceCatalog, RunCost

__all__ = ["OracleResult", "candidate_specs", "oracle", "price"]


@functools.lru_cache(maxsize=1)
def _catalog() -> PriceCatalog:
    from airflow_provider_gradient.core.pricing import load_catalog

    return load_catalog()


def price(
    result: SimResult, *, catalog: PriceCatalog | None = None, plan: str = "Premium", compute_type: str = "jobs"
) -> RunCost:
    """True cost (``core.pricing.RunCost``) of a simulated run, from its node timeline.

    The timeline already contains the start-up period (nodes are billed from the create request), so no
    extra start-up overhead is added. Photon runs are priced at the catalog's Photon DBU rate.

    :param result: what :func:`simulate` returned.
    :param catalog: a ``PriceCatalog`` (default: the shipped one).
    """
    from airflow_provider_gradient.core.pricing import compute_run_cost

    cat = catalog if catalog is not None else _catalog()
    return compute_run_cost(
        result.cluster_timeline(0), cat, cloud=result.spec.cloud, region=result.spec.region, plan=plan,
        compute_type=compute_type, photon=result.spec.photon, startup_overhead_s=0.0,
    )


@dataclass(frozen=True, slots=True)
class OracleResult:
    """The cheapest feasible config: ``spec``, its noise-free ``cost_usd`` and ``runtime_s``; ``evaluated`` configs."""

    spec: ClusterSpec
    cost_usd: float
    runtime_s: float
    evaluated: int

    def __iter__(self) -> Iterator[Any]:
        # unpacks as the documented triple: spec, cost_usd, runtime_s = oracle(...)
        return iter((self.spec, self.cost_usd, self.runtime_s))


def candidate_specs(space: SearchSpace) -> Iterable[ClusterSpec]:
    """Every config of a ``core.optimizer.SearchSpace`` (fixed sizes, autoscale ranges, spot, Photon).

    Autoscale ranges are ``(max//4 or min_workers, max)`` and ``(max//2, max)`` for each worker count.
    """
    cloud, region = space.cloud, space.region
    counts = tuple(space.worker_counts) or tuple(range(space.min_workers, space.max_workers + 1))
    allowed = set(space.allowed_shapes)
    spots = (False, True) if space.allow_spot else (False,)
    photons = (False, True) if space.allow_photon else (False,)
    for node in space.node_types:
        for w in counts:
            if allowed and (node.name, w) not in allowed:
                continue
            ranges: list[tuple[int | None, int | None, int | None]] = [(w, None, None)]
            if space.allow_autoscale and not allowed and w >= 2:
                lows = sorted({max(space.min_workers, w // 4), max(space.min_workers, w // 2)} - {w})
                ranges += [(None, lo, w) for lo in lows]
            for nw, lo, hi in ranges:
                for spot in spots:
                    for photon in photons:
                        yield ClusterSpec(node.name, num_workers=nw, autoscale_min=lo, autoscale_max=hi,
                                          spot=spot, photon=photon, cloud=cloud, region=region)


def oracle(
    profile: Profile | str,
    space: SearchSpace,
    sla_minutes: float | None,
    run_index: int = 0,
    *,
    sla_on: str = "runtime",
    catalog: PriceCatalog | None = None,
    max_failure_probability: float = 0.05,
) -> OracleResult:
    """The true cheapest config meeting the SLA, by exhaustive noise-free evaluation of the model.

    :param profile: profile or reference.
    :param space: a ``core.optimizer.SearchSpace`` (node types, worker range, spot/Photon/autoscale flags).
    :param sla_minutes: runtime limit; None = no limit (cheapest successful config).
    :param run_index: run whose input size (drift) is used.
    :param sla_on: ``runtime`` (Spark application duration, what the event log shows) or ``total``
        (adds cluster start-up, what runs/get reports).
    :param max_failure_probability: spot configs whose chance of aborting (too many interruptions in one
        stage) exceeds this are infeasible.
    :raises ValueError: when no config in the space succeeds within the SLA.
    """
    if sla_on not in ("runtime", "total"):
        raise ValueError(f"sla_on must be 'runtime' or 'total', got {sla_on!r}")
    p = load_profile(profile)
    limit = float("inf") if sla_minutes is None else float(sla_minutes) * 60.0
    best: tuple[float, float, ClusterSpec] | None = None
    n = 0
    for spec in candidate_specs(space):
        n += 1
        r = simulate(p, spec, run_index=run_index, noise=False)
        if not r.succeeded or r.details.get("spot_failure_probability", 0.0) > max_failure_probability:
            continue
        rt = r.runtime_s if sla_on == "runtime" else r.total_s
        if rt > limit:
            continue
        cost = price(r, catalog=catalog).total_usd
        if best is None or cost < best[0]:
            best = (cost, rt, spec)
    if best is None:
        raise ValueError(f"no config in the search space meets an SLA of {sla_minutes} min for profile {p.name!r}")
    return OracleResult(best[2], best[0], best[1], n)
