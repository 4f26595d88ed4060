"""``operators.steps``: the public names of the apply/record/queue steps for code outside ``operators/`` are the
private modules' own objects, and resolving the queue step loads no Airflow (``gradient runs sync``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# this test checks that the public names are the private modules' own objects: it needs those modules
from airflow_provider_gradient.operators import _apply, _pending, _record, steps  # noqa: TID251

REPO = Path(__file__).resolve().parents[2]


def test_every_public_name_is_the_private_object() -> None:
    for name in steps.__all__:
        source = {"_apply": _apply, "_pending": _pending, "_record": _record}[steps._SOURCES[name]]
        assert getattr(steps, name) is getattr(source, name), name
    assert set(steps.__all__) == set(steps._SOURCES) and set(steps.__all__) <= set(dir(steps))
    with pytest.raises(AttributeError, match="record_run"):
        _ = steps.record_run


def test_a_private_module_patched_is_what_the_public_name_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importers resolve the name when they use it (the listener imports it per call), as before."""
    monkeypatch.setattr(_record, "safe_record", lambda *a, **k: ["patched"])
    from airflow_provider_gradient.operators.steps import safe_record

    assert safe_record(None, None, 1) == ["patched"]


def test_the_queue_step_loads_no_airflow(tmp_path: Path) -> None:
    code = (
        "import sys; from airflow_provider_gradient.operators.steps import sync_pending, PendingRun; "
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')], 'airflow imported'"
    )
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
