"""Recorded grids of measured runs (CSV) and their price catalog (JSON), per the replay contract.

A grid may hold several rows per configuration: repetitions of the same ``(node_type, workers)`` (and input
size, when the optional ``input_size`` column is present). A *configuration* is judged by its rows together:
it succeeds when most of its rows succeeded, and its runtime is the median of its successful rows.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_gradient.core.optimizer.types import NodeOption, SearchSpace


class GridError(ValueError):
    """A grid CSV or catalog JSON is malformed (the message names the file and the problem)."""


@dataclass(frozen=True, slots=True)
class GridRow:
    """One measured configuration.

    :param node_type: worker node type.
    :param workers: worker count.
    :param runtime_s: runtime (until failure for a failed run).
    :param succeeded: run outcome.
    :param failure_kind: the CSV's ``failure_kind`` of a failed row; None when it does not say (a failure of
        unknown cause, never assumed to be memory).
    :param input_size: input size of the run in any unit (column ``input_size``), None when the grid has none.
    :param true_runtime_s: the configuration's noise-free runtime when the source knows it (grids built from the
        simulator); None for measured grids, whose configurations are judged on their median.
    """

    node_type: str
    workers: int
    runtime_s: float
    succeeded: bool
    failure_kind: str | None = None
    input_size: float | None = None
    true_runtime_s: float | None = None

    @property
    def key(self) -> tuple[str, int]:
        """``(node_type, workers)``: the cluster shape of the row."""
        return (self.node_type, self.workers)


@dataclass(frozen=True, slots=True)
class Config:
    """All rows of one configuration ``(node_type, workers, input_size)``.

    :param node_type: worker node type.
    :param workers: worker count.
    :param input_size: input size (None when the grid has no sizes).
    :param rows: its repetitions, in file order.
    """

    node_type: str
    workers: int
    input_size: float | None
    rows: tuple[GridRow, ...]

    @property
    def succeeded(self) -> bool:
        """True when most of its rows succeeded."""
        return 2 * sum(1 for r in self.rows if r.succeeded) > len(self.rows)

    @property
    def runtime_s(self) -> float:
        """The noise-free runtime when every row knows it (a simulator grid: the oracle and "meets the SLA" are
        then not decided by lucky draws), else the median runtime of the successful rows (of all rows when none
        succeeded)."""
        true = {r.true_runtime_s for r in self.rows}
        if len(true) == 1 and (t := next(iter(true))) is not None:
            return float(t)
        return self.median_runtime_s

    @property
    def median_runtime_s(self) -> float:
        """Median runtime of the successful rows (of all rows when none succeeded), whatever the source knows."""
        ok = [r.runtime_s for r in self.rows if r.succeeded] or [r.runtime_s for r in self.rows]
        return float(statistics.median(ok))


@dataclass(frozen=True, slots=True)
class Catalog:
    """Replay price catalog: ``{"dbu_usd": x, "node_types": [{name, vcpus, memory_gb, hourly_usd, dbu_per_hour}]}``."""

    dbu_usd: float
    nodes: dict[str, NodeOption]

    def rate_usd(self, node_type: str) -> float:
        """$ per node-hour (cloud + DBU)."""
        n = self.nodes[node_type]
        return n.hourly_usd + n.dbu_per_hour * self.dbu_usd

    def cost_usd(self, node_type: str, workers: int, runtime_s: float) -> float:
        """Contract cost: ``runtime_s/3600 × workers × (hourly_usd + dbu_per_hour × dbu_usd)``."""
        return runtime_s / 3600.0 * workers * self.rate_usd(node_type)


def _family(name: str) -> str:
    return name.split(".", 1)[0] if "." in name else name.rsplit("_", 1)[0]


def catalog_from_dict(data: Any, source: str = "catalog") -> Catalog:
    """Validate and build a :class:`Catalog`.

    :param data: parsed JSON.
    :param source: name for error messages.
    """
    if not isinstance(data, dict) or "node_types" not in data or "dbu_usd" not in data:
        raise GridError(f"{source}: expected an object with 'dbu_usd' and 'node_types'")
    nodes: dict[str, NodeOption] = {}
    for j, n in enumerate(data["node_types"]):
        try:
            nodes[str(n["name"])] = NodeOption(
                name=str(n["name"]),
                family=str(n.get("family") or _family(str(n["name"]))),
                vcpus=int(n["vcpus"]),
                memory_gb=float(n["memory_gb"]),
                hourly_usd=float(n["hourly_usd"]),
                dbu_per_hour=float(n["dbu_per_hour"]),
                spot_discount=float(n.get("spot_discount", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GridError(f"{source}: node_types[{j}] is invalid ({exc!r})") from exc
    if not nodes:
        raise GridError(f"{source}: node_types is empty")
    try:
        dbu = float(data["dbu_usd"])
    except (TypeError, ValueError) as exc:
        raise GridError(f"{source}: dbu_usd is not a number") from exc
    return Catalog(dbu_usd=dbu, nodes=nodes)


def load_catalog_json(path: str | Path) -> Catalog:
    """Read a replay catalog JSON file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GridError(f"{p}: cannot read catalog JSON ({exc})") from exc
    return catalog_from_dict(data, str(p))


