"""Cost model: what a Databricks job run cost (cloud instances + DBUs + disks), and estimates for configs.

Model (documented in ``docs/pricing.md``):

- cloud $ = Σ nodes on-demand $/h × billed hours; a spot node is billed at on-demand × (1 - typical
  discount). Billed hours = observed interval + ``startup_overhead_s`` (instances bill some minutes
  before the cluster events see them; default from the catalog, 150 s per node).
- DBU $ = Σ nodes DBU/h × observed hours × (Photon multiplier if Photon) × $/DBU(plan, compute type).
- storage $ = Σ volumes size GB × $/GB-month × hours / hours-per-month (730).
- low/high: on-demand nodes low = high = point. Spot nodes: low at the deepest discount (typical + the
  cloud's ``spot_discount_spread``), high at the on-demand price (spot with fallback to on-demand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gradient.core.cluster import Cluster
from airflow_provider_gradient.core.pricing.catalog import NodeType, PriceCatalog, normalize_compute_type
from airflow_provider_gradient.core.pricing.errors import PricingError

_MS_PER_H = 3_600_000.0
_MARKETS = {
    "on_demand": "on_demand",
    "ondemand": "on_demand",
    "on-demand": "on_demand",
    "spot": "spot",
    "spot_with_fallback": "spot",
    "spot_azure": "spot",
    "spot_with_fallback_azure": "spot",
    "on_demand_azure": "on_demand",
}
_ROLES = {"driver", "worker"}


@dataclass(frozen=True, slots=True)
class NodeInterval:
    """One node of a cluster, for the time it was part of the cluster.

    :param market: ``on_demand`` or ``spot`` (Databricks spellings like ``SPOT_WITH_FALLBACK`` accepted).
    """

    node_type: str
    role: str
    market: str
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        market = _MARKETS.get(str(self.market).strip().lower())
        if market is None:
            raise PricingError(f"node interval: unknown market {self.market!r} (use 'on_demand' or 'spot')")
        object.__setattr__(self, "market", market)
        role = str(self.role).strip().lower()
        if role not in _ROLES:
            raise PricingError(f"node interval: unknown role {self.role!r} (use 'driver' or 'worker')")
        object.__setattr__(self, "role", role)
        if self.end_ms < self.start_ms:
            raise PricingError(
                f"node interval of {self.node_type!r} ends before it starts ({self.start_ms} > {self.end_ms})"
            )


@dataclass(frozen=True, slots=True)
class VolumeInterval:
    """A disk attached to the cluster (EBS ``gp2``/``gp3``, Azure ``premium_ssd`` ...) and its lifetime."""

    volume_type: str
    size_gb: float
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.size_gb < 0:
            raise PricingError(f"volume interval: negative size {self.size_gb!r} GB")
        if self.end_ms < self.start_ms:
            raise PricingError(
                f"volume interval of {self.volume_type!r} ends before it starts ({self.start_ms} > {self.end_ms})"
            )


@dataclass(frozen=True, slots=True)
class ClusterTimeline:
    """Every node (driver and workers) and volume a run's cluster(s) used."""

    nodes: tuple[NodeInterval, ...]
    volumes: tuple[VolumeInterval, ...] = ()


