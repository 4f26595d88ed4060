"""CSV formula injection: one rule (core/csv_cell.py) for the server CSVs and the pages' "Export CSV"."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from airflow_provider_gradient.core.csv_cell import FORMULA_START, NUMBER, safe_cell

GRADIENT_JS = (
    Path(__file__).resolve().parents[2] / "airflow_provider_gradient" / "plugins" / "ui" / "static" / "gradient.js"
)
#: (cell, what a spreadsheet must receive)
CASES = [
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("\t12", "'\t12"),
    ("-1e3x", "'-1e3x"),
    ("-inf", "'-inf"),
    ("-2.5", "-2.5"),
    ("+3", "+3"),
    ("-0.75e-3", "-0.75e-3"),
    ("12", "12"),
    ("nightly_etl.transform", "nightly_etl.transform"),
    ("", ""),
    (None, ""),
    (-4.25, "-4.25"),
]


@pytest.mark.parametrize(("cell", "expected"), CASES)
def test_safe_cell(cell: object, expected: str) -> None:
    assert safe_cell(cell) == expected


def test_the_pages_export_uses_the_same_rule() -> None:
    """gradient.js's csvCell is written with exactly core/csv_cell.py's two regular expressions."""
    js = GRADIENT_JS.read_text()
    found = dict(re.findall(r"var (FORMULA_START|NUMBER) = /(.+?)/;", js))
    assert found == {"FORMULA_START": FORMULA_START.pattern, "NUMBER": NUMBER.pattern}
    assert "!NUMBER.test(s)" in js and "FORMULA_START.test(s)" in js and "parseFloat(s))) { s" not in js


def test_server_csvs_neutralise_formulas() -> None:
    from airflow_provider_gradient.plugins.ui import views
    from airflow_provider_gradient.service.summaries import summarize_project

    row = summarize_project(_project("-2+3+cmd|' /C calc'!A0"), [], None)
    data = list(csv.reader(io.StringIO(views.projects_csv([row]))))
    assert data[1][views.PROJECT_CSV_COLUMNS.index("name")] == "'-2+3+cmd|' /C calc'!A0"


def _project(name: str) -> object:
    from airflow_provider_gradient.service.schemas import Project, ProjectSettings

    return Project(
        id=1, app_id="a.b", name=name, cloud="aws", region="us-east-1", plan_type="Premium",
        compute_type="jobs", settings=ProjectSettings(), phase="learning", created_ms=0, updated_ms=0,
    )


def test_csv_text_quotes_line_breaks_and_neutralises_every_cell() -> None:
    from airflow_provider_gradient.core.csv_cell import csv_text

    text = csv_text(["name", "n"], [["\r=1+1", -2], ["a\nb", "=x"]])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["name", "n"], ["'\r=1+1", "-2"], ["a\nb", "'=x"]]
