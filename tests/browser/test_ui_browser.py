"""The Gradient pages in a real browser (Debian's Chromium via Playwright) against a real
``airflow api-server`` with SimpleAuthManager, seeded with projects from simulated runs.

One api-server and one logged-in browser page for the whole module; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_server import TI_RUN_ID, USERS, XSS_APP_ID, XSS_JOB_NAME, AirflowServer, copy_log

pytestmark = pytest.mark.browser

TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def page(airflow_server: AirflowServer, browser: Any) -> Iterator[Any]:
    """A page logged in through Airflow's own login form (SimpleAuthManager)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    pg = ctx.new_page()
    pg.dialogs = []  # every native alert/confirm seen (an XSS alert would show up here)

    def on_dialog(d: Any) -> None:
        pg.dialogs.append((d.type, d.message))
        d.dismiss()

    pg.on("dialog", on_dialog)
    name, password = USERS["admin"]
    pg.goto(airflow_server.url + "/")
    pg.wait_for_url(re.compile(r".*/auth/login.*"))
    pg.get_by_label("Username").fill(name)
    pg.get_by_label("Password").fill(password)
    pg.get_by_role("button", name="Sign in").click()
    pg.wait_for_url(lambda u: "/auth/login" not in u)
    assert any(c["name"] == "_token" for c in ctx.cookies())
    try:
        yield pg
    finally:
        copy_log(airflow_server)
        ctx.close()


def _frame(page: Any) -> Any:
    return page.frame_locator("iframe[title=Gradient]")


def _svc(server: AirflowServer) -> Any:
    from airflow_provider_gradient.service import GradientService

    return GradientService.from_url(server.store_url, migrate_on_start=False)


def test_browse_gradient_shows_projects_and_kpis(
    page: Any, airflow_server: AirflowServer, artifacts: Path
) -> None:
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Gradient").click()
    page.wait_for_url(re.compile(r".*/plugin/gradient$"))
    fr = _frame(page)
    fr.locator("#projects tbody tr").first.wait_for()
    svc = _svc(airflow_server)
    projects = svc.list_projects()
    runs = sum(len(svc.list_runs(p.id, limit=None)) for p in projects)
    assert fr.locator('[data-kpi="projects"] .v').inner_text() == str(len(projects)) == "4"
    assert fr.locator('[data-kpi="runs"] .v').inner_text() == str(runs)
    assert fr.locator("#projects tbody tr").count() == 4
    assert fr.locator('[data-kpi="savings"] .v').inner_text().startswith(("$", "-$"))
    # the hostile app id is plain text
    assert fr.get_by_text(XSS_APP_ID, exact=True).first.is_visible()
    page.screenshot(path=str(artifacts / "ui-projects.png"))


def test_sort_filter_columns_and_csv(page: Any, artifacts: Path) -> None:
    fr = _frame(page)
    rows = fr.locator("#projects tbody tr")
    fr.locator('th[data-sort="runs"]').click()  # ascending: the 5-run hostile project first
    assert rows.first.get_attribute("data-project-id") is not None
    assert rows.first.locator('td[data-col="runs"]').inner_text() == "5"
    fr.locator('th[data-sort="runs"]').click()  # descending
    assert rows.first.locator('td[data-col="runs"]').inner_text() == "14"
    fr.locator('th[data-sort="name"]').click()
    names = [rows.nth(i).locator('td[data-col="name"]').inner_text() for i in range(rows.count())]
    assert names == sorted(names)

    fr.locator("#filter").fill("reports")
    assert fr.locator("#projects tbody tr:visible").count() == 1
    assert fr.locator("#shown-count").inner_text() == "1 shown"
    fr.locator(".colchooser summary").click()
    fr.locator('[data-col-toggle="trend"]').uncheck()
    assert not fr.locator('th[data-col="trend"]').is_visible()

    with page.expect_download() as dl:
        fr.locator("#export-csv").click()
    path = dl.value.path()
    data = list(csv.DictReader(io.StringIO(Path(path).read_text())))
    assert len(data) == 1
    assert data[0]["app_id"] == "reports.daily_agg" and data[0]["runs"] == "14"
    assert "trend" not in data[0] and "savings" in data[0]
    page.screenshot(path=str(artifacts / "ui-projects-filtered.png"))
    fr.locator('[data-col-toggle="trend"]').check()
    fr.locator("#filter").fill("")


