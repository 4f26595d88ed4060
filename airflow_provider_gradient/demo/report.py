"""``.demo/report.html``: a self-contained page with the demo's cost/runtime timelines and the reasons."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from airflow_provider_gradient.demo.runner import DemoRun

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2433;max-width:1000px}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem} table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #dde2ea;padding:.35rem .5rem;text-align:left} th{background:#f4f6f9}
td.num{text-align:right;font-variant-numeric:tabular-nums} .miss{color:#c0392b;font-weight:600} .ok{color:#1e8449}
.kpis{display:flex;gap:1rem;flex-wrap:wrap} .kpi{border:1px solid #dde2ea;border-radius:8px;padding:.7rem 1rem}
.kpi b{display:block;font-size:1.3rem} svg text{font-size:11px;fill:#445} .reason{color:#445;font-size:.85rem}
"""


def render_report(runs: Sequence[DemoRun], project: Any, roi: Any, sla_minutes: float) -> str:
    """Return the report as one HTML string (inline CSS and SVG, nothing loaded from elsewhere).

    :param runs: the demo runs, oldest first.
    :param project: the Gradient project the runs belong to.
    :param roi: the project's ``core.roi.ProjectRoi``.
    :param sla_minutes: the SLA used.
    """
    from airflow_provider_gradient.charts import ChartPoint, cost_chart, runtime_chart

    points = [
        ChartPoint(
            label=f"run {r.number}",
            cloud_usd=r.cloud_usd,
            dbu_usd=r.dbu_usd,
            storage_usd=max(r.total_usd - r.cloud_usd - r.dbu_usd, 0.0),
            runtime_s=r.runtime_s,
            failed=r.outcome != "success",
            recommendation_applied=r.phase != "baseline",
        )
        for r in runs
    ]
    rows = []
    for r in runs:
        runtime = "—" if r.runtime_s is None else f"{r.runtime_s / 60:.1f} min"
        sla_cls = "ok" if r.meets_sla else "miss"
        rows.append(
            Markup(
                "<tr><td class=num>{n}</td><td>{phase}</td><td>{cluster}</td><td>{outcome}</td>"
                "<td class='num {cls}'>{runtime}</td><td class=num>${cloud:.2f}</td><td class=num>${dbu:.2f}</td>"
                "<td class=num>${total:.2f}</td><td class=reason>{reason}</td></tr>"
            ).format(
                n=r.number, phase=r.phase, cluster=r.cluster, outcome=r.outcome, cls=sla_cls, runtime=runtime,
                cloud=r.cloud_usd, dbu=r.dbu_usd, total=r.total_usd, reason=r.reason or "",
            )
        )
    first, last = runs[0], runs[-1]
    change = (last.total_usd / first.total_usd - 1) * 100 if first.total_usd else 0.0
    kpis = Markup(
        "<div class=kpis><div class=kpi>First run<b>${f:.2f}</b></div><div class=kpi>Last run<b>${l:.2f}</b></div>"
        "<div class=kpi>Change<b>{c:+.0f}%</b></div><div class=kpi>Savings to date<b>${s:.2f}</b></div>"
        "<div class=kpi>Projected 12-month savings<b>${p:,.0f}</b></div></div>"
    ).format(f=first.total_usd, l=last.total_usd, c=change, s=roi.savings_to_date_usd,
             p=roi.projected_12m_savings_usd)
    body = Markup(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Gradient demo report</title>"
        "<style>{css}</style></head><body><h1>Gradient demo: {app}</h1>"
        "<p>{n} runs of <code>{app}</code> on the local Databricks emulator, SLA {sla:g} min, auto-apply on.</p>"
        "{kpis}<p class=reason>ROI: {roi_reason}</p>"
        "<h2>Cost per run</h2>{cost}<h2>Runtime per run</h2>{runtime}"
        "<h2>Runs and the recommendation each used</h2><table><thead><tr><th>#</th><th>Phase</th><th>Cluster</th>"
        "<th>Outcome</th><th>Runtime</th><th>Cloud</th><th>DBU</th><th>Total</th><th>Reason</th></tr></thead>"
        "<tbody>{rows}</tbody></table></body></html>"
    ).format(
        css=Markup(_CSS), app=project.app_id, n=len(runs), sla=sla_minutes, kpis=kpis, roi_reason=roi.reason,
        cost=cost_chart(points), runtime=runtime_chart(points, sla_minutes), rows=Markup("").join(rows),
    )
    return str(body)


def write_report(path: Path, html: str) -> Path:
    """Write the report and return its path."""
    path.write_text(html, encoding="utf-8")
    return path

