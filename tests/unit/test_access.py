"""The permission model (plugins/access.py) over a real SimpleAuthManager (the security tests' subclass that
denies finance_dag to analyst): per-DAG reads and edits, projects without a DAG in both
``[gradient] projects_without_dag`` modes, Discover's connection rule and its allow-list."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "support"))


@dataclass
class Item:
    dag_id: str | None


@pytest.fixture
def access() -> Iterator[object]:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.configuration import conf
    from gradient_test_auth import DenyDagAuthManager

    from airflow_provider_gradient.plugins.access import Access

    saved = {o: conf.get("gradient", o, fallback=None) for o in ("projects_without_dag", "discover_conn_ids")}
    if not conf.has_section("gradient_test"):
        conf.add_section("gradient_test")
    conf.set("gradient_test", "denied_dags", "analyst:finance_dag")
    manager = DenyDagAuthManager()
    roles = {"viewer": "viewer", "user": "user", "analyst": "user", "op": "op", "admin": "admin"}

    def of(name: str) -> Access:
        return Access(SimpleAuthManagerUser(username=name, role=roles[name]), manager)

    yield of
    for option, value in saved.items():
        if value is None:
            conf.remove_option("gradient", option)
        else:
            conf.set("gradient", option, value)


def test_reads_and_edits_follow_the_dag(access) -> None:  # type: ignore[no-untyped-def]
    items = [Item("finance_dag"), Item("sales_dag"), Item(None)]
    assert access("viewer").readable(items) == items[:2]
    assert access("analyst").readable(items) == [items[1]]
    assert access("admin").readable(items) == items
    assert access("viewer").can("finance_dag") and not access("viewer").can("finance_dag", "PUT")
    assert access("user").can("finance_dag", "PUT") and not access("analyst").can("finance_dag", "PUT")
    assert access("analyst").allowed_dags(["finance_dag", "sales_dag", ""]) == {"sales_dag"}


def test_projects_without_a_dag(access) -> None:  # type: ignore[no-untyped-def]
    from airflow.configuration import conf
    from fastapi import HTTPException

    # admin (default): users who may delete every DAG and change connections and variables
    assert [n for n in ("viewer", "user", "analyst", "op", "admin") if access(n).can(None)] == ["op", "admin"]
    with pytest.raises(HTTPException) as err:
        access("user").require_admin("creating a workspace")
    assert err.value.status_code == 403 and "administrator" in err.value.detail
    conf.set("gradient", "projects_without_dag", "all_dags")
    assert [n for n in ("viewer", "user", "analyst", "op", "admin") if access(n).can(None)] == [
        "viewer", "user", "op", "admin"]
    assert [n for n in ("viewer", "user", "analyst") if access(n).can(None, "PUT")] == ["user"]
    conf.set("gradient", "projects_without_dag", "nonsense")  # anything else is the safe default
    assert not access("user").can(None)


def test_discover_connections(access) -> None:  # type: ignore[no-untyped-def]
    from airflow.configuration import conf

    assert access("op").can_use_connection("databricks_default")
    assert not access("viewer").can_use_connection("databricks_default")
    assert not access("user").can_use_connection("databricks_default")
    conf.set("gradient", "discover_conn_ids", "databricks_shared, other")
    assert access("viewer").can_use_connection("databricks_shared")
    assert not access("viewer").can_use_connection("databricks_default")


def test_a_failing_auth_manager_denies() -> None:
    from airflow_provider_gradient.plugins.access import Access

    class Broken:
        def filter_authorized_dag_ids(self, **kw: object) -> set[str]:
            raise RuntimeError("auth backend down")

        def is_authorized_dag(self, **kw: object) -> bool:
            raise RuntimeError("auth backend down")

    a = Access(object(), Broken())
    assert a.readable([Item("a"), Item(None)]) == []
    assert not a.can("a", "PUT")
