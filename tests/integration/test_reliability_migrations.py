"""Upgrade safety beyond row counts (the store layer's own test steps every revision with data and compares
counts): here every *value* of every table must survive, on SQLite and PostgreSQL, when

- each revision step is downgraded and upgraded again with data in the tables (future revisions included),
- the upgrade is re-run on a populated store at head (``gradient db upgrade`` twice),
- 4 processes start on a populated store at once (first-use migration race) while another one writes.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from sqlalchemy import inspect, text

from airflow_provider_gradient.service import GradientService, RecommendationIn, RunIn
from airflow_provider_gradient.store import get_engines, head_revision, upgrade
from airflow_provider_gradient.store.migrate import VERSION_TABLE, downgrade, forget_schema_cache, revisions

HOSTILE = "naïve 東京 \"quotes\" 'single' <b> \\ %s ;-- DROP TABLE x"


def _fill(url: str) -> None:
    svc = GradientService.from_url(url)
    for i in range(3):
        p = svc.get_or_create_project(
            f"mig_dag.task_{i}{HOSTILE if i == 2 else ''}", name=f"name {HOSTILE}",
            workspace={"name": f"ws {HOSTILE}", "host": "https://dbc.example", "cloud": "aws"},
            region="eu-west-1" if i == 1 else None,  # the others: unknown (NULL) survives every step too
            settings={"sla_minutes": 12.5, "allowed_families": ["m5", "r5"], "window_start": "01:00",
                      "window_end": "05:30", "max_workers": 10_000},
            baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 2, "spark_conf": {"k": HOSTILE},
                              "nested": {"a": [1, 2.5, None, True, {"b": "c"}]}},
            dag_id="mig_dag", task_id=f"task_{i}")
        rec = svc.store_recommendation(p.id, RecommendationIn(
            cluster={"node_type_id": "r5.large", "num_workers": 3}, phase="learning", predicted_runtime_s=1.5e3,
            reason=HOSTILE))
        for r in range(4):
            svc.record_run(p.id, RunIn(
                databricks_run_id=2**63 - 1 - r if i == 0 else r, outcome=("success", "oom", "failed", "cancelled")[r],
                start_ms=1_700_000_000_000 + r, end_ms=1_700_000_600_000 + r, input_bytes=2**50 + r,
                metrics={"tasks": r, "ratio": 0.1 + r, "text": HOSTILE, "deep": [[[r]]]},
                cost={"cloud_usd": 0.123456789, "dbu_usd": 1e-9, "total_usd": 0.123456790},
                failure_message=HOSTILE if r else None, recommendation_id=rec.id if r == 3 else None,
                log_status=("complete", "incomplete", "missing", "pending")[r], log_reason=HOSTILE if r else None,
                dag_id="mig_dag", task_id=f"task_{i}", airflow_run_id=f"manual__{r}", try_number=r))
        if i == 1:
            svc.mark_applied(rec.id, databricks_run_id=3)


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    eng = get_engines(url).read
    out = {}
    with eng.connect() as c:
        for table in sorted(set(inspect(eng).get_table_names()) - {VERSION_TABLE}):
            if not table.startswith("gradient_"):
                continue
            # by column name: a down/up step re-adds its column after the later revisions' ones
            cols = sorted(col["name"] for col in inspect(eng).get_columns(table))
            names = ", ".join(f'"{n}"' for n in cols)
            rows = c.execute(text(f'SELECT {names} FROM "{table}" ORDER BY id')).all()
            out[table] = [tuple(r) for r in rows]
    return out


def test_every_revision_step_keeps_every_value(store_url: str) -> None:
    upgrade(store_url)
    _fill(store_url)
    before = _dump(store_url)
    assert sum(len(v) for v in before.values()) >= 3 + 3 + 12 + 1
    revs = revisions()
    for i in range(len(revs) - 1, 0, -1):
        downgrade(store_url, revs[i - 1])
        assert upgrade(store_url, revs[i]) == revs[i]
        # back to head (the later revisions' columns are back, with their defaults) to compare with `before`
        upgrade(store_url)
        assert _dump(store_url) == before, f"values changed by {revs[i]} down/up"
    assert upgrade(store_url) == head_revision()  # re-running the upgrade at head changes nothing
    assert upgrade(store_url, "head") == head_revision()
    assert _dump(store_url) == before


def _start(url: str, i: int, barrier: Any, out: Any) -> None:
    try:
        forget_schema_cache()
        barrier.wait(60)
        svc = GradientService.from_url(url)
        if i == 0:
            p = svc.get_or_create_project("mig_dag.task_0")
            for r in range(20):
                svc.record_run(p.id, RunIn(databricks_run_id=10_000 + r, outcome="success"))
        out.put(("ok", svc.health().status))
    except BaseException as exc:  # noqa: BLE001
        out.put(("error", repr(exc)))


def test_concurrent_first_use_on_populated_store_loses_nothing(store_url: str) -> None:
    upgrade(store_url)
    _fill(store_url)
    before = _dump(store_url)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(4)
    out = ctx.Queue()
    procs = [ctx.Process(target=_start, args=(store_url, i, barrier, out)) for i in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(r == ("ok", "ok") for r in results), results
    after = _dump(store_url)
    for table, rows in before.items():
        if table == "gradient_projects":  # last_run_ms/updated_ms of the written project move on
            assert {r[0] for r in rows} == {r[0] for r in after[table]}
        elif table == "gradient_runs":
            assert set(map(repr, rows)) <= set(map(repr, after[table])) and len(after[table]) == len(rows) + 20
        else:
            assert after[table] == rows, table