@dataclass(frozen=True, slots=True)
class RunCost:
    """Cost of one run in USD. ``low_usd``/``high_usd`` bound ``total_usd`` (equal for on-demand runs).

    :param dbus: DBUs consumed (informational).
    """

    cloud_usd: float
    dbu_usd: float
    storage_usd: float
    total_usd: float
    low_usd: float
    high_usd: float
    dbus: float = 0.0

    def to_dict(self) -> dict[str, float]:
        """JSON-safe dict of all fields."""
        return {
            "cloud_usd": self.cloud_usd,
            "dbu_usd": self.dbu_usd,
            "storage_usd": self.storage_usd,
            "total_usd": self.total_usd,
            "low_usd": self.low_usd,
            "high_usd": self.high_usd,
            "dbus": self.dbus,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunCost:
        """Inverse of :meth:`to_dict` (missing ``dbus`` = 0)."""
        return cls(
            cloud_usd=float(data["cloud_usd"]),
            dbu_usd=float(data["dbu_usd"]),
            storage_usd=float(data["storage_usd"]),
            total_usd=float(data["total_usd"]),
            low_usd=float(data["low_usd"]),
            high_usd=float(data["high_usd"]),
            dbus=float(data.get("dbus", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class _Rates:
    """Per (cloud, region, plan, compute type, Photon) constants, cached on the catalog."""

    prices: dict[str, float]
    dbu_usd: float
    dbu_mult: float
    spread: float
    overhead_s: float
    nodes: dict[str, NodeType] = field(default_factory=dict)


def _photon_compute_type(compute_type: str, photon: bool) -> tuple[str, bool]:
    """(canonical compute type, Photon): ``jobs`` with Photon is billed as ``jobs_photon``, and ``jobs_photon``
    means Photon."""
    ct = normalize_compute_type(compute_type)
    if ct == "jobs_photon":
        return ct, True
    if photon and ct == "jobs":
        return "jobs_photon", True
    return ct, photon


def dbu_usd_per_node_dbu(
    catalog: PriceCatalog, cloud: str, plan: str = "Premium", compute_type: str = "jobs", photon: bool = False
) -> float:
    """USD per DBU of a node's DBU rating (``NodeType.dbu_per_hour``): the plan's $/DBU for the compute type,
    times the cloud's Photon multiplier when the cluster runs Photon — what :func:`estimate_run_cost` and
    :func:`compute_run_cost` charge per rated DBU.

    :param photon: the cluster runs Photon (:attr:`~airflow_provider_gradient.core.cluster.Cluster.photon`).
    """
    ct, photon = _photon_compute_type(compute_type, photon)
    mult = catalog.photon_multiplier(cloud) if photon else 1.0
    return catalog.dbu_rate_usd(cloud, plan, ct) * mult


def _rates(
    catalog: PriceCatalog, cloud: str, region: str, plan: str, compute_type: str, photon: bool
) -> _Rates:
    cache = catalog._rate_cache
    key = (cloud, region, plan, compute_type, photon)
    hit: _Rates | None = cache.get(key)
    if hit is not None:
        return hit
    ct, photon = _photon_compute_type(compute_type, photon)
    c = catalog._cloud(cloud)
    prices = c.region_prices(region)
    r = _Rates(
        prices=prices,
        dbu_usd=catalog.dbu_rate_usd(cloud, plan, ct),
        dbu_mult=c.photon_multiplier if photon else 1.0,
        spread=c.spot_spread,
        overhead_s=catalog.startup_overhead_s,
        nodes=c.nodes,
    )
    cache[key] = r
    return r


def _node_price(
    catalog: PriceCatalog, rates: _Rates, cloud: str, region: str, name: str
) -> tuple[float, NodeType]:
    node = rates.nodes.get(name)
    price = rates.prices.get(name)
    if node is None or price is None:  # slow path: case-insensitive name / clear error
        node = catalog.node_type(cloud, name)
        price = catalog.hourly_usd(cloud, region, node.name)
    return price, node


def compute_run_cost(
    timeline: ClusterTimeline,
    catalog: PriceCatalog,
    *,
    cloud: str,
    region: str,
    plan: str = "Premium",
    compute_type: str = "jobs",
    photon: bool = False,
    startup_overhead_s: float | None = None,
) -> RunCost:
    """Price an observed run from its cluster timeline.

    :param startup_overhead_s: cloud billing added per node before its interval (None = catalog default,
        150 s shipped); pass 0 when the intervals already come from the cloud's own launch times.
    :raises UnknownNodeTypeError: a node type the catalog does not know (message names it).
    :raises PricingError: unknown region/plan/compute type/volume type, or an empty timeline.
    """
    if not timeline.nodes:
        raise PricingError("cluster timeline has no nodes: nothing to price")
    rates = _rates(catalog, cloud, region, plan, compute_type, photon)
    overhead_h = (rates.overhead_s if startup_overhead_s is None else float(startup_overhead_s)) / 3600.0
    if overhead_h < 0:
        raise PricingError(f"startup_overhead_s must be >= 0, got {startup_overhead_s!r}")
    cloud_pt = cloud_lo = cloud_hi = dbus = 0.0
    for n in timeline.nodes:
        price, node = _node_price(catalog, rates, cloud, region, n.node_type)
        hours = (n.end_ms - n.start_ms) / _MS_PER_H
        billed = hours + overhead_h
        dbus += node.dbu_per_hour * rates.dbu_mult * hours
        if n.market == "spot":
            d = node.spot_discount
            cloud_pt += price * (1.0 - d) * billed
            cloud_lo += price * (1.0 - min(d + rates.spread, 0.95)) * billed
            cloud_hi += price * billed
        else:
            od = price * billed
            cloud_pt += od
            cloud_lo += od
            cloud_hi += od
    storage = 0.0
    if timeline.volumes:
        per_h = 1.0 / catalog.hours_per_month
        for v in timeline.volumes:
            rate = catalog.storage_usd_per_gb_month(cloud, region, v.volume_type)
            storage += v.size_gb * rate * per_h * (v.end_ms - v.start_ms) / _MS_PER_H
    dbu_usd = dbus * rates.dbu_usd
    total = cloud_pt + dbu_usd + storage
    return RunCost(
        cloud_usd=cloud_pt,
        dbu_usd=dbu_usd,
        storage_usd=storage,
        total_usd=total,
        low_usd=cloud_lo + dbu_usd + storage,
        high_usd=cloud_hi + dbu_usd + storage,
        dbus=dbus,
    )


def estimate_run_cost(
    *,
    catalog: PriceCatalog,
    cloud: str,
    region: str,
    node_type: str,
    driver_node_type: str | None,
    workers: float,
    runtime_s: float,
    spot: bool = False,
    first_on_demand: int = 1,
    photon: bool = False,
    plan: str = "Premium",
    compute_type: str = "jobs",
    ebs_gb_per_node: float = 0.0,
    startup_overhead_s: float | None = None,
    volume_type: str | None = None,
) -> RunCost:
    """Estimate the cost of running a cluster config for ``runtime_s`` (fast: dict lookups only).

    The cluster is 1 driver + ``workers`` (may be fractional: the time-weighted average of an autoscaled
    cluster). With ``spot``, the first ``first_on_demand`` nodes (driver first) are on-demand and the rest
    spot, as in Databricks' ``aws_attributes.first_on_demand``.

    :param driver_node_type: None = same as ``node_type``.
    :param ebs_gb_per_node: attached disk per node, priced as the cloud's default volume type
        (``volume_type`` overrides it).
    """
    if workers < 0 or runtime_s < 0:
        raise PricingError(f"workers ({workers!r}) and runtime_s ({runtime_s!r}) must be >= 0")
    rates = _rates(catalog, cloud, region, plan, compute_type, photon)
    w_price, w_node = _node_price(catalog, rates, cloud, region, node_type)
    if driver_node_type is None or driver_node_type == node_type:
        d_price, d_node = w_price, w_node
    else:
        d_price, d_node = _node_price(catalog, rates, cloud, region, driver_node_type)
    hours = runtime_s / 3600.0
    overhead_s = rates.overhead_s if startup_overhead_s is None else float(startup_overhead_s)
    billed = hours + overhead_s / 3600.0

    if spot:
        driver_spot = first_on_demand < 1
        od_workers = min(float(workers), float(max(first_on_demand - 1, 0)))
        spot_workers = workers - od_workers
    else:
        driver_spot = False
        od_workers = float(workers)
        spot_workers = 0.0

    def spot_factors(node: NodeType) -> tuple[float, float]:
        return 1.0 - node.spot_discount, 1.0 - min(node.spot_discount + rates.spread, 0.95)

    w_pt, w_lo = spot_factors(w_node)
    cloud_od = od_workers * w_price * billed
    cloud_pt = cloud_od + spot_workers * w_price * w_pt * billed
    cloud_lo = cloud_od + spot_workers * w_price * w_lo * billed
    cloud_hi = (od_workers + spot_workers) * w_price * billed
    if driver_spot:
        d_pt, d_lo = spot_factors(d_node)
        cloud_pt += d_price * d_pt * billed
        cloud_lo += d_price * d_lo * billed
    else:
        cloud_pt += d_price * billed
        cloud_lo += d_price * billed
    cloud_hi += d_price * billed

    dbus = (d_node.dbu_per_hour + workers * w_node.dbu_per_hour) * rates.dbu_mult * hours
    dbu_usd = dbus * rates.dbu_usd
    storage = 0.0
    if ebs_gb_per_node > 0:
        vt = volume_type or catalog.default_volume_type(cloud)
        rate = catalog.storage_usd_per_gb_month(cloud, region, vt)
        storage = (1.0 + workers) * ebs_gb_per_node * rate * hours / catalog.hours_per_month
    total = cloud_pt + dbu_usd + storage
    return RunCost(
        cloud_usd=cloud_pt,
        dbu_usd=dbu_usd,
        storage_usd=storage,
        total_usd=total,
        low_usd=cloud_lo + dbu_usd + storage,
        high_usd=cloud_hi + dbu_usd + storage,
        dbus=dbus,
    )


#: Databricks ``aws_attributes.ebs_volume_type`` -> the EBS volume type the catalog prices.
EBS_VOLUME_TYPES = {"GENERAL_PURPOSE_SSD": "gp3", "THROUGHPUT_OPTIMIZED_HDD": "st1"}


def ebs_volume_type(databricks_type: str) -> str:
    """The catalog's EBS volume type for a Databricks ``ebs_volume_type`` (``gp3`` when empty or unknown)."""
    return EBS_VOLUME_TYPES.get(str(databricks_type or "GENERAL_PURPOSE_SSD").upper(), "gp3")


def estimate_cluster_cost(
    cluster: Cluster,
    *,
    catalog: PriceCatalog,
    region: str,
    runtime_s: float,
    workers: float | None = None,
    cloud: str | None = None,
    plan: str = "Premium",
    compute_type: str = "jobs",
    startup_overhead_s: float | None = None,
) -> RunCost:
    """:func:`estimate_run_cost` of a :class:`~airflow_provider_gradient.core.cluster.Cluster`: its node and
    driver types, spot and ``first_on_demand``, Photon (either signal) and EBS volumes.

    :param workers: worker count to price (None: the fixed size, or the middle of the autoscale range).
    :param cloud: None = the cluster's own (:attr:`Cluster.cloud`).
    :raises PricingError: no node type, or what :func:`estimate_run_cost` raises.
    """
    if not cluster.node_type_id:
        raise PricingError("the cluster has no node_type_id: cannot price it")
    ebs = cluster.ebs_volume_count * cluster.ebs_volume_size_gb
    return estimate_run_cost(
        catalog=catalog,
        cloud=cloud or cluster.cloud,
        region=region,
        node_type=cluster.node_type_id,
        driver_node_type=cluster.driver_type,
        workers=cluster.mean_workers if workers is None else workers,
        runtime_s=runtime_s,
        spot=cluster.spot,
        first_on_demand=cluster.first_on_demand,
        photon=cluster.photon,
        plan=plan,
        compute_type=compute_type,
        ebs_gb_per_node=float(ebs),
        startup_overhead_s=startup_overhead_s,
        volume_type=ebs_volume_type(cluster.ebs_volume_type) if ebs and (cloud or cluster.cloud) == "aws" else None,
    )
