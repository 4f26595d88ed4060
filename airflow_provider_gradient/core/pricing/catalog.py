"""The price catalog: node types, on-demand/spot prices, DBU rates and disk prices per cloud and region.

The catalog ships as package data (``data/catalog.json``, schema in ``docs/pricing.md``). A user catalog
file (``[gradient] price_catalog``) is deep-merged over it, so it can add node types or regions, or change
single prices (negotiated discounts). Everything is parsed and indexed once; lookups are dict accesses.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from airflow_provider_gradient.core.pricing.arch import X86_64, cpu_architecture, normalize_architecture
from airflow_provider_gradient.core.pricing.errors import (
    CatalogFormatError,
    UnknownCloudError,
    UnknownNodeTypeError,
    UnknownPlanError,
    UnknownRegionError,
    UnknownVolumeTypeError,
)

#: Compute types with a DBU rate in the shipped catalog (an override may add others, e.g. ``dlt``, ``sql``).
COMPUTE_TYPES: tuple[str, ...] = ("jobs", "jobs_photon", "jobs_light", "all_purpose")

_COMPUTE_ALIASES: dict[str, str] = {
    "jobs": "jobs",
    "job": "jobs",
    "jobs_compute": "jobs",
    "automated": "jobs",
    "jobs_light": "jobs_light",
    "jobs_light_compute": "jobs_light",
    "light": "jobs_light",
    "jobs_photon": "jobs_photon",
    "jobs_compute_photon": "jobs_photon",
    "photon_jobs": "jobs_photon",
    "all_purpose": "all_purpose",
    "all_purpose_compute": "all_purpose",
    "allpurpose": "all_purpose",
    "interactive": "all_purpose",
}


@dataclass(frozen=True, slots=True)
class NodeType:
    """One instance / VM type as Databricks sees it.

    :param name: the Databricks ``node_type_id`` (``m5.xlarge``, ``Standard_D4ds_v5``).
    :param spot_discount: typical spot discount vs on-demand, 0..1 (0.65 = spot costs 35 % of on-demand).
    :param arch: CPU architecture, ``x86_64`` or ``arm64`` (the catalog's ``arch``, else read from the name).
    """

    name: str
    cloud: str
    family: str
    vcpus: int
    memory_gb: float
    local_disk_gb: float
    dbu_per_hour: float
    spot_discount: float
    gpu: int = 0
    arch: str = X86_64


def normalize_cloud(cloud: str) -> str:
    """Canonical cloud key (``aws`` / ``azure`` / ...)."""
    return str(cloud).strip().lower()


def normalize_compute_type(compute_type: str) -> str:
    """Canonical compute type (``jobs``, ``jobs_photon``, ``jobs_light``, ``all_purpose``); unknown values pass
    through."""
    key = str(compute_type).strip().lower().replace("-", "_").replace(" ", "_")
    return _COMPUTE_ALIASES.get(key, key)


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: dicts recursively, other values replaced, ``None`` deletes."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _num(value: Any, where: str, *, lo: float | None = 0.0, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CatalogFormatError(f"price catalog: {where} must be a number, got {value!r}")
    v = float(value)
    if v != v or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise CatalogFormatError(f"price catalog: {where} = {value!r} is out of range")
    return v


def _arch(value: Any, name: str, family: str, where: str) -> str:
    if value is None:
        return cpu_architecture(name, family)
    try:
        return normalize_architecture(str(value))
    except ValueError as exc:
        raise CatalogFormatError(f"price catalog: {where}.arch: {exc}") from None


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CatalogFormatError(f"price catalog: {where} must be an object, got {type(value).__name__}")
    return value


class _Cloud:
    """Indexed prices of one cloud (internal)."""

    __slots__ = (
        "name",
        "regions",
        "nodes",
        "nodes_ci",
        "prices",
        "dbu_rates",
        "storage",
        "photon_multiplier",
        "spot_spread",
        "compute_discount",
        "dbu_discount",
        "default_volume_type",
        "reference_region",
    )

    def __init__(self, name: str, raw: Mapping[str, Any]) -> None:
        self.name = name
        where = f"clouds.{name}"
        self.photon_multiplier = _num(
            raw.get("photon_dbu_multiplier", 2.0), f"{where}.photon_dbu_multiplier", lo=1.0
        )
        self.spot_spread = _num(raw.get("spot_discount_spread", 0.0), f"{where}.spot_discount_spread", hi=1.0)
        adj = _obj(raw.get("adjustments", {}), f"{where}.adjustments")
        self.compute_discount = _num(
            adj.get("compute_discount", 0.0), f"{where}.adjustments.compute_discount", hi=1.0
        )
        self.dbu_discount = _num(adj.get("dbu_discount", 0.0), f"{where}.adjustments.dbu_discount", hi=1.0)
        self.default_volume_type = str(
            raw.get("default_volume_type", "gp3" if name == "aws" else "premium_ssd")
        )

        self.dbu_rates: dict[str, dict[str, float]] = {}
        for plan, rates in _obj(raw.get("dbu_rates", {}), f"{where}.dbu_rates").items():
            self.dbu_rates[str(plan).lower()] = {
                normalize_compute_type(ct): _num(r, f"{where}.dbu_rates.{plan}.{ct}")
                for ct, r in _obj(rates, f"{where}.dbu_rates.{plan}").items()
            }
        self.storage: dict[str, dict[str, float]] = {}
        for region, vols in _obj(
            raw.get("storage_usd_per_gb_month", {}), f"{where}.storage_usd_per_gb_month"
        ).items():
            self.storage[str(region).lower()] = {
                str(v).lower(): _num(p, f"{where}.storage_usd_per_gb_month.{region}.{v}")
                for v, p in _obj(vols, f"{where}.storage_usd_per_gb_month.{region}").items()
            }

        listed = [str(r).lower() for r in raw.get("regions", ())]
        regions: set[str] = set(listed)
        self.nodes: dict[str, NodeType] = {}
        self.prices: dict[str, dict[str, float]] = {}
        for node_name, spec in _obj(raw.get("node_types", {}), f"{where}.node_types").items():
            nw = f"{where}.node_types.{node_name}"
            spec = _obj(spec, nw)
            for key in ("vcpus", "memory_gb", "dbu_per_hour", "hourly_usd"):
                if key not in spec:
                    raise CatalogFormatError(f"price catalog: {nw} has no {key!r}")
            self.nodes[node_name] = NodeType(
                name=node_name,
                cloud=name,
                family=str(spec.get("family") or node_name.split(".")[0]),
                vcpus=int(_num(spec["vcpus"], f"{nw}.vcpus", lo=1.0)),
                memory_gb=_num(spec["memory_gb"], f"{nw}.memory_gb"),
                local_disk_gb=_num(spec.get("local_disk_gb", 0.0), f"{nw}.local_disk_gb"),
                dbu_per_hour=_num(spec["dbu_per_hour"], f"{nw}.dbu_per_hour"),
                spot_discount=_num(spec.get("spot_discount", 0.0), f"{nw}.spot_discount", hi=0.99),
                gpu=int(_num(spec.get("gpu", 0), f"{nw}.gpu")),
                arch=_arch(spec.get("arch"), node_name, str(spec.get("family") or ""), nw),
            )
            for region, price in _obj(spec["hourly_usd"], f"{nw}.hourly_usd").items():
                r = str(region).lower()
                regions.add(r)
                self.prices.setdefault(r, {})[node_name] = _num(price, f"{nw}.hourly_usd.{region}") * (
                    1.0 - self.compute_discount
                )
        for r in regions:
            self.prices.setdefault(r, {})
        self.regions: tuple[str, ...] = tuple(sorted(regions))
        #: the first region the catalog lists (else the first priced): what estimates use when a project's
        #: region is not known, and say so
        self.reference_region: str = (listed or sorted(regions) or [""])[0]
        self.nodes_ci = {n.lower(): n for n in self.nodes}

    def region_prices(self, region: str) -> dict[str, float]:
        r = str(region).strip().lower()
        try:
            return self.prices[r]
        except KeyError:
            raise UnknownRegionError(self.name, region, self.regions) from None

    def resolve_node(self, name: str, region: str | None = None) -> NodeType:
        node = self.nodes.get(name)
        if node is None:
            real = self.nodes_ci.get(str(name).strip().lower())
            if real is None:
                raise UnknownNodeTypeError(self.name, name, region)
            node = self.nodes[real]
        return node


class PriceCatalog:
    """Indexed, immutable view of a (merged) price catalog. Build it with :func:`load_catalog`.

    :param raw: the catalog document (shipped JSON deep-merged with the user's override).
    """

    def __init__(self, raw: Mapping[str, Any], *, source: str = "<dict>") -> None:
        raw = _obj(raw, "top level")
        self.source = source
        self.raw: Mapping[str, Any] = raw
        self.prices_as_of = str(raw.get("prices_as_of", ""))
        self.sources: tuple[Mapping[str, Any], ...] = tuple(raw.get("sources", ()))
        defaults = _obj(raw.get("defaults", {}), "defaults")
        self.startup_overhead_s = _num(
            defaults.get("startup_overhead_s", 150.0), "defaults.startup_overhead_s"
        )
        self.hours_per_month = _num(
            defaults.get("hours_per_month", 730.0), "defaults.hours_per_month", lo=1.0
        )
        self._clouds: dict[str, _Cloud] = {
            normalize_cloud(c): _Cloud(normalize_cloud(c), _obj(spec, f"clouds.{c}"))
            for c, spec in _obj(raw.get("clouds", {}), "clouds").items()
        }
        if not self._clouds:
            raise CatalogFormatError("price catalog has no clouds")
        #: per (cloud, region, plan, compute type, photon) constants used by the cost model
        self._rate_cache: dict[tuple[str, str, str, str, bool], Any] = {}

    # -- internal -----------------------------------------------------------------------------------
    def _cloud(self, cloud: str) -> _Cloud:
        c = self._clouds.get(cloud)
        if c is None:
            c = self._clouds.get(normalize_cloud(cloud))
            if c is None:
                raise UnknownCloudError(cloud, self._clouds)
        return c

    # -- public -------------------------------------------------------------------------------------
    @property
    def clouds(self) -> tuple[str, ...]:
        """Cloud keys with prices (``aws``, ``azure``)."""
        return tuple(sorted(self._clouds))

    def regions(self, cloud: str) -> tuple[str, ...]:
        """Regions with on-demand prices on ``cloud``."""
        return self._cloud(cloud).regions

    def reference_region(self, cloud: str) -> str:
        """The first region the catalog lists for ``cloud`` (``us-east-1``, ``eastus`` shipped): used only for the
        estimates of a project whose region is not known, which then say so."""
        return self._cloud(cloud).reference_region

    def node_type(self, cloud: str, name: str) -> NodeType:
        """The node type ``name`` on ``cloud``; raises :class:`UnknownNodeTypeError` naming it."""
        return self._cloud(cloud).resolve_node(name)

    def node_types(self, cloud: str, region: str | None = None) -> tuple[NodeType, ...]:
        """All node types of ``cloud`` (only those priced in ``region`` when given), sorted by name."""
        c = self._cloud(cloud)
        if region is None:
            return tuple(c.nodes[n] for n in sorted(c.nodes))
        prices = c.region_prices(region)
        return tuple(c.nodes[n] for n in sorted(prices))

    def hourly_usd(self, cloud: str, region: str, name: str) -> float:
        """On-demand $/h of node type ``name`` in ``region`` (after the catalog's compute discount)."""
        c = self._cloud(cloud)
        prices = c.region_prices(region)
        node = c.resolve_node(name, region)
        try:
            return prices[node.name]
        except KeyError:
            raise UnknownNodeTypeError(c.name, name, region) from None

    def spot_hourly_usd(self, cloud: str, region: str, name: str) -> tuple[float, float]:
        """(typical, lowest) spot $/h: on-demand × (1 - discount) and × (1 - (discount + spread))."""
        c = self._cloud(cloud)
        od = self.hourly_usd(cloud, region, name)
        d = c.resolve_node(name).spot_discount
        return od * (1.0 - d), od * (1.0 - min(d + c.spot_spread, 0.95))

    def dbu_rate_usd(self, cloud: str, plan: str, compute_type: str) -> float:
        """$ per DBU for ``plan`` (Standard/Premium/Enterprise) and ``compute_type`` on ``cloud``."""
        c = self._cloud(cloud)
        rates = c.dbu_rates.get(str(plan).strip().lower())
        if rates is None:
            raise UnknownPlanError(c.name, "plan", plan, (p.capitalize() for p in c.dbu_rates))
        ct = normalize_compute_type(compute_type)
        rate = rates.get(ct)
        if rate is None:
            raise UnknownPlanError(c.name, "compute type", compute_type, rates)
        return rate * (1.0 - c.dbu_discount)

    def photon_multiplier(self, cloud: str) -> float:
        """DBU/h multiplier of a Photon cluster vs the same nodes without Photon."""
        return self._cloud(cloud).photon_multiplier

    def spot_discount_spread(self, cloud: str) -> float:
        """How much deeper than the typical discount the cheapest spot price is assumed to go."""
        return self._cloud(cloud).spot_spread

    def default_volume_type(self, cloud: str) -> str:
        """Volume type assumed for ``ebs_gb_per_node`` estimates (``gp3`` on AWS, ``premium_ssd`` on Azure)."""
        return self._cloud(cloud).default_volume_type

    def storage_usd_per_gb_month(self, cloud: str, region: str, volume_type: str) -> float:
        """$/GB-month of a disk of ``volume_type`` in ``region``."""
        c = self._cloud(cloud)
        r = str(region).strip().lower()
        vols = c.storage.get(r)
        if vols is None:
            raise UnknownRegionError(c.name, region, c.storage)
        price = vols.get(str(volume_type).strip().lower())
        if price is None:
            raise UnknownVolumeTypeError(c.name, region, volume_type, vols)
        return price

    def to_dict(self) -> dict[str, Any]:
        """The merged catalog document (JSON-safe)."""
        doc: dict[str, Any] = json.loads(json.dumps(self.raw))
        return doc

    def __repr__(self) -> str:
        return (
            f"PriceCatalog(source={self.source!r}, prices_as_of={self.prices_as_of!r}, clouds={self.clouds})"
        )


# -- loading ------------------------------------------------------------------------------------------

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, int, int] | None, PriceCatalog] = {}
_SHIPPED: dict[str, Any] = {}


def shipped_catalog_document() -> dict[str, Any]:
    """The shipped catalog JSON as a dict (a fresh copy)."""
    with _LOCK:
        if not _SHIPPED:
            text = (
                resources.files("airflow_provider_gradient.core.pricing")
                .joinpath("data", "catalog.json")
                .read_text("utf-8")
            )
            _SHIPPED.update(json.loads(text))
    doc: dict[str, Any] = json.loads(json.dumps(_SHIPPED))
    return doc


def _read_override(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise CatalogFormatError(f"price catalog override {path!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogFormatError(f"price catalog override {path!r} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CatalogFormatError(
            f"price catalog override {path!r} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    if not isinstance(doc, dict):
        raise CatalogFormatError(f"price catalog override {path!r} must be a JSON object")
    return doc


def merge_catalogs(base: Mapping[str, Any], overrides: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Deep-merge catalog documents in order (later wins; ``null`` removes a key)."""
    out = dict(base)
    for doc in overrides:
        out = _deep_merge(out, doc)
    return out


def load_catalog(override_path: str | os.PathLike[str] | None = None) -> PriceCatalog:
    """The shipped catalog, with the JSON file ``override_path`` deep-merged over it when given.

    Results are cached per process (keyed on the override file's path, mtime and size), so calling this
    per run is cheap; an edited override file is picked up.

    :param override_path: a user catalog (``[gradient] price_catalog``); empty/None = shipped only.
    """
    key: tuple[str, int, int] | None = None
    path = os.fspath(override_path) if override_path else ""
    if path:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise CatalogFormatError(f"price catalog override {path!r} does not exist") from None
        key = (os.path.abspath(path), st.st_mtime_ns, st.st_size)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    doc = shipped_catalog_document()
    source = "shipped"
    if path:
        doc = merge_catalogs(doc, [_read_override(path)])
        source = f"shipped+{path}"
    catalog = PriceCatalog(doc, source=source)
    with _LOCK:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = catalog
    return catalog
