"""DatabricksRunNowOperator + gradient_run_now_pre_execute_hook: jobs/update of the cluster fields only,
then run-now; the listener records the run; the next run uses the recommendation."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_gradient.core.payload import TAG_PROJECT_ID, TAG_RECOMMENDATION_ID

pytestmark = pytest.mark.slow


def test_run_now_updates_job_clusters_then_records(dag_files: Any, emulator: Any, gradient_store: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # the apply window is judged by the apply step's one clock, for run-now as for submit-run: the second run is
    # inside a one-minute window only by that pinned clock (the wall clock would decide otherwise)
    import datetime as dt

    from airflow_provider_gradient.operators import _apply  # noqa: TID251

    dag = dag_files.load("example_gradient_run_now", dag_files.home["dags"] / "example_gradient_run_now.py")
    before = len(emulator.submissions())
    assert dag.test().state == "success"
    svc = gradient_store
    project = svc.get_project("example_gradient_run_now.run_job.main")
    svc.update_settings(project.id, {"window_start": "00:00", "window_end": "00:01"})
    monkeypatch.setattr(_apply, "utcnow", lambda: dt.datetime(2026, 3, 1, 0, 0, 30, tzinfo=dt.UTC))
    assert dag.test().state == "success"
    subs = emulator.submissions()[before:]
    updates = [s["body"] for s in subs if s["path"].endswith("/jobs/update")]
    assert len(updates) == 2
    for body in updates:
        assert set(body["new_settings"]) == {"job_clusters"}  # only the cluster fields are sent
    first, second = (u["new_settings"]["job_clusters"][0]["new_cluster"] for u in updates)
    assert first["custom_tags"][TAG_PROJECT_ID] == str(project.id)
    assert first["custom_tags"][TAG_RECOMMENDATION_ID] == "none"
    runs = sorted(svc.list_runs(project.id), key=lambda r: r.databricks_run_id)
    assert len(runs) == 2 and all(r.cost is not None and r.cost.total_usd > 0 for r in runs)
    rec = svc.get_recommendation(runs[1].recommendation_id)
    assert second["custom_tags"][TAG_RECOMMENDATION_ID] == str(rec.id)
    assert str(second["node_type_id"]) == str(rec.cluster["node_type_id"])