def test_project_page_charts_settings_and_apply(
    page: Any, airflow_server: AirflowServer, artifacts: Path
) -> None:
    fr = _frame(page)
    fr.get_by_role("link", name="reports.daily_agg", exact=True).click()
    fr.locator("#project-name").wait_for()
    assert fr.locator("#cost-chart svg .pt").count() == 14
    assert fr.locator("#runtime-chart svg .pt").count() == 14
    assert fr.locator("#runtime-chart .pt.failed").count() == 1
    assert fr.locator("#roi-reason").inner_text().strip() != ""
    page.screenshot(path=str(artifacts / "ui-project.png"), full_page=True)

    # edit the SLA: persisted in the store and shown after the reload
    fr.locator("#edit-settings").click()
    fr.locator('#settings-form input[name="sla_minutes"]').fill("75")
    fr.locator("#settings-save").click()
    fr.locator("#flash", has_text="Settings saved").wait_for()
    assert fr.locator("#sla-value").inner_text() == "75 min"
    svc = _svc(airflow_server)
    pid = svc.get_project("reports.daily_agg").id
    assert svc.get_project(pid).settings.sla_minutes == 75

    # enabling auto-apply asks for a confirmation (dismissed here: nothing changes)
    fr.locator("#edit-settings").click()
    fr.locator('#settings-form input[name="auto_apply"]').check()
    fr.locator("#settings-save").click()
    fr.locator("#confirm-dialog").wait_for()
    assert "auto-apply" in fr.locator("#confirm-message").inner_text().lower()
    fr.locator("#confirm-cancel").click()
    assert svc.get_project(pid).settings.auto_apply is False
    fr.locator("#settings-cancel").click()

    # Generate then Apply
    fr.locator("#generate").click()
    fr.locator("#flash", has_text="generated").wait_for()
    rec = svc.latest_recommendation(pid)
    assert rec is not None and rec.state == "ready"
    fr.locator("#apply").click()
    fr.locator("#confirm-ok").click()
    fr.locator("#flash", has_text="applied").wait_for()
    assert svc.get_recommendation(rec.id).state == "applied"
    page.screenshot(path=str(artifacts / "ui-project-applied.png"), full_page=True)


def test_gradient_tab_on_a_task_instance(page: Any, airflow_server: AirflowServer, artifacts: Path) -> None:
    page.goto(f"{airflow_server.url}/dags/nightly_etl/runs/{TI_RUN_ID}/tasks/transform")
    page.locator('a[title="Gradient"][href$="/plugin/gradient_ti"]').click()
    page.wait_for_url(re.compile(r".*/plugin/gradient_ti$"))
    fr = page.frame_locator("iframe").first
    fr.locator("#ti-project").wait_for()
    run = next(
        r
        for r in _svc(airflow_server).list_runs("nightly_etl.transform", limit=None)
        if r.airflow_run_id == TI_RUN_ID
    )
    assert fr.locator("#ti-run").inner_text().startswith(str(run.databricks_run_id))
    assert f"${run.cost.total_usd:,.2f}" in fr.locator("#ti-cost").inner_text()  # type: ignore[union-attr]
    assert fr.locator("#ti-cluster").inner_text() == "i3.xlarge × 8"
    assert "Fewer workers" in fr.locator("#ti-rec").inner_text()
    page.screenshot(path=str(artifacts / "ui-task-instance-tab.png"))


def test_discover_page(page: Any, airflow_server: AirflowServer, artifacts: Path) -> None:
    page.goto(f"{airflow_server.url}/gradient/ui/discover?conn_id=databricks_default")
    rows = page.locator("#discover-jobs tbody tr")
    rows.first.wait_for()
    assert rows.count() == 3  # two jobs + the runs/submit "job"
    assert page.locator(".job-name", has_text=XSS_JOB_NAME).inner_text() == XSS_JOB_NAME
    assert page.locator("#finding-photon .v").inner_text() == "1"
    assert page.locator(".jobs-chart .pt").count() >= 31  # one bar per day of the window
    page.locator("#finding-submitted").click()
    assert page.locator("#discover-jobs tbody tr:visible").count() == 1
    assert "nightly_etl.transform" in page.locator("#discover-jobs tbody tr:visible").inner_text()
    page.screenshot(path=str(artifacts / "ui-discover.png"), full_page=True)
    with page.expect_download() as dl:
        page.locator("#export-csv").click()
    data = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert [d["findings"] for d in data] == ["submitted"]


def test_no_script_ran_from_hostile_strings(page: Any, airflow_server: AirflowServer) -> None:
    pid = airflow_server.project_ids[XSS_APP_ID]
    page.goto(f"{airflow_server.url}/gradient/ui/projects/{pid}")
    assert page.locator("#app-id").inner_text() == XSS_APP_ID
    assert not [m for _, m in page.dialogs if m in ("1", "2", "3")]


