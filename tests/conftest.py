"""Shared test fixtures: paths to the shared corpus, throw-away stores (SQLite and PostgreSQL) and a service on one.

``svc`` is a ``GradientService`` on a fresh store, once per store of ``store_url`` (SQLite and PostgreSQL); a
module marked ``pytestmark = pytest.mark.sqlite_only`` runs it on SQLite only. Every store fixture closes the
connection pools its test opened (``close_pools``). A free local port: ``ports.free_port()``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_gradient.service import GradientService

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EVENTLOGS = SHARED / "eventlogs" / "public"


def pg_admin_url() -> str | None:
    """URL of the throw-away PostgreSQL started by ``scripts/run_tests.sh`` (None when not running)."""
    return os.environ.get("GRADIENT_TEST_PG_URL") or None


def new_pg_database() -> str:
    """Create a fresh database on the test PostgreSQL and return its SQLAlchemy URL."""
    import psycopg

    admin = pg_admin_url()
    if admin is None:
        if os.environ.get("CI"):
            pytest.fail("GRADIENT_TEST_PG_URL is not set: run the suite through `make test`")
        pytest.skip("PostgreSQL tests need `make test` (GRADIENT_TEST_PG_URL)")
    name = "t_" + uuid.uuid4().hex[:12]
    dsn = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + "/" + name


STORES = ("sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: run the module's store_url/svc tests on SQLite only")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``store_url`` (and so ``svc``) is parametrised here: both stores, or SQLite only where marked."""
    if "store_url" in metafunc.fixturenames:
        stores = ["sqlite"] if metafunc.definition.get_closest_marker("sqlite_only") else list(STORES)
        metafunc.parametrize("store_url", stores, indirect=True)


@pytest.fixture
def close_pools() -> Iterator[None]:
    """Close the connection pools the test opened (each test has its own database; PostgreSQL max_connections)."""
    from airflow_provider_gradient.store.engine import cached_engine_keys, dispose_engines_except

    before = cached_engine_keys()
    yield
    dispose_engines_except(before)


@pytest.fixture
def sqlite_url(tmp_path: Path, close_pools: None) -> str:
    return f"sqlite:///{tmp_path / 'gradient.db'}"


@pytest.fixture
def pg_url(close_pools: None) -> str:
    return new_pg_database()


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path, close_pools: None) -> str:
    """A fresh store's URL: each test using it runs once on SQLite and once on PostgreSQL (see ``sqlite_only``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gradient.db'}"
    return new_pg_database()


@pytest.fixture
def svc(store_url: str) -> GradientService:
    """A service on a fresh store (``store_url``)."""
    from airflow_provider_gradient.service import GradientService

    return GradientService.from_url(store_url)


@pytest.fixture
def eventlogs_dir() -> Path:
    if not EVENTLOGS.is_dir():
        pytest.skip(f"shared event logs not found at {EVENTLOGS}")
    return EVENTLOGS
