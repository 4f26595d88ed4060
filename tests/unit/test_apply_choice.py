"""Which recommendation the next run uses (real service over SQLite): co-pilot Apply, auto-apply, windows."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_gradient.service import GradientService
from airflow_provider_gradient.service.apply import choose_recommendation

pytestmark = pytest.mark.sqlite_only

NOON = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _rec(svc: GradientService, pid: int, workers: int) -> int:
    cluster = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": workers}
    return svc.store_recommendation(pid, {"cluster": cluster, "phase": "learning", "reason": str(workers)}).id


def test_copilot_uses_only_what_a_user_applied(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.t", settings={"auto_apply": False})
    first = _rec(svc, p.id, 4)
    rec, why = choose_recommendation(svc, svc.get_project(p.id), NOON)
    assert rec is None and "auto-apply off" in why
    svc.mark_applied(first)  # Apply
    _rec(svc, p.id, 6)  # a newer ready one is only shown
    rec, why = choose_recommendation(svc, svc.get_project(p.id), NOON)
    assert rec is not None and rec.id == first and "current cluster" in why


def test_auto_apply_prefers_newer_ready_but_a_later_user_apply_wins(svc: GradientService) -> None:
    p = svc.get_or_create_project("b.t", settings={"auto_apply": True})
    old = _rec(svc, p.id, 4)
    svc.mark_applied(old, databricks_run_id=1)  # used by run 1
    new = _rec(svc, p.id, 6)
    rec, _ = choose_recommendation(svc, svc.get_project(p.id), NOON)
    assert rec is not None and rec.id == new
    svc.mark_applied(old, databricks_run_id=1)  # a retried record of run 1 does not bring the old one back
    rec, _ = choose_recommendation(svc, svc.get_project(p.id), NOON)
    assert rec is not None and rec.id == new
    # a user applying an earlier recommendation (superseded, never run) after the newest one was made: theirs
    earlier = svc.list_recommendations(p.id)[-1].id
    skipped = _rec(svc, p.id, 8)
    newest = _rec(svc, p.id, 10)
    assert svc.get_recommendation(skipped).state == "superseded"
    svc.mark_applied(skipped)
    rec, _ = choose_recommendation(svc, svc.get_project(p.id), NOON)
    assert rec is not None and rec.id == skipped and earlier == old and newest != skipped


def test_window_keeps_the_current_cluster_and_says_why(svc: GradientService) -> None:
    p = svc.get_or_create_project("c.t", settings={"auto_apply": True, "window_start": "23:00", "window_end": "01:00"})
    new = _rec(svc, p.id, 6)
    rec, why = choose_recommendation(svc, svc.get_project(p.id), NOON)
    assert rec is None
    assert why == (f"recommendation {new} not applied: outside the optimisation window 23:00-01:00 UTC "
                   "(now 12:00 UTC); no recommendation applied (the task's own cluster)")
    rec, _ = choose_recommendation(svc, svc.get_project(p.id), NOON.replace(hour=0, minute=30))
    assert rec is not None and rec.id == new


def _applied_by_run(svc: GradientService, pid: int, workers: int, run_id: int, outcome: str) -> int:
    from airflow_provider_gradient.service.schemas import RunIn

    rid = _rec(svc, pid, workers)
    svc.mark_applied(rid, databricks_run_id=run_id)
    svc.record_run(pid, RunIn(databricks_run_id=run_id, outcome=outcome, start_ms=0, end_ms=60_000))
    return rid


@pytest.mark.parametrize("auto", [False, True])
def test_a_cluster_whose_run_failed_is_not_run_again(svc: GradientService, auto: bool) -> None:
    # co-pilot (auto-apply off), or auto-apply outside the window: the next run uses the current cluster -- but
    # never the one whose run just ran out of memory; the one applied before it (its run succeeded) instead
    settings = {"auto_apply": auto, "window_start": "23:00", "window_end": "01:00"} if auto else {"auto_apply": False}
    p = svc.get_or_create_project(f"oom{auto}.t", settings=settings)
    good = _applied_by_run(svc, p.id, 4, 71, "success")
    oom = _applied_by_run(svc, p.id, 2, 72, "oom")
    rec, why = choose_recommendation(svc, svc.get_project(p.id), NOON)
    assert rec is not None and rec.id == good, why
    assert f"recommendation {oom} not reused: the run that used it failed (oom)" in why
    # nothing good applied before it: the task's own cluster, never the failed one
    q = svc.get_or_create_project(f"oom-only{auto}.t", settings=settings)
    _applied_by_run(svc, q.id, 2, 81, "oom")
    rec, why = choose_recommendation(svc, svc.get_project(q.id), NOON)
    assert rec is None and "not reused" in why and "no recommendation applied" in why, why
