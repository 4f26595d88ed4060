"""One Databricks cluster spec as a frozen, typed value object (pure: no Airflow, no I/O).

Every layer reads a ``new_cluster`` dict (a submit payload, a job's cluster, a ``clusters/get`` answer, a stored
run's config) with :meth:`Cluster.from_databricks` and writes one with :meth:`Cluster.to_databricks`, so the
rules live here once:

* size: ``num_workers`` (fixed) or ``autoscale.min_workers``/``max_workers``. When both are given (``clusters/get``
  of an autoscaled cluster reports its current size too) the cluster autoscales;
* spot: the attributes block's ``availability`` (``SPOT…`` on AWS/Azure, ``PREEMPTIBLE…`` on GCP);
  ``first_on_demand`` nodes, the driver first, stay on-demand (1 when not set);
* Photon: ``runtime_engine == "PHOTON"`` **or** a legacy ``-photon-`` ``spark_version`` — Databricks runs
  Photon for either, so it is priced and modelled as Photon for either (:func:`is_photon`);
* cloud: the attributes block present, else the node type's naming (``Standard_…`` Azure, ``n1-``/``n2-``
  GCP), else AWS;
* every other key (``spark_conf``, ``cluster_log_conf``, ``init_scripts``, fields Databricks adds later ...),
  and every other key of an attributes block, is kept as it is: ``to_databricks(from_databricks(x)) == x``
  for a well-formed ``x`` (numbers given as strings come back as numbers).

Bad input raises :class:`ClusterError`, whose ``field`` names the problem (``autoscale.max_workers`` ...).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AwsAttributes",
    "AzureAttributes",
    "Cluster",
    "ClusterError",
    "GcpAttributes",
    "SHAPE_FIELDS",
    "cloud_of_node_type",
    "is_photon",
    "plain_spark_version",
]


class ClusterError(ValueError):
    """A ``new_cluster`` that is not a valid Databricks cluster spec.

    :param field: the offending field, dotted (``aws_attributes.first_on_demand``).
    :param message: what is wrong with it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"new_cluster.{field} {message}" if field else f"new_cluster {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.field, self.message)


def is_photon(runtime_engine: str | None, spark_version: str | None) -> bool:
    """Whether a cluster runs Photon: ``runtime_engine`` ``PHOTON`` or a legacy ``…-photon-…`` Spark version.

    :param runtime_engine: ``PHOTON`` / ``STANDARD`` / empty.
    :param spark_version: e.g. ``15.4.x-photon-scala2.12``.
    """
    return str(runtime_engine or "").strip().upper() == "PHOTON" or "photon" in str(spark_version or "").lower().split("-")


def plain_spark_version(spark_version: str) -> str:
    """A legacy ``…-photon-…`` Spark version without its ``photon`` part (``15.4.x-photon-scala2.12`` ->
    ``15.4.x-scala2.12``); Databricks rejects ``runtime_engine`` next to such a version."""
    return "-".join(p for p in str(spark_version).split("-") if p.lower() != "photon")


def cloud_of_node_type(node_type_id: str) -> str:
    """Cloud of a node type by its naming: ``azure`` (``Standard_…``), ``gcp`` (``n1-``/``n2-``…), else ``aws``."""
    if node_type_id.startswith("Standard_"):
        return "azure"
    if node_type_id.startswith(("n1-", "n2-")):
        return "gcp"
    return "aws"


# ------------------------------------------------------------------ parsing helpers