def test_unauthenticated_requests_are_refused(airflow_server: AirflowServer) -> None:
    import urllib.request

    from fastapi.routing import APIRoute

    from airflow_provider_gradient.plugins.app import create_app

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    routes = [r for r in create_app().routes if isinstance(r, APIRoute)]
    assert any(r.path.startswith("/ui") for r in routes) and any(r.path.startswith("/api") for r in routes)
    for route in routes:
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            url = airflow_server.url + "/gradient" + re.sub(r"\{[^}]+\}", "1", route.path)
            req = urllib.request.Request(
                url,
                method=method,
                data=b"{}" if method != "GET" else None,
                headers={"Content-Type": "application/json"},
            )
            try:
                status, location = opener.open(req, timeout=20).status, ""
            except urllib.error.HTTPError as exc:
                status, location = exc.code, exc.headers.get("location", "")
            if route.path.startswith("/ui") and method == "GET" and status == 307:
                assert "/auth/login" in location, (route.path, location)
            else:
                assert status in (401, 403), f"{method} {route.path} -> {status}"


def test_viewer_cannot_write_but_can_read(airflow_server: AirflowServer) -> None:
    token = airflow_server.token("viewer")
    pid = airflow_server.project_ids["ml.features"]
    status, _ = airflow_server.request("GET", "/gradient/ui/projects.csv", token=token)
    assert status == 200
    status, body = airflow_server.request(
        "POST", f"/gradient/ui/actions/projects/{pid}/settings", {"sla_minutes": 5}, token=token
    )
    assert status == 403, body
    assert _svc(airflow_server).get_project(pid).settings.sla_minutes is None


FORMULA_CELLS = ["-2+3+cmd|' /C calc'!A0", "=1+1", "+1+cmd|' /C calc'!A0", "@SUM(1,2)", "\t=1+1"]


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_export_csv_neutralises_formulas_like_the_server(
    page: Any, airflow_server: AirflowServer, artifacts: Path
) -> None:
    """The pages' client-side "Export CSV" (projects and Discover) writes a formula cell exactly as the
    server CSV does: with a leading ' (the old client rule let "-2+3+cmd|..." through: parseFloat gives -2)."""
    token = airflow_server.token()
    for i, name in enumerate(FORMULA_CELLS):
        status, body = airflow_server.request(
            "POST", "/gradient/api/v1/projects", {"app_id": f"formula.t{i}", "dag_id": "formula", "name": name}, token
        )
        assert status == 200, body
    page.goto(f"{airflow_server.url}/gradient/ui/")
    page.locator("#filter").fill("formula.t")
    with page.expect_download() as dl:
        page.locator("#export-csv").click()
    client = {r["app_id"]: r["name"] for r in _csv_rows(Path(dl.value.path()).read_text())}
    status, text = airflow_server.request("GET", "/gradient/ui/projects.csv", token=token)
    server = {r["app_id"]: r["name"] for r in _csv_rows(text)}
    for i, name in enumerate(FORMULA_CELLS):
        assert client[f"formula.t{i}"] == server[f"formula.t{i}"] == "'" + name, (name, client, server)

    # Discover: a Databricks job name is planted by whoever may create jobs
    emu = airflow_server.emulator
    nc = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 1}
    job = emu.request("POST", "/api/2.2/jobs/create", {"name": FORMULA_CELLS[0], "tasks": [
        {"task_key": "t", "notebook_task": {"notebook_path": "/f"}, "new_cluster": nc}]})["job_id"]
    emu.wait_run(emu.request("POST", "/api/2.2/jobs/run-now", {"job_id": job})["run_id"], timeout=120)
    page.goto(f"{airflow_server.url}/gradient/ui/discover?conn_id=databricks_default&refresh=1")
    page.locator("#discover-jobs tbody tr").first.wait_for()
    with page.expect_download() as dl:
        page.locator("#export-csv").click()
    client_names = [r["name"] for r in _csv_rows(Path(dl.value.path()).read_text())]
    status, text = airflow_server.request("GET", "/gradient/ui/discover.csv?conn_id=databricks_default", token=token)
    server_names = [r["name"] for r in _csv_rows(text)]
    assert "'" + FORMULA_CELLS[0] in client_names and "'" + FORMULA_CELLS[0] in server_names
    assert FORMULA_CELLS[0] not in client_names + server_names
