"""``[gradient] dormant_days`` reaches the insights: the plugin's app built from the deployment's settings (no
service given, as in the api-server) flags a project whose last run is older than the setting, on the
projects page and in the REST summaries, and a changed setting changes the badge."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from app_users import as_admin
from fastapi.testclient import TestClient

from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.service import GradientService, RunIn

DAY_MS = 86_400_000
#: the pages use the wall clock (and cache summaries up to 10 min): the test's clock is the wall clock
NOW_MS = int(time.time() * 1000)


@pytest.fixture
def store(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AIRFLOW__GRADIENT__STORE_URL", sqlite_url)
    svc = GradientService.from_url(sqlite_url)
    p = svc.get_or_create_project("quiet_dag.load", dag_id="quiet_dag", task_id="load",
                                  baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 2})
    start = NOW_MS - 20 * DAY_MS  # the last run: 20 days ago
    svc.record_run(p.id, RunIn(databricks_run_id=1, outcome="success", start_ms=start, end_ms=start + 600_000))
    yield sqlite_url


def _codes(monkeypatch: pytest.MonkeyPatch, dormant_days: str | None) -> tuple[list[str], str]:
    """The insight codes of the project in ``GET /api/v1/projects:summaries`` and the projects page's HTML."""
    if dormant_days is None:
        monkeypatch.delenv("AIRFLOW__GRADIENT__DORMANT_DAYS", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW__GRADIENT__DORMANT_DAYS", dormant_days)
    with TestClient(as_admin(create_app()), headers={"Authorization": "Bearer t"}) as c:
        r = c.get("/api/v1/projects:summaries", params={"now_ms": NOW_MS})
        assert r.status_code == 200, r.text
        (row,) = r.json()
        page = c.get("/ui/", params={"now_ms": NOW_MS}).text
    return [i["code"] for i in row["insights"]], page


@pytest.mark.parametrize(("setting", "dormant"), [("10", True), ("25", False), (None, True)])
def test_dormant_days_setting_changes_the_insight(
    store: str, monkeypatch: pytest.MonkeyPatch, setting: str | None, dormant: bool
) -> None:
    """20 days without a run: dormant with ``dormant_days = 10`` and with the declared default (14), not with 25."""
    codes, _ = _codes(monkeypatch, setting)
    assert ("dormant" in codes) is dormant, codes


def test_the_same_store_follows_a_changed_setting(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The summaries cache does not keep a badge computed under another setting."""
    assert "dormant" not in _codes(monkeypatch, "25")[0]
    assert "dormant" in _codes(monkeypatch, "10")[0]
    assert "dormant" not in _codes(monkeypatch, "25")[0]


def test_summaries_follow_the_clock_they_are_asked_for(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``projects:summaries?now_ms=`` answers for that clock, also when the summary is cached (it answered with
    the clock of the first request for up to 10 minutes); the cached summary is still reused."""
    from airflow_provider_gradient.service import read_model

    monkeypatch.setenv("AIRFLOW__GRADIENT__DORMANT_DAYS", "14")

    def dormant(c: TestClient, now_ms: int) -> str | None:
        r = c.get("/api/v1/projects:summaries", params={"now_ms": now_ms})
        assert r.status_code == 200, r.text
        (row,) = r.json()
        # the same insights as the project's overview (never cached) at that clock
        overview = c.get(f"/api/v1/projects/{row['id']}/overview", params={"now_ms": now_ms}).json()
        assert overview["summary"]["insights"] == row["insights"]
        return next((i["message"] for i in row["insights"] if i["code"] == "dormant"), None)

    with TestClient(as_admin(create_app()), headers={"Authorization": "Bearer t"}) as c:
        assert dormant(c, NOW_MS) == "No run in 20 days: the job may be retired or moved."
        computed = read_model.stats["computed"]
        assert dormant(c, NOW_MS - 10 * DAY_MS) is None  # 10 days after the last run: not dormant yet
        assert dormant(c, NOW_MS + 10 * DAY_MS) == "No run in 30 days: the job may be retired or moved."
        assert dormant(c, NOW_MS) == "No run in 20 days: the job may be retired or moved."
        assert read_model.stats["computed"] == computed, "the clock is applied to the cached summary"
