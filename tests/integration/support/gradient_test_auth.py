"""A SimpleAuthManager that denies some DAGs to some users: the "user without the DAG" of the security tests.

Configured in the test api-server's ``airflow.cfg``::

    [core]
    auth_manager = gradient_test_auth.DenyDagAuthManager
    [gradient_test]
    denied_dags = analyst:finance_dag

A user with a denied DAG also lacks the "every DAG" permission (``details=None``), as a user restricted to
some DAGs does in Airflow's FAB auth manager.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.configuration import conf


def _denied() -> set[tuple[str, str]]:
    spec = conf.get("gradient_test", "denied_dags", fallback="") or ""
    out = set()
    for part in spec.split(","):
        user, _, dag = part.strip().partition(":")
        if user and dag:
            out.add((user, dag))
    return out


class DenyDagAuthManager(SimpleAuthManager):
    """SimpleAuthManager minus the (user, DAG) pairs of ``[gradient_test] denied_dags``."""

    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        denied = _denied()
        name = user.get_name()
        dag_id = getattr(details, "id", None) if details is not None else None
        if dag_id and (name, dag_id) in denied:
            return False
        if not dag_id and any(u == name for u, _ in denied):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
