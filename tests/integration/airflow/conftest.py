"""Fixtures of the Airflow-integration tests of issue 5, on top of ``tests/integration/conftest.py``
(one migrated Airflow home and one emulator per session, ``dag_files`` to write/parse DAG files), plus
the helpers the DAG tests share: ``gradient_store``, ``one_task_dag``, ``submits`` and ``api``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


#: The operators the tests' one-task DAGs use: short name -> (module, class).
OPERATORS = {
    "gradient": ("airflow_provider_gradient.operators.gradient", "GradientDatabricksOperator"),
    "submit": ("airflow.providers.databricks.operators.databricks", "DatabricksSubmitRunOperator"),
}
#: Task arguments every GradientDatabricksOperator of these tests gets unless the test says otherwise:
#: a short wait for the event log and a 1 s poll of the emulator's (accelerated) runs.
GRADIENT_TASK_DEFAULTS: dict[str, Any] = {"gradient_log_tries": 6, "gradient_log_backoff_s": 0.5}


def one_task_dag_source(
    dag_id: str,
    cluster: dict[str, Any],
    *,
    task_id: str = "etl",
    notebook: str = "small_startup",
    operator: str = "gradient",
    dag_args: dict[str, Any] | None = None,
    **task_args: Any,
) -> str:
    """The source of a DAG with one task submitting the emulator notebook ``/Shared/jobs/<notebook>``.

    :param cluster: the task's ``new_cluster`` (``spark_version`` defaults to 15.4)
    :param operator: ``gradient`` (GradientDatabricksOperator) or ``submit`` (DatabricksSubmitRunOperator)
    :param dag_args: more ``DAG(...)`` arguments (``tags``, ``params``)
    :param task_args: more operator arguments (values written with ``repr``)
    """
    module, cls = OPERATORS[operator]
    args = {**(GRADIENT_TASK_DEFAULTS if operator == "gradient" else {}), "polling_period_seconds": 1, **task_args}
    lines = [
        "import pendulum",
        "from airflow.sdk import DAG",
        f"from {module} import {cls}",
        "",
        f"with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz='UTC'), catchup=False"
        + "".join(f", {k}={v!r}" for k, v in (dag_args or {}).items()) + "):",
        f"    {cls}(",
        f"        task_id={task_id!r},",
        f"        new_cluster={({'spark_version': '15.4.x-scala2.12', **cluster})!r},",
        f"        notebook_task={({'notebook_path': f'/Shared/jobs/{notebook}'})!r},",
        *(f"        {k}={v!r}," for k, v in args.items()),
        "    )",
        "",
    ]
    return "\n".join(lines)


@pytest.fixture
def one_task_dag(dag_files: Any) -> Callable[..., Any]:
    """``one_task_dag(dag_id, cluster, **kw)``: write ``<dag_id>.py`` (see :func:`one_task_dag_source`) into
    the session's DAGs folder and return the parsed DAG."""

    def make(dag_id: str, cluster: dict[str, Any], **kwargs: Any) -> Any:
        return dag_files.load(dag_id, dag_files.write(f"{dag_id}.py", one_task_dag_source(dag_id, cluster, **kwargs)))

    return make


@pytest.fixture
def submits(emulator: Any) -> Callable[[], list[dict[str, Any]]]:
    """``submits()``: the bodies of every ``jobs/runs/submit`` the session's emulator received, oldest first."""
    return lambda: [s["body"] for s in emulator.submissions() if s["path"].endswith("/jobs/runs/submit")]


@pytest.fixture
def api(gradient_store: Any) -> Iterator[Any]:
    """The plugin's app over the test store, as a logged-in admin (REST API + pages)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from airflow_provider_gradient.plugins.app import create_app
    from airflow_provider_gradient.plugins.ui import auth

    app = create_app(gradient_store)
    user = SimpleAuthManagerUser(username="admin", role="admin")
    for dep in (auth.page_user, auth.api_user, get_user):
        app.dependency_overrides[dep] = lambda: user
    with TestClient(app, follow_redirects=False) as c:
        c.cookies.set("_token", "session-jwt")
        yield c
    app.dependency_overrides.clear()