def _bool(v: str, where: str) -> bool:
    s = v.strip().lower()
    if s in ("true", "1", "yes", "t", "y"):
        return True
    if s in ("false", "0", "no", "f", "n"):
        return False
    raise GridError(f"{where}: succeeded must be true/false, got {v!r}")


def load_grid_csv(path: str | Path) -> list[GridRow]:
    """Read a grid CSV (columns ``node_type,workers,runtime_s,succeeded``; optional ``failure_kind`` and
    ``input_size``; others ignored). Every row is kept: repeated configurations are repetitions.

    :param path: CSV file.
    """
    p = Path(path)
    try:
        fh = p.open(newline="")
    except OSError as exc:
        raise GridError(f"{p}: cannot read grid CSV ({exc})") from exc
    rows: list[GridRow] = []
    with fh:
        reader = csv.DictReader(fh)
        need = {"node_type", "workers", "runtime_s", "succeeded"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise GridError(f"{p}: CSV must have columns {sorted(need)}")
        for ln, r in enumerate(reader, start=2):
            where = f"{p}:{ln}"
            try:
                workers = int(float(r["workers"]))
                runtime = float(r["runtime_s"])
            except (TypeError, ValueError) as exc:
                raise GridError(f"{where}: workers/runtime_s not numeric") from exc
            ok = _bool(r["succeeded"], where)
            kind = (r.get("failure_kind") or "").strip().lower() or None
            if kind is not None and kind not in ("oom", "spot", "timeout", "other"):
                raise GridError(f"{where}: failure_kind must be oom/spot/timeout/other or empty, got {kind!r}")
            size_txt = (r.get("input_size") or "").strip()
            try:
                size = float(size_txt) if size_txt else None
            except ValueError as exc:
                raise GridError(f"{where}: input_size {size_txt!r} is not numeric") from exc
            if workers < 0 or runtime < 0 or (size is not None and size < 0):
                raise GridError(f"{where}: workers, runtime_s and input_size must be >= 0")
            rows.append(GridRow(r["node_type"], workers, runtime, ok, None if ok else kind, size))
    if not rows:
        raise GridError(f"{p}: grid is empty")
    sized = {r.input_size is not None for r in rows}
    if len(sized) > 1:
        raise GridError(f"{p}: input_size is empty on some rows and set on others")
    return rows


def configs(rows: Sequence[GridRow]) -> dict[tuple[str, int, float | None], Config]:
    """Group rows by ``(node_type, workers, input_size)`` (file order kept)."""
    groups: dict[tuple[str, int, float | None], list[GridRow]] = {}
    for r in rows:
        groups.setdefault((r.node_type, r.workers, r.input_size), []).append(r)
    return {k: Config(k[0], k[1], k[2], tuple(v)) for k, v in groups.items()}


def grid_space(rows: list[GridRow], catalog: Catalog, region: str = "us-east-1") -> SearchSpace:
    """The search space of a replay: exactly the grid's rows.

    :param rows: grid rows (node types must be in the catalog).
    :param catalog: prices.
    :param region: region name carried in the space (AWS).
    """
    missing = sorted({r.node_type for r in rows} - set(catalog.nodes))
    if missing:
        raise GridError(f"grid node types missing from the catalog: {missing}")
    used = [catalog.nodes[n] for n in dict.fromkeys(r.node_type for r in rows)]
    ws = [r.workers for r in rows]
    return SearchSpace(
        cloud="aws", region=region, node_types=tuple(used), dbu_usd=catalog.dbu_usd,
        min_workers=min(ws), max_workers=max(ws), allow_autoscale=False, allow_spot=False, allow_photon=False,
        allowed_shapes=tuple(dict.fromkeys(r.key for r in rows)),
    )


def oracle(rows: Sequence[GridRow], catalog: Catalog, sla_s: float,
           input_size: float | None = None) -> tuple[Config, float] | None:
    """Cheapest configuration (at ``input_size``) that succeeds with its median runtime within the SLA.

    :param rows: grid rows.
    :param catalog: prices.
    :param sla_s: SLA in seconds.
    :param input_size: the input size to judge at (None: the grid has no sizes).
    :returns: the configuration and its cost at the median runtime, or None when none meets the SLA.
    """
    feas = [(catalog.cost_usd(c.node_type, c.workers, c.runtime_s), c.node_type, c.workers, c)
            for c in configs(rows).values()
            if c.input_size == input_size and c.succeeded and c.runtime_s <= sla_s]
    if not feas:
        return None
    cost, _, _, cfg = min(feas, key=lambda t: (t[0], t[1], t[2]))
    return cfg, cost
