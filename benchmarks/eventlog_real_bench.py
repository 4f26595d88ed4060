"""Benchmark of the event log parser on large logs built from REAL lines (several mixes, one run).

Each mix is synthesised by resampling real lines of the public logs in ``../shared/eventlogs/public``
and renumbering them (job / stage / task / SQL ids, timestamps) so that the result is one coherent
application: jobs, their submitted stages, their tasks. The number of lines of each event type per job
follows the mix's byte shares and the real line sizes, so each event type keeps its share of bytes
and its line sizes (the achieved shares are printed). Mixes:

* ``databricks-sql``: shares and lines of the Databricks SQL logs (``spark_log_parser``: big
  JobStart / StageSubmitted lines, SQL adaptive updates, 5-6 KB TaskEnds);
* ``emr-rdd``: the shares of an RDD-heavy EMR log (TaskEnd 43 %, JobStart 20 % at ~17 KB a line,
  StageSubmitted 14.5 %, StageCompleted 17.7 % at 7-9 KB, TaskStart 4 %), lines from every public log,
  JobStart / stage lines drawn towards those sizes;
* ``photon``: a Photon-like shape. The corpus holds no Photon log, so its TaskEnds are real Databricks
  TaskEnds carrying more real accumulables (drawn from other real TaskEnds, ids renumbered), ~14 KB a
  line, with heavier SQL events;
* ``synthetic``: the generated log of ``eventlog_bench.py`` (small TaskStart / TaskEnd lines).

For each mix, on its gzip file: the floors of ``eventlog_bench.py`` (read + gunzip + split lines,
chunked and ``for line in gzip.open``), ``parse_event_log`` in a fresh process (peak RSS from
``ru_maxrss``), the ratio floor time / parse time, and a digest of the summary (equal digests =
identical ``to_dict()`` output, to compare two versions of the parser). Each timing is the best of
``--repeat`` tries (the machine is shared); ratios are within one run.

Usage: ``python benchmarks/eventlog_real_bench.py [--mb 100] [--repeat 3] [--mix NAME ...] [--keep DIR]
[--compare DIR]``; ``--compare`` times another version too (``git archive <commit> airflow_provider_gradient |
tar -x -C DIR``), with the same floors, in the same run: equal digests mean identical summaries.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eventlog_bench import floor_chunked, floor_lines, generate, gzip_file  # noqa: E402

from airflow_provider_gradient.core.eventlog.inputs import open_input  # noqa: E402

PUBLIC = Path(__file__).resolve().parents[1].parent / "shared" / "eventlogs" / "public"
DATABRICKS = ["spark_log_parser/databricks.json", "spark_log_parser/databricks-rollover.zip"]
OPEN_SOURCE = [
    "spark-rapids-tools/nds_q72_dataproc_2_2.zstd",
    "spark-rapids-tools/cluster_information/platform/emr",
    "spark-rapids-tools/cluster_information/eventlog_3nodes_12cores_exec_removed",
    "spark-rapids-tools/gpu_eventlog",
    "spark-rapids-tools/jdbc_eventlog.zstd",
    "apache-spark/local-1642039451826",
    "apache-spark/historic/application_1506645932520_24630151",
    "apache-spark/local-1430917381534",
]

TE, TS = "SparkListenerTaskEnd", "SparkListenerTaskStart"
JS, JE = "SparkListenerJobStart", "SparkListenerJobEnd"
SS, SC = "SparkListenerStageSubmitted", "SparkListenerStageCompleted"
SQL = "org.apache.spark.sql.execution.ui."
SQL_START, SQL_END = SQL + "SparkListenerSQLExecutionStart", SQL + "SparkListenerSQLExecutionEnd"
STRUCTURAL = {TE, TS, JS, JE, SS, SC, SQL_START, SQL_END}
#: Events written once at the start of the log (not resampled).
ONCE = {
    "SparkListenerLogStart",
    "SparkListenerEnvironmentUpdate",
    "SparkListenerApplicationStart",
    "DBCEventLoggingListenerMetadata",
    "SparkListenerResourceProfileAdded",
    "SparkListenerApplicationEnd",
}

# byte shares (percent) of the mixes that are not taken from their sources; "other" = SQL events
EMR_RDD = {TE: 43.0, JS: 20.0, SS: 14.5, SC: 17.7, TS: 4.0}
EMR_RDD_SIZE = {JS: 17_000, SS: 7_500, SC: 8_500, TE: 3_600}
PHOTON = {TE: 70.0, JS: 7.0, SS: 5.0, SC: 4.0, TS: 2.0, SQL + "SparkListenerSQLAdaptiveExecutionUpdate": 8.0}
PHOTON_TE_SIZE = 14_000


def _lines(rel: str) -> Iterator[bytes]:
    """Decoded lines of a public log (any container / codec), through the parser's own input layer."""
    with open_input(PUBLIC / rel) as inp:
        for part in inp.parts:
            rest = b""
            for chunk in part.chunks():
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                yield from (x for x in lines if x.strip())
            if rest.strip():
                yield rest


