"""Shared test fixtures: paths to the shared corpus and throw-away databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gradient.db'}"


@pytest.fixture
def pg_url() -> str:
    return new_pg_database()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store/service test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gradient.db'}"
    else:
        yield new_pg_database()


@pytest.fixture
def eventlogs_dir() -> Path:
    if not EVENTLOGS.is_dir():
        pytest.skip(f"shared event logs not found at {EVENTLOGS}")
    return EVENTLOGS
