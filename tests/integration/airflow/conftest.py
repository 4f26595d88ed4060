"""Fixtures of the Airflow-integration tests of issue 5, on top of ``tests/integration/conftest.py``
(one migrated Airflow home and one emulator per session, ``dag_files`` to write/parse DAG files)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def gradient_store(
    airflow_home: dict[str, Any], no_faults: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A fresh Gradient store (local mode, default connection) for one test; yields its ``GradientService``.

    Also polls the fast emulator every second from the example DAGs, resets emulator faults and gives the
    test its own queue of runs still to be recorded (``[gradient] pending_dir``).
    """
    from airflow.configuration import conf

    from airflow_provider_gradient.service import GradientService

    url = f"sqlite:///{tmp_path / 'gradient.db'}"
    monkeypatch.setenv("AIRFLOW__GRADIENT__STORE_URL", url)
    monkeypatch.setenv("GRADIENT_EXAMPLE_POLL_S", "1")
    # runs a slow test could not record are queued per test, never synced into the next test's store
    monkeypatch.setenv("AIRFLOW__GRADIENT__PENDING_DIR", str(tmp_path / "pending"))
    monkeypatch.delenv("AIRFLOW_CONN_GRADIENT_DEFAULT", raising=False)
    old = conf.get("gradient", "store_url", fallback="")
    conf.set("gradient", "store_url", url)
    yield GradientService.from_url(url)
    conf.set("gradient", "store_url", old or "")
