"""Server-rendered SVG charts of the Gradient pages: one point per run, markers, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from airflow_provider_gradient.charts import (
    ChartPoint,
    bar_chart,
    cost_chart,
    runtime_chart,
    sparkline,
)

NS = "{http://www.w3.org/2000/svg}"


def _points(n: int) -> list[ChartPoint]:
    return [
        ChartPoint(
            label=f"run {i}",
            cloud_usd=1.0 + i,
            dbu_usd=0.5,
            storage_usd=0.1 if i % 2 else 0.0,
            runtime_s=600.0 + 60 * i,
            failed=i == 2,
            recommendation_applied=i == 3,
        )
        for i in range(n)
    ]


def _classes(svg: str, cls: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def test_cost_chart_has_one_stacked_bar_per_run_and_marks_failures_and_recommendations() -> None:
    svg = str(cost_chart(_points(7)))
    assert len(_classes(svg, "pt")) == 7
    assert len(_classes(svg, "failed")) == 1
    assert len(_classes(svg, "rec")) == 1
    # run 1: cloud 2.0 + DBU 0.5 + storage 0.1 -> three stacked rects
    bar1 = _classes(svg, "pt")[1]
    assert len(bar1.findall(f"{NS}rect")) == 3
    assert "$2.60" in bar1.find(f"{NS}title").text  # type: ignore[union-attr]


def test_runtime_chart_draws_the_sla_line_at_the_right_height() -> None:
    pts = _points(4)
    svg = str(runtime_chart(pts, sla_minutes=20.0))
    assert len(_classes(svg, "pt")) == 4
    sla = _classes(svg, "sla")[0].find(f"{NS}line")
    assert sla is not None
    circles = _classes(svg, "pt")
    # run 0 lasts 10 min, half the SLA of 20 min: its y is between the SLA line and the x axis
    y_sla = float(sla.get("y1"))  # type: ignore[arg-type]
    y0 = float(circles[0].get("cy"))  # type: ignore[arg-type]
    assert y0 > y_sla
    assert "SLA 20 min" in svg


def test_chart_text_is_escaped() -> None:
    p = ChartPoint("<script>alert(1)</script>", 1.0, 1.0, 0.0, 60.0)
    svg = str(cost_chart([p])) + str(runtime_chart([p], None))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    ET.fromstring(str(cost_chart([p])))  # still well-formed XML


def test_empty_and_tiny_inputs() -> None:
    assert len(_classes(str(cost_chart([])), "pt")) == 0
    assert len(_classes(str(runtime_chart([], None)), "pt")) == 0
    assert str(sparkline([1.0])) == ""
    assert "polyline" in str(sparkline([3.0, 2.0, 1.0]))
    svg = str(bar_chart(["d1", "d2", "d3"], [1.0, 0.0, 2.5], title="x"))
    assert len(_classes(svg, "pt")) == 3
    heights = [float(e.get("height")) for e in _classes(svg, "pt")]  # type: ignore[arg-type]
    assert heights[1] == 0.0 and heights[2] > heights[0] > 0
    assert re.search(r"d1", svg) and re.search(r"d3", svg)
