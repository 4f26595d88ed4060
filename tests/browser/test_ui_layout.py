"""Issue 15 pages in Chromium without an api-server: the projects table fits 1440 px with a 500-character
app id (Insights column visible), and the task-instance tab's project link leaves Airflow's sandboxed iframe.

Pages are rendered by the plugin's app (TestClient, identity overridden) and served to Chromium from one
fake origin through Playwright routing, so the iframe is same-origin exactly as in Airflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.plugins.ui import auth
from airflow_provider_gradient.service import GradientService
from airflow_provider_gradient.simulator.seed import SeedProject, seed_project

pytestmark = pytest.mark.browser

ORIGIN = "http://gradient.test"
LONG_APP_ID = "dag_" + "x" * 470 + ".task_with_a_long_name"  # 495 characters
#: what Airflow 3.3's UI puts on plugin iframes (see its bundle: r2t / sandbox)
AIRFLOW_SANDBOX = "allow-scripts allow-same-origin allow-forms allow-downloads"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, GradientService]]:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    svc = GradientService.from_url(f"sqlite:///{tmp_path_factory.mktemp('layout') / 'g.db'}")
    seed_project(svc, SeedProject("nightly.transform", "nightly", "transform"), runs=6, run_id_base=100)
    seed_project(svc, SeedProject(LONG_APP_ID, "dag_long", "t", fail_runs=(2,)), runs=6, run_id_base=200)
    app = create_app(svc)
    user = SimpleAuthManagerUser(username="admin", role="admin")
    for dep in (auth.page_user, auth.api_user, get_user):
        app.dependency_overrides[dep] = lambda: user
    with TestClient(app, root_path="/gradient") as client:
        client.cookies.set("_token", "session-jwt")
        yield client, svc


def _serve(page: Any, client: TestClient, extra: dict[str, str] | None = None) -> None:
    def handle(route: Any) -> None:
        path = route.request.url[len(ORIGIN):]
        if extra and path in extra:
            route.fulfill(status=200, content_type="text/html", body=extra[path])
            return
        if path.startswith("/gradient"):
            r = client.get(path[len("/gradient"):])
            route.fulfill(status=r.status_code, content_type=r.headers.get("content-type", "text/html"), body=r.content)
            return
        route.fulfill(status=404, body="not found")

    page.route(f"{ORIGIN}/**", handle)  # a BrowserContext routes its new tabs too


def test_projects_table_fits_1440px_with_a_500_character_app_id(
    site: tuple[TestClient, GradientService], browser: Any, artifacts: Path
) -> None:
    client, _ = site
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    _serve(page, client)
    page.goto(f"{ORIGIN}/gradient/ui/")
    page.locator("#projects tbody tr").nth(1).wait_for()
    assert page.get_by_text(LONG_APP_ID[:40], exact=False).count() >= 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1440, f"page is {width}px wide: columns pushed off screen"
    box = page.locator('#projects th[data-col="insights"]').bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1440, box
    page.screenshot(path=str(artifacts / "ui-projects-1440.png"), full_page=True)
    ctx.close()


def test_ti_tab_project_link_opens_outside_the_sandboxed_iframe(
    site: tuple[TestClient, GradientService], browser: Any
) -> None:
    client, svc = site
    project = svc.get_project("nightly.transform")
    ti_url = "/gradient/ui/ti?dag_id=nightly&task_id=transform&run_id=run_0003"
    host = (f'<!doctype html><html><body><h1>Airflow</h1><iframe title="Gradient" sandbox="{AIRFLOW_SANDBOX}" '
            f'src="{ti_url}" style="width:900px;height:600px"></iframe></body></html>')
    ctx = browser.new_context(viewport={"width": 1200, "height": 800})
    _serve(ctx, client, {"/plugin/gradient_ti": host})
    page = ctx.new_page()
    page.goto(f"{ORIGIN}/plugin/gradient_ti")
    link = page.frame_locator("iframe[title=Gradient]").locator("#ti-project-link")
    link.wait_for()
    with ctx.expect_page(timeout=15_000) as opened:
        link.click()
    new = opened.value
    new.wait_for_load_state()
    assert new.url == f"{ORIGIN}/gradient/ui/projects/{project.id}"
    assert new.locator("#project-name").inner_text() == project.name
    assert page.url == f"{ORIGIN}/plugin/gradient_ti"  # Airflow's page stays where it was
    ctx.close()
