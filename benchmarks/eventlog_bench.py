"""Benchmark of the streaming event log parser on a large synthetic Spark log.

Generates (under a temp dir, not the repo) a Spark 3-style event log of >= 1 GB uncompressed with
>= 2 M tasks, plus its gzip, then prints on one core:

* the floor: read + gunzip + split lines in Python (chunked split, and ``for line in gzip.open``);
* ``parse_event_log`` on the .gz and on the plain file (MB/s of uncompressed log, ratio to the floor);
* a naive approach: ``json.loads`` every line into a pandas DataFrame (timed on a prefix and
  extrapolated, because the full frame would not fit in memory);
* peak RSS of ``parse_event_log`` in a fresh subprocess (``ru_maxrss``).

Usage: ``python benchmarks/eventlog_bench.py [--tasks 2050000] [--keep DIR]``. Takes a few minutes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

SLOTS = 256
CORES = 4

TASK_START = (
    '{{"Event":"SparkListenerTaskStart","Stage ID":{stage},"Stage Attempt ID":0,"Task Info":{{"Task ID":{tid},'
    '"Index":{idx},"Attempt":0,"Partition ID":{idx},"Launch Time":{launch},"Executor ID":"{ex}",'
    '"Host":"10.0.{hh}.{hl}","Locality":"PROCESS_LOCAL","Speculative":false,"Getting Result Time":0,'
    '"Finish Time":0,"Failed":false,"Killed":false,"Accumulables":[]}}}}\n'
)
TASK_END = (
    '{{"Event":"SparkListenerTaskEnd","Stage ID":{stage},"Stage Attempt ID":0,"Task Type":"{ttype}",'
    '"Task End Reason":{reason},"Task Info":{{"Task ID":{tid},"Index":{idx},"Attempt":0,'
    '"Partition ID":{idx},"Launch Time":{launch},"Executor ID":"{ex}","Host":"10.0.{hh}.{hl}",'
    '"Locality":"PROCESS_LOCAL","Speculative":false,"Getting Result Time":0,"Finish Time":{finish},'
    '"Failed":{failed},"Killed":false,"Accumulables":[{{"ID":{acc},"Name":"number of output rows",'
    '"Update":"{rec}","Value":"{accv}","Internal":true,"Count Failed Values":true,"Metadata":"sql"}}]}},'
    '"Task Executor Metrics":{{"JVMHeapMemory":0,"JVMOffHeapMemory":0,"OnHeapExecutionMemory":0,'
    '"OffHeapExecutionMemory":0,"OnHeapStorageMemory":0,"OffHeapStorageMemory":0}},'
    '"Task Metrics":{{"Executor Deserialize Time":{deser},"Executor Deserialize CPU Time":{deser_cpu},'
    '"Executor Run Time":{run},"Executor CPU Time":{cpu},"Peak Execution Memory":{peak},'
    '"Result Size":{rsize},"JVM GC Time":{gc},"Result Serialization Time":0,'
    '"Memory Bytes Spilled":{mspill},"Disk Bytes Spilled":{dspill},"Shuffle Read Metrics":'
    '{{"Remote Blocks Fetched":{rbf},"Local Blocks Fetched":{lbf},"Fetch Wait Time":{fw},'
    '"Remote Bytes Read":{rbr},"Remote Bytes Read To Disk":0,"Local Bytes Read":{lbr},'
    '"Total Records Read":{srr}}},"Shuffle Write Metrics":{{"Shuffle Bytes Written":{sbw},'
    '"Shuffle Write Time":{swt},"Shuffle Records Written":{swr}}},"Input Metrics":'
    '{{"Bytes Read":{ibr},"Records Read":{irr}}},"Output Metrics":{{"Bytes Written":0,'
    '"Records Written":0}},"Updated Blocks":[]}}}}\n'
)
SUCCESS = '{"Reason":"Success"}'
FAILURE = (
    '{"Reason":"ExceptionFailure","Class Name":"java.lang.RuntimeException","Description":"boom",'
    '"Stack Trace":[],"Full Stack Trace":"java.lang.RuntimeException: boom","Accumulator Updates":[]}'
)


def generate(path: Path, n_tasks: int, seed: int = 7) -> dict[str, int]:
    """Write the synthetic log; return the true counts (tasks, failed, stages, jobs, input bytes)."""
    rnd = random.Random(seed)
    t0 = 1_700_000_000_000
    now = t0
    jobs = 40
    stages_per_job = 3
    n_stages = jobs * stages_per_job
    per_stage = -(-n_tasks // n_stages)
    tid = 0
    failed = 0
    input_total = 0
    n_exec = SLOTS // CORES
    with open(path, "w", buffering=1 << 22) as f:
        w = f.write
        w('{"Event":"SparkListenerLogStart","Spark Version":"3.5.1"}\n')
        props = {"spark.master": "yarn", "spark.executor.cores": str(CORES), "spark.executor.memory": "8g"}
        w(json.dumps({"Event": "SparkListenerEnvironmentUpdate", "Spark Properties": props}) + "\n")
        w(
            '{"Event":"SparkListenerApplicationStart","App Name":"bench","App ID":"application_1_0001",'
            f'"Timestamp":{now},"User":"bench"}}\n'
        )
        for e in range(n_exec):
            w(
                f'{{"Event":"SparkListenerExecutorAdded","Timestamp":{now + 1000 + e},"Executor ID":"{e + 1}",'
                f'"Executor Info":{{"Host":"10.0.0.{e}","Total Cores":{CORES},"Log Urls":{{}}}}}}\n'
            )
        now += 5000
        stage = 0
        for job in range(jobs):
            stage_ids = list(range(stage, stage + stages_per_job))
            w(
                f'{{"Event":"SparkListenerJobStart","Job ID":{job},"Submission Time":{now},'
                f'"Stage Infos":[],"Stage IDs":{json.dumps(stage_ids)},'
                f'"Properties":{{"spark.sql.execution.id":"{job}"}}}}\n'
            )
            for k, sid in enumerate(stage_ids):
                parents = [sid - 1] if k else []
                info = (
                    f'"Stage Info":{{"Stage ID":{sid},"Stage Attempt ID":0,"Stage Name":"stage {sid}",'
                    f'"Number of Tasks":{per_stage},"RDD Info":[],"Parent IDs":{json.dumps(parents)},'
                    f'"Details":"","Submission Time":{now},"Accumulables":[]'
                )
                w(f'{{"Event":"SparkListenerStageSubmitted",{info}}},"Properties":{{}}}}\n')
                slot_free = [now] * SLOTS
                base = rnd.randint(200, 3000)
                for i in range(per_stage):
                    if tid >= n_tasks:
                        break
                    s = i % SLOTS
                    launch = slot_free[s]
                    dur = int(base * rnd.lognormvariate(0, 0.4)) + 1
                    finish = launch + dur
                    slot_free[s] = finish + 2
                    ex = s // CORES + 1
                    is_fail = rnd.random() < 0.001
                    failed += is_fail
                    ibr = rnd.randint(1 << 20, 128 << 20) if k == 0 else 0
                    input_total += ibr
                    common = dict(stage=sid, tid=tid, idx=i, launch=launch, ex=ex, hh=ex // 256, hl=ex % 256)
                    w(TASK_START.format(**common))
                    w(
                        TASK_END.format(
                            **common,
                            ttype="ShuffleMapTask" if k < stages_per_job - 1 else "ResultTask",
                            reason=FAILURE if is_fail else SUCCESS,
                            finish=finish,
                            failed="true" if is_fail else "false",
                            acc=sid * 10,
                            rec=rnd.randint(0, 100000),
                            accv=tid,
                            deser=rnd.randint(1, 50),
                            deser_cpu=rnd.randint(100000, 5000000),
                            run=max(dur - 5, 0),
                            cpu=dur * 800000,
                            peak=rnd.randint(0, 1 << 28),
                            rsize=rnd.randint(1000, 5000),
                            gc=rnd.randint(0, dur // 10 + 1),
                            mspill=0,
                            dspill=0,
                            rbf=rnd.randint(0, 200) if k else 0,
                            lbf=rnd.randint(0, 20) if k else 0,
                            fw=rnd.randint(0, 10),
                            rbr=rnd.randint(0, 1 << 24) if k else 0,
                            lbr=rnd.randint(0, 1 << 20) if k else 0,
                            srr=rnd.randint(0, 100000) if k else 0,
                            sbw=rnd.randint(0, 1 << 24),
                            swt=rnd.randint(0, 10**7),
                            swr=rnd.randint(0, 100000),
                            ibr=ibr,
                            irr=ibr // 100,
                        )
                    )
                    tid += 1
                now = max(slot_free) + 50
                w(f'{{"Event":"SparkListenerStageCompleted",{info},"Completion Time":{now}}}}}\n')
            w(
                f'{{"Event":"SparkListenerJobEnd","Job ID":{job},"Completion Time":{now},"Job Result":{{"Result":"JobSucceeded"}}}}\n'
            )
            now += 100
            stage += stages_per_job
        w(f'{{"Event":"SparkListenerApplicationEnd","Timestamp":{now + 1000}}}\n')
    return {"tasks": tid, "failed": failed, "stages": n_stages, "jobs": jobs, "input_bytes": input_total}


def gzip_file(src: Path, dst: Path) -> None:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while chunk := fi.read(1 << 22):
            fo.write(comp.compress(chunk))
        fo.write(comp.flush())


def floor_chunked(path: Path) -> tuple[float, int]:
    """read + gunzip + split lines (1 MiB chunks, bytes.split)."""
    t = time.perf_counter()
    n = 0
    rest = b""
    with gzip.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            n += len(lines)
    return time.perf_counter() - t, n


def floor_lines(path: Path) -> tuple[float, int]:
    """read + gunzip + split lines (``for line in gzip.open(...)``)."""
    t = time.perf_counter()
    n = 0
    with gzip.open(path, "rb") as f:
        for _line in f:
            n += 1
    return time.perf_counter() - t, n


def naive(path: Path, max_lines: int) -> tuple[float, int, int]:
    """json.loads every line into a pandas DataFrame (json_normalize), on the first ``max_lines`` lines."""
    import pandas as pd

    t = time.perf_counter()
    rows = []
    nbytes = 0
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if i >= max_lines:
                break
            nbytes += len(line)
            rows.append(json.loads(line))
    df = pd.json_normalize(rows)
    tasks = df[df["Event"] == "SparkListenerTaskEnd"]
    _ = (len(tasks), tasks["Task Metrics.Input Metrics.Bytes Read"].sum(), df["Stage ID"].nunique())
    return time.perf_counter() - t, nbytes, len(rows)


CHILD = """
import resource, sys, time
from airflow_provider_gradient.core.eventlog import parse_event_log
t = time.perf_counter()
s = parse_event_log(sys.argv[1])
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, s.tasks, s.failed_tasks, s.stages, s.jobs, s.input_bytes)
"""


def parse_in_child(path: Path) -> tuple[float, float, list[int]]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
    fields = out.stdout.split()
    return float(fields[0]), int(fields[1]) / 1024.0, [int(x) for x in fields[2:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=2_050_000)
    ap.add_argument("--naive-lines", type=int, default=200_000)
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the generated files in this dir")
    args = ap.parse_args()
    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="eventlog_bench_")
        work = Path(tmp.name)
    else:
        work = args.keep
        work.mkdir(parents=True, exist_ok=True)
    plain = work / f"synthetic_{args.tasks}.json"
    gz = work / f"synthetic_{args.tasks}.json.gz"
    truth_file = work / f"synthetic_{args.tasks}.truth.json"
    try:
        if not (plain.exists() and gz.exists() and truth_file.exists()):
            t = time.perf_counter()
            truth = generate(plain, args.tasks)
            print(f"generated {plain.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t:.0f} s")
            t = time.perf_counter()
            gzip_file(plain, gz)
            print(f"gzipped to {gz.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t:.0f} s")
            truth_file.write_text(json.dumps(truth))
        truth = json.loads(truth_file.read_text())
        size_mb = plain.stat().st_size / 1e6
        print(
            f"log: {size_mb:.0f} MB uncompressed, {gz.stat().st_size / 1e6:.0f} MB gzip, {truth['tasks']} tasks"
        )

        fc, lines = floor_chunked(gz)
        print(
            f"floor  read+gunzip+split (chunked)     : {fc:7.1f} s  {size_mb / fc:7.1f} MB/s  ({lines} lines)"
        )
        fl, _ = floor_lines(gz)
        print(f"floor  read+gunzip+split (for line in) : {fl:7.1f} s  {size_mb / fl:7.1f} MB/s")

        tg, rss_gz, got = parse_in_child(gz)
        ok = got[:5] == [
            truth["tasks"],
            truth["failed"],
            truth["stages"],
            truth["jobs"],
            truth["input_bytes"],
        ]
        print(
            f"parse_event_log(.gz)                   : {tg:7.1f} s  {size_mb / tg:7.1f} MB/s  peak RSS {rss_gz:.0f} MiB  counts ok={ok}"
        )
        tp, rss_plain, _ = parse_in_child(plain)
        print(
            f"parse_event_log(plain)                 : {tp:7.1f} s  {size_mb / tp:7.1f} MB/s  peak RSS {rss_plain:.0f} MiB"
        )
        print(f"ratio to floor (gz, chunked floor)     : {fc / tg:.2f}   (goal >= 0.5)")
        print(f"ratio to floor (gz, for-line floor)    : {fl / tg:.2f}")

        try:
            tn, nb, nl = naive(plain, args.naive_lines)
            naive_mbs = nb / 1e6 / tn
            print(
                f"naive json.loads+pandas on first {nl} lines ({nb / 1e6:.0f} MB): {tn:.1f} s = {naive_mbs:.1f} MB/s;"
                f" extrapolated to the whole log: {size_mb / naive_mbs:.0f} s"
            )
            print(
                f"speed-up vs naive (plain file)         : {naive_mbs and (size_mb / tp) / naive_mbs:.1f}x   (goal >= 10x)"
            )
        except ImportError:
            print("pandas not installed: naive comparison skipped")
        print(f"peak RSS goal < 150 MiB: gz {rss_gz:.0f} MiB, plain {rss_plain:.0f} MiB")
    finally:
        if tmp is not None:
            tmp.cleanup()
        elif os.environ.get("EVENTLOG_BENCH_CLEANUP"):
            for p in (plain, gz, truth_file):
                p.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
