"""Node-type facts (vCPUs, memory, network) for the job models.

Facts come from the project's price catalog (``core.pricing.load_catalog``) when it knows the node type;
otherwise they are derived from the instance name (AWS ``<family>.<size>`` and Azure ``Standard_<X><n>...``)
so the models also work for node types the catalog lacks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["NodeFacts", "UnknownNodeType", "node_facts"]


class UnknownNodeType(ValueError):
    """The node type is neither in the price catalog nor derivable from its name."""


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What the models need to know about one node type.

    :param name: node type id.
    :param vcpus: vCPUs (= Spark executor cores on Databricks).
    :param memory_gb: memory of the VM.
    :param network_gbps: sustained network bandwidth.
    """

    name: str
    vcpus: int
    memory_gb: float
    network_gbps: float

    @property
    def executor_heap_gb(self) -> float:
        """Executor JVM heap Databricks configures (about 72 % of the VM's memory)."""
        return max(0.5, self.memory_gb * 0.72)

    @property
    def unified_memory_gb(self) -> float:
        """Spark unified (execution + storage) memory: ``(heap - 300 MB) * spark.memory.fraction (0.6)``."""
        return max(0.1, (self.executor_heap_gb - 0.3) * 0.6)

    @property
    def memory_per_core_gb(self) -> float:
        """Unified memory share of one concurrently running task."""
        return self.unified_memory_gb / max(1, self.vcpus)


_AWS_SIZES = {
    "large": 2, "xlarge": 4, "2xlarge": 8, "3xlarge": 12, "4xlarge": 16, "6xlarge": 24, "8xlarge": 32,
    "9xlarge": 36, "12xlarge": 48, "16xlarge": 64, "18xlarge": 72, "24xlarge": 96, "metal": 96,
}
#: GB of memory per vCPU by AWS family letter.
_AWS_MEM_PER_CPU = {"m": 4.0, "r": 8.0, "c": 2.0, "i": 7.625, "x": 16.0, "z": 8.0, "d": 4.0, "g": 4.0, "p": 7.6}
#: GB of memory per vCPU by Azure series letter.
_AZURE_MEM_PER_CPU = {"D": 4.0, "E": 8.0, "F": 2.0, "L": 8.0, "M": 28.0, "DS": 3.5, "NC": 7.0}


def _network(vcpus: int) -> float:
    return float(min(25.0, max(1.25, vcpus * 0.625)))


def _derive(name: str) -> NodeFacts | None:
    m = re.fullmatch(r"([a-z]+)(\d+)([a-z-]*)\.(\w+)", name)
    if m:
        family, size = m.group(1), m.group(4)
        if size not in _AWS_SIZES:
            return None
        vcpus = _AWS_SIZES[size]
        ratio = _AWS_MEM_PER_CPU.get(family[0], 4.0)
        if family.startswith("i3"):
            ratio = 7.625
        return NodeFacts(name, vcpus, vcpus * ratio, _network(vcpus))
    m = re.fullmatch(r"Standard_([A-Z]+)(\d+)([a-z]*)(_v\d)?", name)
    if m:
        series, vcpus = m.group(1), int(m.group(2))
        ratio = _AZURE_MEM_PER_CPU.get(series, _AZURE_MEM_PER_CPU.get(series[0], 4.0))
        return NodeFacts(name, vcpus, vcpus * ratio, _network(vcpus))
    m = re.fullmatch(r"n[12]d?-(standard|highmem|highcpu)-(\d+)", name)
    if m:
        vcpus = int(m.group(2))
        ratio = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}[m.group(1)]
        return NodeFacts(name, vcpus, vcpus * ratio, _network(vcpus))
    return None


@functools.lru_cache(maxsize=1)
def _catalog() -> object | None:
    from airflow_provider_gradient.core.pricing import load_catalog

    try:
        return load_catalog()
    except Exception:  # noqa: BLE001 - a broken catalog must not break the emulator; fall back to names
        return None


@functools.lru_cache(maxsize=4096)
def node_facts(cloud: str, name: str) -> NodeFacts:
    """Facts for ``name`` on ``cloud``: from the price catalog, else derived from the name.

    :param cloud: ``aws``, ``azure`` or ``gcp``.
    :param name: node type id, e.g. ``m5.2xlarge``.
    :raises UnknownNodeType: when neither source knows it.
    """
    catalog = _catalog()
    if catalog is not None:
        try:
            nt = catalog.node_type(cloud, name)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - UnknownNodeTypeError or a catalog quirk: derive instead
            nt = None
        if nt is not None:
            vcpus = int(nt.vcpus)
            return NodeFacts(name, vcpus, float(nt.memory_gb), _network(vcpus))
    derived = _derive(name)
    if derived is None:
        raise UnknownNodeType(f"unknown node type {name!r} for cloud {cloud!r}")
    return derived