class Pool:
    """Real events of some logs, by type (decoded once; sizes are those of the real lines)."""

    def __init__(self, rels: list[str], cap: int = 2500, seed: int = 5) -> None:
        rnd = random.Random(seed)
        self.by_type: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        self.head: list[dict[str, Any]] = []
        self.bytes: Counter[str] = Counter()
        self.first = rels[0]
        for i, rel in enumerate(rels):
            seen: Counter[str] = Counter()
            for line in _lines(rel):
                if line.startswith(b'{"Event":"'):
                    kind = line[10 : line.index(b'"', 10)].decode()
                else:
                    kind = orjson.loads(line).get("Event")
                    if not isinstance(kind, str):
                        continue
                if i == 0:
                    self.bytes[kind] += len(line) + 1
                if (
                    kind in ONCE
                    or kind.startswith("SparkListenerBlockManager")
                    or kind.endswith("ExecutorAdded")
                ):
                    if i == 0 and kind != "SparkListenerApplicationEnd":
                        self.head.append(orjson.loads(line))
                    continue
                # reservoir sample of at most `cap` lines of each type of each log (bounded memory)
                seen[kind] += 1
                items = self.by_type[kind]
                if seen[kind] <= cap:
                    items.append((len(line) + 1, orjson.loads(line)))
                else:
                    j = rnd.randrange(seen[kind])
                    if j < cap:
                        items[len(items) - cap + j] = (len(line) + 1, orjson.loads(line))

    def shares(self) -> dict[str, float]:
        """Byte shares (percent) of the resampled event types in the first log of the pool."""
        kept = {k: v for k, v in self.bytes.items() if k in self.by_type}
        total = sum(kept.values())
        return {k: 100.0 * v / total for k, v in kept.items()}

    def towards(self, kind: str, mean: float) -> None:
        """Keep the lines of ``kind`` closest in size to ``mean`` (a third of them, at least 20)."""
        items = sorted(self.by_type[kind], key=lambda x: abs(math.log(x[0] / mean)))
        self.by_type[kind] = items[: max(20, len(items) // 3)]

    def avg(self, kind: str) -> float:
        items = self.by_type[kind]
        return sum(s for s, _ in items) / len(items)


def _photon_task_ends(pool: Pool, rnd: random.Random) -> None:
    """Photon-like TaskEnds: real TaskEnds whose accumulables are topped up with real ones of other lines."""
    accs = [a for _, ev in pool.by_type[TE] for a in (ev.get("Task Info") or {}).get("Accumulables") or ()]
    grown = []
    for size, ev in pool.by_type[TE]:
        ev = copy.deepcopy(ev)
        mine = ev["Task Info"].setdefault("Accumulables", [])
        next_id = 100_000
        while size < PHOTON_TE_SIZE * rnd.uniform(0.7, 1.3):
            acc = dict(rnd.choice(accs))
            acc["ID"] = next_id
            next_id += 1
            mine.append(acc)
            size += len(orjson.dumps(acc)) + 1
        grown.append((size, ev))
    pool.by_type[TE] = grown


class Writer:
    """Writes one coherent application from resampled real events."""

    def __init__(self, pool: Pool, shares: dict[str, float], rnd: random.Random) -> None:
        self.pool = pool
        self.rnd = rnd
        self.now = 1_700_000_000_000
        self.job = self.stage = self.task = self.sql = 0
        self.written: Counter[str] = Counter()
        avg = {k: pool.avg(k) for k in shares if pool.by_type.get(k)}
        lines = {k: shares[k] / avg[k] for k in avg}  # lines of each type, relative
        self.per_job = {k: n / lines[JS] for k, n in lines.items() if k not in (JS, TE, TS)}
        self.per_stage = lines[TE] / lines[SS]
        self.start_per_end = lines.get(TS, 0.0) / lines[TE]
        self.carry: Counter[str] = Counter()

    def _count(self, key: str, rate: float) -> int:
        self.carry[key] += rate
        n = int(self.carry[key])
        self.carry[key] -= n
        return n

    def _pick(self, kind: str) -> dict[str, Any]:
        return self.rnd.choice(self.pool.by_type[kind])[1]

    def _emit(self, out: Any, ev: dict[str, Any]) -> None:
        data = orjson.dumps(ev)
        self.written[ev["Event"]] += len(data) + 1
        out.write(data + b"\n")

    def head(self, out: Any) -> None:
        for ev in self.pool.head:
            if "Timestamp" in ev and isinstance(ev["Timestamp"], int):
                ev["Timestamp"] = self.now
            self._emit(out, ev)

    def job_(self, out: Any) -> None:
        ev = self._pick(JS)
        n_stages = self._count(SS, self.per_job.get(SS, 1.0)) or 1
        infos = ev.get("Stage Infos") or []
        ids = list(range(self.stage, self.stage + max(len(infos), n_stages)))
        self.stage += len(ids)
        for info, sid in zip(infos, ids, strict=False):
            info["Stage ID"] = sid
        new_sql = SQL_START in self.per_job and self._count(SQL_START, self.per_job[SQL_START]) > 0
        if new_sql:
            self.sql += 1
            start = self._pick(SQL_START)
            start["executionId"], start["time"] = self.sql, self.now
            self._emit(out, start)
        ev["Job ID"], ev["Submission Time"], ev["Stage IDs"] = self.job, self.now, ids
        props = ev.get("Properties")
        if isinstance(props, dict) and "spark.sql.execution.id" in props:
            props["spark.sql.execution.id"] = str(self.sql)
        self._emit(out, ev)
        for kind, rate in self.per_job.items():
            if kind in STRUCTURAL:
                continue
            for _ in range(self._count(kind, rate)):
                other = self._pick(kind)
                if "executionId" in other:
                    other["executionId"] = self.sql
                self._emit(out, other)
        for sid in ids[-n_stages:]:
            self._stage(out, sid)
        end = {
            "Event": JE,
            "Job ID": self.job,
            "Completion Time": self.now,
            "Job Result": {"Result": "JobSucceeded"},
        }
        self._emit(out, end)
        if new_sql:
            self._emit(out, {"Event": SQL_END, "executionId": self.sql, "time": self.now})
        self.job += 1

    def _stage(self, out: Any, sid: int) -> None:
        tasks = self._count("tasks", self.per_stage) or 1
        sub = self._pick(SS)
        info = sub["Stage Info"]
        info.update(
            {"Stage ID": sid, "Stage Attempt ID": 0, "Submission Time": self.now, "Number of Tasks": tasks}
        )
        info["Parent IDs"] = [
            sid - 1 - k for k in range(len(info.get("Parent IDs") or ())) if sid - 1 - k >= 0
        ]
        info.pop("Completion Time", None)
        self._emit(out, sub)
        start = self.now
        for i in range(tasks):
            te = self._pick(TE)
            ti = te.get("Task Info") or {}
            dur = max(0, int(ti.get("Finish Time") or 0) - int(ti.get("Launch Time") or 0))
            launch = start + self.rnd.randint(0, 2000)
            self.now = max(self.now, launch + dur)
            if self._count("starts", self.start_per_end):
                ts = self._pick(TS)
                ts.update({"Stage ID": sid, "Stage Attempt ID": 0})
                tsi = ts.get("Task Info") or {}
                tsi.update({"Task ID": self.task, "Index": i, "Launch Time": launch})
                self._emit(out, ts)
            te.update({"Stage ID": sid, "Stage Attempt ID": 0})
            ti.update({"Task ID": self.task, "Index": i, "Launch Time": launch, "Finish Time": launch + dur})
            self._emit(out, te)
            self.task += 1
        self.now += 50
        done = self._pick(SC)
        dinfo = done["Stage Info"]
        dinfo.update(
            {"Stage ID": sid, "Stage Attempt ID": 0, "Submission Time": start, "Number of Tasks": tasks}
        )
        dinfo["Parent IDs"] = info["Parent IDs"]
        dinfo["Completion Time"] = self.now
        dinfo.pop("Failure Reason", None)
        self._emit(out, done)
        self.now += 20


def build_mix(name: str, path: Path, mb: float, seed: int = 11) -> str:
    """Write mix ``name`` (about ``mb`` MB) to ``path``; return a line describing its shape."""
    rnd = random.Random(seed)
    if name == "databricks-sql":
        pool = Pool(DATABRICKS)
        shares = pool.shares()
    elif name == "emr-rdd":
        pool = Pool(OPEN_SOURCE + DATABRICKS)
        for kind, size in EMR_RDD_SIZE.items():
            if kind != TE:
                pool.towards(kind, size)
        pool.by_type[TE] = [x for x in pool.by_type[TE] if x[0] < 2 * EMR_RDD_SIZE[TE]]
        shares = dict(EMR_RDD)
    elif name == "photon":
        pool = Pool(DATABRICKS)
        _photon_task_ends(pool, rnd)
        shares = dict(PHOTON)
    else:
        raise ValueError(name)
    writer = Writer(pool, shares, rnd)
    limit = mb * 1e6
    with open(path, "wb", buffering=1 << 22) as out:
        writer.head(out)
        while sum(writer.written.values()) < limit:
            writer.job_(out)
        writer._emit(out, {"Event": "SparkListenerApplicationEnd", "Timestamp": writer.now + 1000})
    total = sum(writer.written.values())
    top = sorted(writer.written.items(), key=lambda x: -x[1])[:6]
    sizes = {k: pool.avg(k) for k, _ in top if pool.by_type.get(k)}
    return ", ".join(
        f"{k.rsplit('.', 1)[-1].removeprefix('SparkListener')} {100 * v / total:.1f}%"
        + (f" ({sizes[k] / 1000:.1f} KB)" if k in sizes else "")
        for k, v in top
    )


# Peak RSS from VmHWM: ru_maxrss would include the (large) RSS of this process, inherited at fork.
CHILD = """
import hashlib, re, sys, time, orjson
from airflow_provider_gradient.core.eventlog import parse_event_log
c, t = time.process_time(), time.perf_counter()
s = parse_event_log(sys.argv[1])
c, t = time.process_time() - c, time.perf_counter() - t
digest = hashlib.sha256(orjson.dumps(s.to_dict(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(c, t, hwm, digest, s.tasks, s.stages, s.jobs)
"""


def parse_in_child(path: Path, root: Path | None = None) -> tuple[float, float, float, str, str]:
    """CPU s, wall s, peak RSS MiB, summary digest, counts.

    :param root: a directory holding another version of the ``airflow_provider_gradient`` package to
        time instead of the installed one (for example ``git archive <commit> airflow_provider_gradient``).
    """
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = str(root)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=root,
    )
    f = out.stdout.split()
    return float(f[0]), float(f[1]), int(f[2]) / 1024.0, f[3], f"{f[4]} tasks, {f[5]} stages, {f[6]} jobs"


def timed(fn: Any, path: Path) -> tuple[float, float]:
    """CPU and wall seconds of ``fn(path)`` in this process."""
    c, t = time.process_time(), time.perf_counter()
    fn(path)
    return time.process_time() - c, time.perf_counter() - t


MIXES = ["databricks-sql", "emr-rdd", "photon", "synthetic"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=100.0, help="uncompressed size of each mix (MB)")
    ap.add_argument("--repeat", type=int, default=3, help="timings are the best of this many tries")
    ap.add_argument("--mix", action="append", choices=MIXES, help="only these mixes (default: all)")
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the generated files in this dir")
    ap.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="also time the parser of another version: a dir holding its airflow_provider_gradient package",
    )
    args = ap.parse_args()
    versions: dict[str, Path | None] = {"this": None}
    if args.compare is not None:
        versions[f"{args.compare}"] = args.compare.resolve()
    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="eventlog_real_bench_")
        work = Path(tmp.name)
    else:
        work = args.keep
        work.mkdir(parents=True, exist_ok=True)
    print(f"load: {os.getloadavg()[0]:.2f} (1 min) at start")
    rows = []
    try:
        for mix in args.mix or MIXES:
            plain = work / f"{mix}_{args.mb:g}MB.json"
            gz = plain.with_suffix(".json.gz")
            shape_file = plain.with_suffix(".shape")
            if not (plain.exists() and gz.exists() and shape_file.exists()):
                if mix == "synthetic":
                    generate(plain, int(args.mb * 1e6 / 1820))
                    shape = "generated TaskStart / TaskEnd lines (eventlog_bench.py)"
                else:
                    shape = build_mix(mix, plain, args.mb)
                gzip_file(plain, gz)
                shape_file.write_text(shape)
            size_mb = plain.stat().st_size / 1e6
            print(f"{mix}: {size_mb:.0f} MB, {gz.stat().st_size / 1e6:.0f} MB gzip; {shape_file.read_text()}")
            floors_c: list[tuple[float, float]] = []
            floors_l: list[tuple[float, float]] = []
            runs: dict[str, list[tuple[float, float, float, str, str]]] = {v: [] for v in versions}
            for _ in range(args.repeat):  # interleaved, so that a change of load hits every column
                floors_c.append(timed(floor_chunked, gz))
                floors_l.append(timed(floor_lines, gz))
                for version, root in versions.items():
                    runs[version].append(parse_in_child(gz.resolve(), root))
            for version, got in runs.items():
                digest, counts = got[0][3], got[0][4]
                assert all(r[3] == digest for r in got), "the parser gave different summaries of one log"
                for k, how in ((0, "cpu"), (1, "wall")):
                    fc = min(x[k] for x in floors_c)
                    fl = min(x[k] for x in floors_l)
                    tp = min(r[k] for r in got)
                    rss = max(r[2] for r in got)
                    rows.append((mix, version, how, size_mb, size_mb / tp, size_mb / fc, size_mb / fl, fc / tp,
                                 fl / tp, rss, digest, counts))  # fmt: skip
        print(f"load: {os.getloadavg()[0]:.2f} (1 min) at end")
        print()
        print(
            "Timings: best of --repeat; cpu = process CPU time (robust on a shared machine), wall = elapsed."
        )
        print("| mix | parser | time | MB | parse MB/s | floor MB/s (chunked / for-line) | ratio (chunked / for-line) "
              "| peak RSS MiB | summary digest |")  # fmt: skip
        print("|---|---|---|---:|---:|---:|---:|---:|---|")
        for mix, version, how, mb, p, fc_, fl_, rc, rl, rss, digest, counts in rows:
            print(f"| {mix} | {version} | {how} | {mb:.0f} | {p:.0f} | {fc_:.0f} / {fl_:.0f} | {rc:.2f} / {rl:.2f} "
                  f"| {rss:.0f} | {digest} ({counts}) |")  # fmt: skip
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
