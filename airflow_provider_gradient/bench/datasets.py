"""Real measured grids for the optimiser benchmark: C3O (Spark-style jobs, 5 repetitions, input sizes) and
Scout (Hadoop jobs, one run per configuration, failures and 2-hour timeouts).

The data sets are read from a folder given by the caller (``../shared/datasets`` in this project); nothing of
them ships in the package. Both run on EC2 c4/m4/r4 nodes, priced with :data:`GEN4_CATALOG`: a fixed,
consistent catalog of AWS us-east-1 on-demand list prices of that generation plus Databricks-style DBU rates
(jobs compute, $0.15/DBU), so costs are comparable across strategies (not a quote).
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_gradient.bench.grid import Catalog, GridError, GridRow, catalog_from_dict

#: (name, vCPUs, memory GB, on-demand $/h, DBU/h) of the c4/m4/r4 node types used by both data sets.
_GEN4: tuple[tuple[str, int, float, float, float], ...] = (
    ("c4.large", 2, 3.75, 0.100, 0.50), ("c4.xlarge", 4, 7.5, 0.199, 1.00), ("c4.2xlarge", 8, 15.0, 0.398, 2.00),
    ("m4.large", 2, 8.0, 0.100, 0.40), ("m4.xlarge", 4, 16.0, 0.200, 0.75), ("m4.2xlarge", 8, 32.0, 0.400, 1.50),
    ("r4.large", 2, 15.25, 0.133, 0.50), ("r4.xlarge", 4, 30.5, 0.266, 1.00), ("r4.2xlarge", 8, 61.0, 0.532, 2.00),
)
GEN4_CATALOG: Catalog = catalog_from_dict({
    "dbu_usd": 0.15,
    "node_types": [{"name": n, "vcpus": v, "memory_gb": m, "hourly_usd": h, "dbu_per_hour": d}
                   for n, v, m, h, d in _GEN4],
}, "GEN4_CATALOG")

#: Columns of the C3O files that describe the cluster or the outcome (the rest are job parameters).
_C3O_CLUSTER_COLUMNS = {"instance_count", "machine_type", "slots", "memory", "data_size_MB", "gross_runtime"}
#: The parameter that drives input size in each C3O job (a growing-input series varies only it).
C3O_SIZE_PARAM: dict[str, str] = {"sort": "lines", "grep": "lines", "kmeans": "observations",
                                  "sgd": "observations", "pagerank": "links"}


@dataclass(frozen=True, slots=True)
class RealCase:
    """One job setting to replay.

    :param suite: ``c3o`` or ``scout``.
    :param job: a readable name of the job setting.
    :param rows: its grid rows (repetitions kept; ``input_size`` set for growing-input series).
    :param baselines: (node_type, workers) baselines to replay from.
    :param input_sizes: sizes of the runs for a growing-input series (None: one fixed input).
    """

    suite: str
    job: str
    rows: tuple[GridRow, ...]
    baselines: tuple[tuple[str, int], ...]
    input_sizes: tuple[float, ...] | None = None


def _read_tsv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise GridError(f"{path}: cannot read ({exc})") from exc


def _baselines(rows: Sequence[GridRow], family_node: str, workers: Sequence[int]) -> tuple[tuple[str, int], ...]:
    keys = {r.key for r in rows}
    return tuple((family_node, w) for w in workers if (family_node, w) in keys)


def c3o_cases(folder: str | Path, *, baseline_workers: Sequence[int] = (4, 8)) -> list[RealCase]:
    """C3O job settings with at least two machine types (the family choice matters) plus, per job, the largest
    input of its main machine type: 15 settings; baseline = the most-measured machine type at 4 and 8 nodes.

    :param folder: the ``c3o`` folder (``grep.tsv`` …).
    :param baseline_workers: baseline node counts.
    """
    root = Path(folder)
    cases: list[RealCase] = []
    for job in ("sort", "grep", "kmeans", "pagerank", "sgd"):
        raw = _read_tsv(root / f"{job}.tsv")
        if not raw:
            raise GridError(f"{root / job}.tsv is empty")
        params = [c for c in raw[0] if c not in _C3O_CLUSTER_COLUMNS]
        main = Counter(r["machine_type"] for r in raw).most_common(1)[0][0]
        groups: dict[tuple[str, ...], list[dict[str, str]]] = defaultdict(list)
        for r in raw:
            groups[tuple(r[p] for p in params)].append(r)
        multi = [k for k, g in groups.items() if len({r["machine_type"] for r in g}) > 1]
        size = {k: statistics.median(float(r["data_size_MB"]) for r in g) for k, g in groups.items()}
        single = [k for k in groups if k not in multi]
        picked = list(multi)
        if single:
            picked.append(max(single, key=lambda k: (size[k], k)))
        for k in picked:
            rows = tuple(GridRow(r["machine_type"], int(r["instance_count"]), float(r["gross_runtime"]), True)
                         for r in groups[k])
            name = f"{job}[" + ",".join(f"{p}={v}" for p, v in zip(params, k, strict=True)) + "]"
            cases.append(RealCase("c3o", name, rows, _baselines(rows, main, baseline_workers)))
    return cases


def c3o_growing_cases(folder: str | Path, *, baseline_workers: Sequence[int] = (4, 8)) -> list[RealCase]:
    """Growing-input series of C3O: per job, the settings that differ only in the size-driving parameter
    (the series with the most sizes), on the (machine type, nodes) measured at every size; ``input_size`` in
    bytes (``data_size_MB`` × 10⁶).

    :param folder: the ``c3o`` folder.
    :param baseline_workers: baseline node counts (on the most-measured machine type).
    """
    root = Path(folder)
    cases: list[RealCase] = []
    for job, vary in C3O_SIZE_PARAM.items():
        raw = _read_tsv(root / f"{job}.tsv")
        params = [c for c in raw[0] if c not in _C3O_CLUSTER_COLUMNS]
        fixed = [p for p in params if p != vary]
        main = Counter(r["machine_type"] for r in raw).most_common(1)[0][0]
        series: dict[tuple[str, ...], list[dict[str, str]]] = defaultdict(list)
        for r in raw:
            series[tuple(r[p] for p in fixed)].append(r)

        key = max(series, key=lambda k: (len({r[vary] for r in series[k]}), len(series[k]), k))
        g = series[key]
        # input size of each value of the varying parameter (median: C3O has one known entry error)
        by_val: dict[str, list[float]] = defaultdict(list)
        for r in g:
            by_val[r[vary]].append(float(r["data_size_MB"]))
        size_of = {v: float(statistics.median(s)) * 1e6 for v, s in by_val.items()}  # MB -> bytes
        shapes_at: dict[float, set[tuple[str, int]]] = defaultdict(set)
        for r in g:
            shapes_at[size_of[r[vary]]].add((r["machine_type"], int(r["instance_count"])))
        common = set.intersection(*shapes_at.values())
        rows = tuple(GridRow(r["machine_type"], int(r["instance_count"]), float(r["gross_runtime"]), True,
                             None, size_of[r[vary]])
                     for r in g if (r["machine_type"], int(r["instance_count"])) in common)
        sizes = tuple(sorted(shapes_at))
        name = f"{job}[{vary} rising; " + ",".join(f"{p}={v}" for p, v in zip(fixed, key, strict=True)) + "]"
        cases.append(RealCase("c3o-growing", name, rows, _baselines(rows, main, baseline_workers), sizes))
    return cases


def rising_schedule(sizes: Sequence[float], budget: int) -> list[float]:
    """Spread ascending ``sizes`` over ``budget`` runs (run 1 at the smallest, the last run at the largest)."""
    s = sorted(sizes)
    if budget <= 1 or len(s) == 1:
        return [s[-1]] * max(budget, 1)
    return [s[round(i * (len(s) - 1) / (budget - 1))] for i in range(budget)]


def scout_cases(path: str | Path, *, baselines: Sequence[tuple[str, int]] = (
        ("m4.xlarge", 8), ("m4.large", 16), ("m4.2xlarge", 4))) -> list[RealCase]:
    """Scout Hadoop workloads: one run per configuration; ``completed=false`` is a failure of unknown cause
    (a 2-hour timeout or an early stop), costing its elapsed time.

    :param path: ``scout-hadoop/runs.csv``.
    :param baselines: baselines (all 32 vCPUs of m4 by default; 8×m4.xlarge is the held-out set's).
    """
    p = Path(path)
    try:
        with p.open(newline="") as fh:
            raw = list(csv.DictReader(fh))
    except OSError as exc:
        raise GridError(f"{p}: cannot read ({exc})") from exc
    by_job: dict[str, list[GridRow]] = defaultdict(list)
    for r in raw:
        ok = r["completed"].strip().lower() == "true"
        by_job[r["workload"]].append(GridRow(f"{r['family']}.{r['size']}", int(r["nodes"]), float(r["elapsed_s"]),
                                             ok, None))
    out = []
    for job, rows in by_job.items():
        t = tuple(rows)
        keys = {r.key for r in t}
        out.append(RealCase("scout", job, t, tuple(b for b in baselines if b in keys)))
    return out
