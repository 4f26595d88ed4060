"""Who may read and change what in the plugin: the permission model over Airflow's auth manager.

* A **project belongs to its DAG** (``Project.dag_id``). Reading it — the project, its settings, runs and
  recommendations, its row on the projects page and in the CSV, its page, the task-instance tab and the KPIs
  summed over projects — needs ``GET`` on that DAG; changing it needs ``PUT`` (``is_authorized_dag``; lists
  use ``filter_authorized_dag_ids``, the auth manager's batch check), exactly like Airflow's own API.
* A **project with no DAG** and **deployment-wide objects** (workspaces: their plan type prices every
  project) follow ``[gradient] projects_without_dag``: ``admin`` (default) — only Airflow administrators,
  i.e. users the auth manager lets delete every DAG and change connections and variables (SimpleAuthManager:
  ``op``, ``admin``) — or ``all_dags`` — users with the same right on every DAG (``details=None``).
* **Discover** calls a workspace with a connection's credentials: only connections of type ``databricks``,
  and only for users allowed to read that connection (``is_authorized_connection``) or connections listed in
  ``[gradient] discover_conn_ids``.

Outside an Airflow api-server (no auth manager initialised: unit tests, ``create_app`` embedded elsewhere)
every check passes; inside one, an auth manager error denies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol, TypeVar

from fastapi import HTTPException, status

from airflow_provider_gradient.settings import GradientConfigError, GradientSettings, get_settings

log = logging.getLogger(__name__)

Method = Literal["GET", "PUT", "POST", "DELETE"]
class OfDag(Protocol):
    """Something that belongs to a DAG (a project, a project summary)."""

    @property
    def dag_id(self) -> str | None: ...


T = TypeVar("T", bound=OfDag)
_NO_MANAGER = object()
UNOWNED_MODES = ("admin", "all_dags")


def _settings() -> GradientSettings | None:
    try:
        return get_settings()
    except GradientConfigError as exc:
        log.error("Gradient: %s; access falls back to the most restrictive rules", exc)
        return None


def unowned_mode() -> str:
    """``[gradient] projects_without_dag`` (``admin`` or ``all_dags``; a bad section means ``admin``)."""
    settings = _settings()
    return settings.projects_without_dag if settings is not None else "admin"


def discover_allow_list() -> frozenset[str]:
    """``[gradient] discover_conn_ids``: connections every page user may scan with Discover."""
    settings = _settings()
    return frozenset(settings.discover_conn_ids) if settings is not None else frozenset()


def _auth_manager() -> Any:
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager()
    except Exception:  # noqa: BLE001 - not inside an api-server
        return _NO_MANAGER


def _multi_team() -> bool:
    try:
        from airflow.configuration import conf

        return conf.getboolean("core", "multi_team", fallback=False)
    except Exception:  # noqa: BLE001
        return False


class Access:
    """The permissions of one user for one request (answers are cached for the request).

    :param user: the authenticated Airflow user
    :param manager: the auth manager (default: the api-server's; none outside an api-server)
    """

    def __init__(self, user: Any, manager: Any = None) -> None:
        self.user = user
        self.manager = _auth_manager() if manager is None else manager
        self._dags: dict[tuple[str, str], bool] = {}
        self._flags: dict[str, bool] = {}

    @property
    def enforced(self) -> bool:
        """Whether an auth manager decides (False outside an api-server)."""
        return self.manager is not _NO_MANAGER

    def _ask(self, what: str, check: Callable[[], Any]) -> bool:
        try:
            return bool(check())
        except Exception:  # noqa: BLE001 - a failing auth manager denies
            log.warning("gradient: auth manager check %s failed; denied", what, exc_info=True)
            return False

    # ---------------------------------------------------------------- deployment-wide
    def is_admin(self) -> bool:
        """Airflow administrator: may delete every DAG and change connections and variables."""
        if not self.enforced:
            return True
        if "admin" not in self._flags:
            m, u = self.manager, self.user
            self._flags["admin"] = self._ask(
                "admin",
                lambda: (
                    m.is_authorized_dag(method="DELETE", user=u)
                    and m.is_authorized_connection(method="PUT", user=u)
                    and m.is_authorized_variable(method="PUT", user=u)
                ),
            )
        return self._flags["admin"]

    def can_unowned(self, method: Method) -> bool:
        """Whether the user may ``method`` a project without a DAG (and deployment-wide objects)."""
        if not self.enforced:
            return True
        if unowned_mode() == "all_dags":
            key = f"all:{method}"
            if key not in self._flags:
                m, u = self.manager, self.user
                self._flags[key] = self._ask(key, lambda: m.is_authorized_dag(method=method, user=u))
            return self._flags[key]
        return self.is_admin()

    # ---------------------------------------------------------------- DAGs
    def allowed_dags(self, dag_ids: Iterable[str], method: Method = "GET") -> set[str]:
        """The subset of ``dag_ids`` the user may ``method`` (one batch call per team).

        :param dag_ids: DAG ids
        :param method: ``GET`` to read, ``PUT`` to change
        """
        wanted = {d for d in dag_ids if d}
        if not self.enforced:
            return wanted
        todo = {d for d in wanted if (method, d) not in self._dags}
        if todo:
            granted = self._filter(todo, method)
            for d in todo:
                self._dags[(method, d)] = d in granted
        return {d for d in wanted if self._dags[(method, d)]}

    def _filter(self, dag_ids: set[str], method: Method) -> set[str]:
        teams: dict[str | None, set[str]] = {None: set(dag_ids)}
        if _multi_team():
            try:
                from airflow.models.dag import DagModel

                mapping = DagModel.get_dag_id_to_team_name_mapping(sorted(dag_ids))
            except Exception:  # noqa: BLE001 - no team known: checked without one
                mapping = {}
            teams = {}
            for d in dag_ids:
                teams.setdefault(mapping.get(d), set()).add(d)
        out: set[str] = set()
        for team, ids in teams.items():
            try:
                out |= set(
                    self.manager.filter_authorized_dag_ids(
                        dag_ids=ids, user=self.user, method=method, team_name=team
                    )
                )
            except Exception:  # noqa: BLE001 - a failing auth manager denies
                log.warning("gradient: auth manager DAG check failed; denied", exc_info=True)
        return out

    def can(self, dag_id: str | None, method: Method = "GET") -> bool:
        """Whether the user may ``method`` the project of ``dag_id`` (no DAG: :meth:`can_unowned`).

        :param dag_id: the project's DAG id, or None
        :param method: ``GET`` to read, ``PUT`` to change
        """
        if not dag_id:
            return self.can_unowned(method)
        return dag_id in self.allowed_dags([dag_id], method)

    def require(self, dag_id: str | None, method: Method = "GET") -> None:
        """Raise ``403`` unless :meth:`can`.

        :param dag_id: the project's DAG id, or None
        :param method: ``GET`` to read, ``PUT`` to change
        """
        if self.can(dag_id, method):
            return
        verb = "read" if method == "GET" else "edit"
        if dag_id:
            msg = f"{verb} permission on DAG {dag_id!r} is required"
        else:
            msg = f"this project has no DAG: {verb}ing it needs {unowned_who()}"
        raise HTTPException(status.HTTP_403_FORBIDDEN, msg)

    def require_admin(self, what: str) -> None:
        """Raise ``403`` unless the user may change deployment-wide objects (:meth:`can_unowned` ``PUT``).

        :param what: what is being changed, for the message
        """
        if not self.can_unowned("PUT"):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{what} needs {unowned_who()}")

    def readable(self, items: Sequence[T]) -> list[T]:
        """The items (projects, project summaries) the user may read, in their order.

        :param items: objects of a DAG (``dag_id``; None: a project without a DAG)
        """
        if not self.enforced:
            return list(items)
        allowed = self.allowed_dags((i.dag_id or "" for i in items), "GET")
        unowned = None
        out: list[T] = []
        for item in items:
            dag = item.dag_id
            if dag:
                if dag in allowed:
                    out.append(item)
            else:
                if unowned is None:
                    unowned = self.can_unowned("GET")
                if unowned:
                    out.append(item)
        return out

    # ---------------------------------------------------------------- connections
    def can_use_connection(self, conn_id: str) -> bool:
        """Whether Discover may use ``conn_id`` for this user (connection permission or allow-list).

        :param conn_id: the Airflow connection id
        """
        if conn_id in discover_allow_list() or not self.enforced:
            return True
        m, u = self.manager, self.user

        def check() -> bool:
            from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

            team = None
            if _multi_team():
                from airflow.models import Connection

                team = Connection.get_team_name(conn_id)
            return bool(
                m.is_authorized_connection(
                    method="GET", details=ConnectionDetails(conn_id=conn_id, team_name=team), user=u
                )
            )

        return self._ask(f"connection:{conn_id}", check)


def unowned_who() -> str:
    if unowned_mode() == "all_dags":
        return "permission on every DAG ([gradient] projects_without_dag = all_dags)"
    return "an Airflow administrator ([gradient] projects_without_dag = admin)"
