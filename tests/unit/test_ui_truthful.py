"""Issue 15, "the pages must not mislead": each figure on the projects / project / task-instance pages
says what it is, with the right sign and colour (real SQLite store, the plugin's app, TestClient)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from app_users import as_admin
from fastapi.testclient import TestClient

from airflow_provider_gradient import charts
from airflow_provider_gradient.core import roi as roi_mod
from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.plugins.ui import auth, views
from airflow_provider_gradient.plugins.ui.rendering import project_rows
from airflow_provider_gradient.service import GradientService, Recommendation
from airflow_provider_gradient.service.summaries import ProjectSummary, summarize_project

pytestmark = pytest.mark.sqlite_only

DAY = 86_400_000
T0 = 1_767_600_000_000  # 2026-01-05
NS = "{http://www.w3.org/2000/svg}"
CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 4}


@pytest.fixture
def client(svc: GradientService) -> Iterator[TestClient]:
    with TestClient(as_admin(create_app(svc)), follow_redirects=False) as c:
        c.cookies.set("_token", "session-jwt")
        yield c


def _record(svc: GradientService, pid: int, i: int, cost: float, rec_id: int | None, *, gb: float = 10.0,
            outcome: str = "success") -> None:
    svc.record_run(pid, {
        "databricks_run_id": 5000 + i, "outcome": outcome, "cluster_config": CLUSTER,
        "start_ms": T0 + i * DAY, "end_ms": T0 + i * DAY + 1_800_000,
        "input_bytes": int(gb * 1024**3), "metrics": {"input_bytes": 1},
        "cost": {"cloud_usd": cost * 0.6, "dbu_usd": cost * 0.4, "storage_usd": 0.0, "total_usd": cost},
        "recommendation_id": rec_id, "log_status": "complete",
    })


def _rec(svc: GradientService, pid: int, **kw: Any) -> Any:
    body = {"cluster": {**CLUSTER, "num_workers": 2}, "phase": "optimizing", "learning_iteration": 0,
            "learning_total": 4, "reason": "cheaper", "predicted_cost_usd": 5.0, "cost_low_usd": 4.25,
            "cost_high_usd": 6.75, **kw}
    return svc.store_recommendation(pid, body)


def _saving_project(svc: GradientService, *, optimised_costs: list[float]) -> Any:
    """4 baseline runs at $10, then runs on an applied recommendation at ``optimised_costs``."""
    p = svc.get_or_create_project("saver.task", dag_id="saver", task_id="task")
    for i in range(4):
        _record(svc, p.id, i, 10.0, None)
    rec = svc.mark_applied(_rec(svc, p.id).id)
    for k, c in enumerate(optimised_costs):
        _record(svc, p.id, 4 + k, c, rec.id)
    return svc.get_project(p.id)


def _row(svc: GradientService, project: Any) -> tuple[ProjectSummary, str]:
    runs = svc.list_runs(project.id, limit=None)
    summary = summarize_project(project, runs, svc.latest_recommendation(project.id), now_ms=T0 + 30 * DAY)
    return summary, str(project_rows([summary], "/ui")[0])


def _cell(html: str, col: str) -> str:
    m = re.search(rf'<td data-col="{col}"[^>]*>.*?</td>', html, flags=re.S)
    assert m, html
    return m.group(0)


def test_cost_trend_is_labelled_and_not_coloured_against_the_roi(svc: GradientService) -> None:
    # 42 % cheaper than the baseline, but the last 10 runs crept up 18 %
    costs = [5.0, 5.0, 5.0, 5.0, 5.1, 5.2, 5.3, 5.4, 5.6, 5.8, 5.9]
    summary, html = _row(svc, _saving_project(svc, optimised_costs=costs))
    assert summary.trend_pct is not None and summary.trend_pct > 10
    assert summary.roi.savings_pct is not None and summary.roi.savings_pct > 40
    trend = _cell(html, "trend")
    assert 'class="small bad' not in trend and "bad" not in trend.split("<svg")[0]
    assert "over 10 runs" in trend and "not the savings" in trend
    assert "#e15759" not in trend  # the sparkline is not drawn in the failure red
    savings = _cell(html, "savings")
    assert 'class="num good"' in savings and f"({summary.roi.savings_pct:.0f}% cheaper)" in savings


def test_a_cost_increase_reads_more_expensive_in_red(svc: GradientService) -> None:
    summary, html = _row(svc, _saving_project(svc, optimised_costs=[10.34, 10.34]))
    assert summary.roi.savings_pct == pytest.approx(-3.4)
    savings = _cell(html, "savings")
    assert "3.4% more expensive" in savings and "cheaper" not in savings
    assert 'class="num bad"' in savings
    assert views.change_label(-3.4) == "3.4% more expensive" and views.change_label(42.0) == "42% cheaper"
    assert views.sign_class(-1.0) == "bad" and views.sign_class(2.0) == "good" and views.sign_class(0.0) == ""


def test_negative_savings_are_not_green_on_the_kpis_and_project_page(svc: GradientService, client: TestClient) -> None:
    project = _saving_project(svc, optimised_costs=[10.34, 10.34])
    page = client.get("/ui/").text
    assert re.search(r'<div class="kpi bad" data-kpi="savings">', page), page[:3000]
    html = client.get(f"/ui/projects/{project.id}").text
    assert re.search(r'<dd id="roi-savings" class="bad">-\$', html)
    assert re.search(r'<dd id="roi-change" class="bad">3.4% more expensive', html)
    assert "-3.4% cheaper" not in html


def test_optimizing_rows_show_no_learning_counter(svc: GradientService, client: TestClient) -> None:
    project = _saving_project(svc, optimised_costs=[5.0, 5.0])
    _rec(svc, project.id)  # a ready optimizing recommendation (learning_total 4, iteration 0)
    html = client.get(f"/ui/projects/{project.id}").text
    assert "optimizing 0/4" not in html and "optimizing 4/4" not in html
    recs = views.recommendation_views(svc.list_recommendations(project.id, limit=None), [])
    assert all(r.learning == "" for r in recs if r.phase == "optimizing")
    learning = views.recommendation_views([Recommendation(
        id=1, project_id=project.id, created_ms=0, updated_ms=0, state="ready", phase="learning", cluster=CLUSTER,
        learning_iteration=2, learning_total=4)], [])
    assert learning[0].learning == "2/4"


def test_a_new_project_is_pending_its_first_run(svc: GradientService, client: TestClient) -> None:
    p = svc.get_or_create_project("fresh.task", dag_id="fresh", task_id="task")
    summary, html = _row(svc, p)
    assert summary.phase_label == "pending first run"
    assert "learning 0/4" not in html and "pending first run" in html
    assert "pending first run" in client.get(f"/ui/projects/{p.id}").text


def test_project_page_shows_ranges_cost_per_gb_and_stored_input_bytes(svc: GradientService, client: TestClient) -> None:
    project = _saving_project(svc, optimised_costs=[5.0, 5.0])
    _rec(svc, project.id)
    html = client.get(f"/ui/projects/{project.id}").text
    assert re.search(r'id="ready-cost">\$5\.00 \(\$4\.25–\$6\.75\)', html)
    roi = summarize_project(project, svc.list_runs(project.id, limit=None)).roi
    assert roi.cost_per_gb_change_pct is not None
    assert re.search(r'id="roi-cost-per-gb">50% cheaper', html)
    # the runs table reads the stored input size (what ROI uses), not metrics.input_bytes (1 byte here)
    runs_table = html.split('id="runs"', 1)[1].split("</table>", 1)[0]
    assert "10.0 GiB" in runs_table and "1 B" not in runs_table


def test_edit_dialog_has_max_workers_and_learning_runs_and_readable_errors(
    svc: GradientService, client: TestClient
) -> None:
    p = svc.get_or_create_project("edit.task", dag_id="edit", task_id="task")
    html = client.get(f"/ui/projects/{p.id}").text
    dialog = html.split('id="settings-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="max_workers"' in dialog and 'name="learning_runs"' in dialog
    csrf = re.search(r'name="gradient-csrf" content="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    url = f"/ui/actions/projects/{p.id}/settings"
    ok = client.post(url, json={"max_workers": 6, "learning_runs": 3}, headers={"X-Gradient-CSRF": csrf})
    assert ok.status_code == 200, ok.text
    assert (svc.get_project(p.id).settings.max_workers, svc.get_project(p.id).settings.learning_runs) == (6, 3)
    bad = client.post(url, json={"sla_minutes": -5, "window_start": "25:00"}, headers={"X-Gradient-CSRF": csrf})
    assert bad.status_code == 422
    detail = bad.json()["detail"]
    assert "SLA (minutes) must be greater than 0" in detail, detail
    assert "Input should" not in detail and "settings." not in detail


def _svg(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def _pts(n: int, rec_at: int = 3) -> list[charts.ChartPoint]:
    return [charts.ChartPoint(label=f"run #{i + 1}", tick=f"#{i + 1}", cloud_usd=1.0 + i, dbu_usd=0.5,
                            storage_usd=0.0, runtime_s=600.0 + 60 * i, recommendation_applied=i == rec_at)
            for i in range(n)]


def test_charts_have_x_labels_a_distinct_rec_marker_with_legend_and_round_ticks() -> None:
    points = _pts(30)
    for chart in (charts.cost_chart(points), charts.runtime_chart(points, 45.0)):
        root = _svg(chart)
        xt = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "xtick"]
        assert xt[0] == "#1" and xt[-1] == "#30" and 2 <= len(xt) <= charts.MAX_X_LABELS + 1
        marker = next(g for g in root.iter(f"{NS}g") if g.get("class") == "rec")
        assert {el.get("stroke") or el.get("fill") for el in marker} == {charts.REC_COLOUR}
        assert charts.REC_COLOUR != charts.SLA_COLOUR
        legend = next(g for g in root.iter(f"{NS}g") if g.get("class") == "legend")
        assert "recommendation applied" in [t.text for t in legend.iter(f"{NS}text")]
        ticks = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "tick"]
        values = [float((t or "0").lstrip("$").replace(",", "")) for t in ticks]
        step = values[1] - values[0]
        assert all(v == pytest.approx(k * step) for k, v in enumerate(values)), ticks
        mantissa = step / 10 ** __import__("math").floor(__import__("math").log10(step))
        assert round(mantissa, 6) in (1.0, 2.0, 5.0), ticks
    # a maximum of 50 used to give ticks 12.5 -> "12" and 37.5 -> "38"
    assert charts.nice_step(50.0) == 20.0 and charts.nice_step(48.0) == 20.0 and charts.nice_step(3.7) == 1.0


def test_project_page_chart_labels_are_run_numbers(svc: GradientService, client: TestClient) -> None:
    project = _saving_project(svc, optimised_costs=[5.0] * 4)
    html = client.get(f"/ui/projects/{project.id}").text
    assert 'class="xtick"' in html and ">#1</text>" in html and ">#8</text>" in html


def test_task_instance_tab_link_leaves_the_sandboxed_iframe() -> None:
    from pathlib import Path

    from airflow_provider_gradient.plugins.gradient_plugin import GradientPlugin

    ti_view = next(v for v in GradientPlugin.external_views if v["destination"] == "task_instance")
    # Airflow leaves {MAP_INDEX} unfilled for unmapped tasks: the page ignores it (test_ui_pages.py)
    assert ti_view["href"].endswith("&map_index={MAP_INDEX}")
    template = (Path(auth.__file__).parent / "templates" / "ti.html").read_text()
    assert 'target="_top"' not in template and "data-open-outside" in template


def test_projected_savings_follow_logical_dates_not_databricks_clock() -> None:
    # runs started 2.9 h apart on the emulator's clock, but the DAG ran daily (logical dates one day apart)
    pts = [roi_mod.RunPoint(started_ms=T0 + int(i * 2.9 * 3_600_000), runtime_s=600.0,
                            cost_usd=10.0 if i < 4 else 5.0, input_bytes=None, succeeded=True,
                            recommendation_applied=i >= 4, logical_ms=T0 + i * DAY) for i in range(12)]
    roi = roi_mod.project_roi(pts)
    assert roi.annual_run_frequency == pytest.approx(365.0)
    assert roi.projected_12m_savings_usd == pytest.approx(5.0 * 365.0)