def _int(value: Any, name: str) -> int:
    """A whole number >= 0 (``4``, ``4.0`` or ``"4"``)."""
    out: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        out = value
    elif isinstance(value, float) and value.is_integer():
        out = int(value)
    elif isinstance(value, str) and value.isascii() and value.strip().lstrip("-").isdigit():
        out = int(value.strip())
    if out is None or out < 0:
        raise ClusterError(name, f"must be a whole number >= 0, got {value!r}")
    return out


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ClusterError(name, f"must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ClusterError(name, f"must be a number, got {value!r}") from None


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ClusterError(name, f"must be a string, got {value!r}")
    return value


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ClusterError(name, f"must be an object, got {type(value).__name__}")
    return value


_PARSERS = {int: _int, float: _float, str: _str}
_SCALARS = (str, int, float, bool, type(None))


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (scalars as they are)."""
    return value if isinstance(value, _SCALARS) else copy.deepcopy(value)


def _read_block(cls: type[Any], raw: Any, name: str) -> Any:
    """An attributes block: typed fields parsed (None values = absent), other keys into ``extra``."""
    raw = _mapping(raw, name)
    kinds: dict[str, Any] = cls._KINDS
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        kind = kinds.get(key)
        if kind is None or value is None:
            extra[key] = _copy(value)
        else:
            values[key] = _PARSERS[kind](value, f"{name}.{key}")
    return cls(**values, extra=extra)


def _write_block(block: Any) -> dict[str, Any]:
    out = copy.deepcopy(dict(block.extra))
    for key in block._KINDS:
        value = getattr(block, key)
        if value is not None:
            out[key] = value
    return out


# ------------------------------------------------------------------ attributes blocks


@dataclass(frozen=True, slots=True)
class AwsAttributes:
    """``aws_attributes`` of a cluster.

    :param availability: ``ON_DEMAND``, ``SPOT`` or ``SPOT_WITH_FALLBACK``.
    :param first_on_demand: nodes (driver first) kept on-demand.
    :param zone_id: availability zone (``us-east-1a``, ``auto``).
    :param spot_bid_price_percent: max spot price, % of the on-demand price.
    :param ebs_volume_type: ``GENERAL_PURPOSE_SSD`` or ``THROUGHPUT_OPTIMIZED_HDD``.
    :param ebs_volume_count: EBS volumes per node.
    :param ebs_volume_size: GB per EBS volume.
    :param extra: every other key (``instance_profile_arn``, ``ebs_volume_iops`` ...), kept as given.
    """

    _KINDS = {"availability": str, "first_on_demand": int, "zone_id": str, "spot_bid_price_percent": int,
              "ebs_volume_type": str, "ebs_volume_count": int, "ebs_volume_size": int}

    availability: str | None = None
    first_on_demand: int | None = None
    zone_id: str | None = None
    spot_bid_price_percent: int | None = None
    ebs_volume_type: str | None = None
    ebs_volume_count: int | None = None
    ebs_volume_size: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class AzureAttributes:
    """``azure_attributes`` of a cluster.

    :param availability: ``ON_DEMAND_AZURE``, ``SPOT_AZURE`` or ``SPOT_WITH_FALLBACK_AZURE``.
    :param first_on_demand: nodes (driver first) kept on-demand.
    :param spot_bid_max_price: max spot price in USD (-1: up to the on-demand price).
    :param extra: every other key (``log_analytics_info`` ...), kept as given.
    """

    _KINDS = {"availability": str, "first_on_demand": int, "spot_bid_max_price": float}

    availability: str | None = None
    first_on_demand: int | None = None
    spot_bid_max_price: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class GcpAttributes:
    """``gcp_attributes`` of a cluster.

    :param availability: ``ON_DEMAND_GCP``, ``PREEMPTIBLE_GCP`` or ``PREEMPTIBLE_WITH_FALLBACK_GCP``.
    :param zone_id: zone (``us-central1-a``, ``HA``, ``AUTO``).
    :param extra: every other key (``google_service_account``, ``local_ssd_count`` ...), kept as given.
    """

    _KINDS = {"availability": str, "zone_id": str}

    availability: str | None = None
    zone_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


Attributes = AwsAttributes | AzureAttributes | GcpAttributes
_BLOCKS: dict[str, tuple[str, type[Any]]] = {
    "aws": ("aws_attributes", AwsAttributes),
    "azure": ("azure_attributes", AzureAttributes),
    "gcp": ("gcp_attributes", GcpAttributes),
}
#: availability written by :meth:`Cluster.with_market` per cloud: (spot, on-demand)
_AVAILABILITY = {
    "aws": ("SPOT_WITH_FALLBACK", "ON_DEMAND"),
    "azure": ("SPOT_WITH_FALLBACK_AZURE", "ON_DEMAND_AZURE"),
    "gcp": ("PREEMPTIBLE_WITH_FALLBACK_GCP", "ON_DEMAND_GCP"),
}
#: the model-relevant facts of a cluster (:meth:`Cluster.shape`, :meth:`Cluster.reshaped`)
SHAPE_FIELDS = ("node_type_id", "driver_node_type_id", "num_workers", "autoscale_min", "autoscale_max", "spot",
                "first_on_demand", "photon", "ebs_volume_count", "ebs_volume_size_gb")
#: top-level keys with a typed field; every other key goes to ``Cluster.extra``
_TOP_STR = ("node_type_id", "driver_node_type_id", "spark_version", "runtime_engine", "instance_pool_id")
_KNOWN = frozenset((*_TOP_STR, "num_workers", "autoscale", "custom_tags", *(k for k, _ in _BLOCKS.values())))


# ------------------------------------------------------------------ the cluster


@dataclass(frozen=True, slots=True)
class Cluster:
    """A Databricks cluster spec (``new_cluster``), typed. Empty strings and None mean "not set".

    :param node_type_id: worker node type (may be empty only with ``instance_pool_id``).
    :param driver_node_type_id: driver node type ("" = same as the workers, see :attr:`driver_type`).
    :param num_workers: fixed size (also reported next to ``autoscale`` by ``clusters/get``).
    :param autoscale_min: ``autoscale.min_workers``.
    :param autoscale_max: ``autoscale.max_workers`` (set = the cluster autoscales).
    :param spark_version: Databricks runtime, e.g. ``15.4.x-scala2.12``.
    :param runtime_engine: ``PHOTON`` / ``STANDARD`` as given.
    :param instance_pool_id: instance pool the nodes come from.
    :param aws_attributes: AWS block.
    :param azure_attributes: Azure block.
    :param gcp_attributes: GCP block.
    :param custom_tags: ``custom_tags`` (None = not set).
    :param extra: every other key of the spec, kept as given.
    """

    node_type_id: str = ""
    driver_node_type_id: str = ""
    num_workers: int | None = None
    autoscale_min: int | None = None
    autoscale_max: int | None = None
    spark_version: str = ""
    runtime_engine: str = ""
    instance_pool_id: str = ""
    aws_attributes: AwsAttributes | None = None
    azure_attributes: AzureAttributes | None = None
    gcp_attributes: GcpAttributes | None = None
    custom_tags: Mapping[str, Any] | None = field(default=None, hash=False)
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.num_workers is not None and self.num_workers < 0:
            raise ClusterError("num_workers", f"must be a whole number >= 0, got {self.num_workers}")
        if (self.autoscale_min is None) != (self.autoscale_max is None):
            raise ClusterError("autoscale", "needs both min_workers and max_workers")
        if self.autoscale_min is not None and self.autoscale_max is not None:
            if self.autoscale_min < 0 or self.autoscale_max < self.autoscale_min:
                raise ClusterError(
                    "autoscale", f"range is invalid: min_workers={self.autoscale_min} max_workers={self.autoscale_max}"
                )

    # -------------------------------------------------------------- reading

    @classmethod
    def from_databricks(cls, new_cluster: Mapping[str, Any], *, strict: bool = True) -> Cluster:
        """Read a Databricks ``new_cluster`` dict.

        :param new_cluster: the spec (submit payload, job cluster, ``clusters/get`` answer, stored config).
        :param strict: also require a node type (or an instance pool) and a size (``num_workers`` or
            ``autoscale``); off for display and for answers that may be partial.
        :raises ClusterError: a field of the wrong type or out of range, or (strict) a missing one.
        """
        if not isinstance(new_cluster, Mapping):
            raise ClusterError("", f"must be an object, got {type(new_cluster).__name__}")
        raw = new_cluster
        extra = {k: _copy(v) for k, v in raw.items() if k not in _KNOWN or v is None}
        given = {k: v for k, v in raw.items() if k in _KNOWN and v is not None}
        values: dict[str, Any] = {k: _str(given[k], k) for k in _TOP_STR if k in given}
        if "num_workers" in given:
            values["num_workers"] = _int(given["num_workers"], "num_workers")
        auto = given.get("autoscale")
        if auto is not None:
            auto = _mapping(auto, "autoscale")
            if auto:
                values["autoscale_min"] = _int(auto.get("min_workers", 1), "autoscale.min_workers")
                values["autoscale_max"] = _int(auto.get("max_workers", 1), "autoscale.max_workers")
                if set(auto) - {"min_workers", "max_workers"}:
                    raise ClusterError("autoscale", f"has unknown keys {sorted(set(auto) - {'min_workers', 'max_workers'})}")
            else:
                extra["autoscale"] = dict(auto)  # an empty object: kept, not an autoscale range
        for key, block_cls in _BLOCKS.values():
            if key in given:
                values[key] = _read_block(block_cls, given[key], key)
        if "custom_tags" in given:
            values["custom_tags"] = copy.deepcopy(dict(_mapping(given["custom_tags"], "custom_tags")))
        out = cls(**values, extra=extra)
        if strict:
            if not out.node_type_id and not out.instance_pool_id:
                raise ClusterError("node_type_id", "is required (or an instance_pool_id)")
            if out.num_workers is None and not out.is_autoscale:
                raise ClusterError("num_workers", "is required: give num_workers or autoscale")
        return out

    # -------------------------------------------------------------- writing

    def to_databricks(self) -> dict[str, Any]:
        """The Databricks ``new_cluster`` dict (a new, deep-copied dict: unknown keys as they were read)."""
        out: dict[str, Any] = copy.deepcopy(dict(self.extra))
        for key in _TOP_STR:
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.num_workers is not None:
            out["num_workers"] = self.num_workers
        if self.autoscale_max is not None:
            out["autoscale"] = {"min_workers": self.autoscale_min, "max_workers": self.autoscale_max}
        for key, _ in _BLOCKS.values():
            block = getattr(self, key)
            if block is not None:
                out[key] = _write_block(block)
        if self.custom_tags is not None:
            out["custom_tags"] = copy.deepcopy(dict(self.custom_tags))
        return out

    # -------------------------------------------------------------- derived facts

    @property
    def driver_type(self) -> str:
        """The driver's node type (the workers' when not set)."""
        return self.driver_node_type_id or self.node_type_id

    @property
    def is_autoscale(self) -> bool:
        """True when the cluster autoscales."""
        return self.autoscale_max is not None

    @property
    def min_workers(self) -> int:
        """Workers at start: the fixed size or the autoscale minimum (0 when no size is given)."""
        if self.autoscale_min is not None:
            return self.autoscale_min
        return self.num_workers or 0

    @property
    def max_workers(self) -> int:
        """Most workers: the fixed size or the autoscale maximum (0 when no size is given)."""
        if self.autoscale_max is not None:
            return self.autoscale_max
        return self.num_workers or 0

    @property
    def mean_workers(self) -> float:
        """The fixed size, or the middle of the autoscale range."""
        if self.autoscale_min is not None and self.autoscale_max is not None:
            return (self.autoscale_min + self.autoscale_max) / 2.0
        return float(self.num_workers or 0)

    @property
    def cloud(self) -> str:
        """``aws``, ``azure`` or ``gcp``: the attributes block present, else the node type's naming."""
        if self.azure_attributes is not None:
            return "azure"
        if self.gcp_attributes is not None:
            return "gcp"
        if self.aws_attributes is not None:
            return "aws"
        return cloud_of_node_type(self.node_type_id)

    @property
    def attributes(self) -> Attributes | None:
        """The attributes block of :attr:`cloud` (None when not set)."""
        block: Attributes | None = getattr(self, _BLOCKS[self.cloud][0])
        return block

    @property
    def availability(self) -> str:
        """The block's ``availability``, upper case ("" when not set: on-demand)."""
        block = self.attributes
        return str(block.availability or "").upper() if block is not None else ""

    @property
    def spot(self) -> bool:
        """Workers on spot / preemptible instances (with or without fallback)."""
        return "SPOT" in self.availability or "PREEMPTIBLE" in self.availability

    @property
    def first_on_demand(self) -> int:
        """Nodes (driver first) kept on-demand (1 when not set)."""
        block = self.attributes
        value = getattr(block, "first_on_demand", None) if block is not None else None
        return 1 if value is None else int(value)

    @property
    def photon(self) -> bool:
        """Photon runtime, by either signal (:func:`is_photon`)."""
        return is_photon(self.runtime_engine, self.spark_version)

    @property
    def ebs_volume_count(self) -> int:
        """EBS volumes per node (0 when none / not AWS)."""
        return int(self.aws_attributes.ebs_volume_count or 0) if self.aws_attributes is not None else 0

    @property
    def ebs_volume_size_gb(self) -> int:
        """GB per EBS volume (0 when none / not AWS)."""
        return int(self.aws_attributes.ebs_volume_size or 0) if self.aws_attributes is not None else 0

    @property
    def ebs_volume_type(self) -> str:
        """Databricks EBS volume type ("" when not set)."""
        return str(self.aws_attributes.ebs_volume_type or "") if self.aws_attributes is not None else ""

    def shape(self) -> dict[str, Any]:
        """The model-relevant facts (:data:`SHAPE_FIELDS`), the keyword arguments of the optimiser's ``ClusterShape``
        and the emulator's ``ClusterSpec``: ``num_workers`` is None for an autoscaled (or unsized) cluster."""
        return {
            "node_type_id": self.node_type_id,
            "driver_node_type_id": self.driver_type,
            "num_workers": None if self.is_autoscale else self.num_workers,
            "autoscale_min": self.autoscale_min,
            "autoscale_max": self.autoscale_max,
            "spot": self.spot,
            "first_on_demand": self.first_on_demand,
            "photon": self.photon,
            "ebs_volume_count": self.ebs_volume_count,
            "ebs_volume_size_gb": self.ebs_volume_size_gb,
        }

    # -------------------------------------------------------------- changed copies

    def reshaped(self, cloud: str, **shape: Any) -> Cluster:
        """A copy with the model-relevant facts of :meth:`shape` replaced (other fields and keys kept): node types,
        size, Photon (``runtime_engine``), ``cloud``'s availability and ``first_on_demand``, and on AWS the EBS
        volumes (only when ``ebs_volume_count`` > 0).

        :param cloud: ``aws``, ``azure`` or ``gcp`` (the attributes block written).
        :param shape: every key of :data:`SHAPE_FIELDS`.
        """
        missing = set(SHAPE_FIELDS) - set(shape)
        if missing:
            raise ClusterError(sorted(missing)[0], "is required to reshape a cluster")
        c = dataclasses.replace(self, node_type_id=shape["node_type_id"],
                                driver_node_type_id=shape["driver_node_type_id"])
        if shape["num_workers"] is not None:
            c = c.with_size(num_workers=shape["num_workers"])
        else:
            c = c.with_size(autoscale=(shape["autoscale_min"], shape["autoscale_max"]))
        c = c.with_photon(shape["photon"]).with_market(cloud, shape["spot"], shape["first_on_demand"])
        if cloud not in ("azure", "gcp") and shape["ebs_volume_count"] > 0:
            c = c.with_ebs(shape["ebs_volume_count"], shape["ebs_volume_size_gb"])
        return c

    def _drop_extra(self, *keys: str) -> dict[str, Any]:
        return {k: v for k, v in self.extra.items() if k not in keys}

    def with_size(self, num_workers: int | None = None, autoscale: tuple[int, int] | None = None) -> Cluster:
        """A copy with a fixed size or an autoscale range (exactly one; the other is removed).

        :raises ClusterError: both or neither given, or an invalid size.
        """
        if (num_workers is None) == (autoscale is None):
            raise ClusterError("num_workers", "or autoscale: give exactly one")
        lo, hi = autoscale if autoscale is not None else (None, None)
        return dataclasses.replace(self, num_workers=num_workers, autoscale_min=lo, autoscale_max=hi,
                                   extra=self._drop_extra("num_workers", "autoscale"))

    def with_photon(self, photon: bool) -> Cluster:
        """A copy running Photon or not: ``runtime_engine`` set, and a legacy ``-photon-`` Spark version replaced
        by its plain one (Databricks rejects ``runtime_engine`` next to a ``-photon-`` version)."""
        return dataclasses.replace(self, runtime_engine="PHOTON" if photon else "STANDARD",
                                   spark_version=plain_spark_version(self.spark_version),
                                   extra=self._drop_extra("runtime_engine"))

    def with_market(self, cloud: str, spot: bool, first_on_demand: int | None) -> Cluster:
        """A copy on spot (with fallback) or on-demand workers, in ``cloud``'s attributes block (other keys kept).

        :param cloud: ``aws``, ``azure`` or ``gcp``.
        :param first_on_demand: nodes kept on-demand (AWS/Azure; None = leave as is).
        """
        key, block_cls = _BLOCKS.get(cloud, _BLOCKS["aws"])
        block = getattr(self, key) or block_cls()
        changes: dict[str, Any] = {"availability": _AVAILABILITY.get(cloud, _AVAILABILITY["aws"])[0 if spot else 1]}
        if first_on_demand is not None and "first_on_demand" in block_cls._KINDS:
            changes["first_on_demand"] = int(first_on_demand)
        block = dataclasses.replace(block, **changes, extra={k: v for k, v in block.extra.items() if k not in changes})
        return dataclasses.replace(self, **{key: block}, extra=self._drop_extra(key))

    def with_ebs(self, count: int, size_gb: int, volume_type: str = "GENERAL_PURPOSE_SSD") -> Cluster:
        """A copy with ``count`` EBS volumes of ``size_gb`` per node (``volume_type`` only when none is set)."""
        block = self.aws_attributes or AwsAttributes()
        block = dataclasses.replace(
            block, ebs_volume_count=count, ebs_volume_size=size_gb, ebs_volume_type=block.ebs_volume_type or volume_type,
            extra={k: v for k, v in block.extra.items() if k not in ("ebs_volume_count", "ebs_volume_size", "ebs_volume_type")},
        )
        return dataclasses.replace(self, aws_attributes=block, extra=self._drop_extra("aws_attributes"))


def cluster_label(cfg: Mapping[str, Any] | None, *, ascii_only: bool = False) -> str:
    """``node × workers`` (or ``node × min–max``), plus ``spot``/``photon`` hints, of a new_cluster dict
    (read as a :class:`Cluster`; an invalid one names its bad field). The pages, the demo report and the CLI
    show it.

    :param cfg: a Databricks ``new_cluster`` dict (None or empty: ``—``)
    :param ascii_only: ``x`` and ``-`` instead of ``×`` and dashes (terminal output)
    """
    times, dash, none = ("x", "-", "-") if ascii_only else ("×", "–", "—")
    if not cfg:
        return none
    try:
        c = Cluster.from_databricks(cfg, strict=False)
    except ClusterError as exc:
        return f"{cfg.get('node_type_id') or '?'} (invalid {exc.field})"
    if c.is_autoscale:
        workers = f"{c.autoscale_min}{dash}{c.autoscale_max}"
    else:
        workers = "?" if c.num_workers is None else str(c.num_workers)
    extra = [name for name, on in (("spot", c.spot), ("photon", c.photon)) if on]
    node = c.node_type_id or c.instance_pool_id or "?"
    return f"{node} {times} {workers}" + (f" ({', '.join(extra)})" if extra else "")
