"""Store schema: Alembic migrations up and down with data (SQLite and PostgreSQL), models == migrations,
SQLite pragmas, constraints the service relies on."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from airflow_provider_gradient.service import GradientService, RecommendationIn, RunIn
from airflow_provider_gradient.store import Base, downgrade, get_engines, head_revision, upgrade
from airflow_provider_gradient.store.migrate import (
    VERSION_TABLE,
    current_revision,
    forget_schema_cache,
    revisions,
)

TABLES = {"gradient_workspaces", "gradient_projects", "gradient_runs", "gradient_recommendations"}


def _counts(url: str) -> dict[str, int]:
    eng = get_engines(url).read
    names = set(inspect(eng).get_table_names())
    with eng.connect() as c:
        return {t: c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in sorted(TABLES & names)}


def _fill(url: str) -> None:
    svc = GradientService.from_url(url)
    for i in range(3):
        p = svc.get_or_create_project(
            f"dag{i}.task",
            workspace={"name": "ws", "host": "https://dbc.example", "cloud": "aws"},
            baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 2},
        )
        for r in range(4):
            svc.record_run(
                p.id, RunIn(databricks_run_id=r, outcome="success", start_ms=r * 1000, end_ms=r * 1000 + 500)
            )
        svc.store_recommendation(
            p.id, RecommendationIn(cluster={"node_type_id": "m5.large"}, phase="learning")
        )


def test_models_match_migrations(store_url: str) -> None:
    upgrade(store_url)
    with get_engines(store_url).read.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; add an Alembic revision: {diff}"


def test_upgrade_downgrade_with_data(store_url: str) -> None:
    """Every revision step runs up and down with data in the tables; nothing is lost by a round trip."""
    revs = revisions()
    assert revs[0] == "0001_initial" and revs[-1] == head_revision()
    assert upgrade(store_url) == head_revision()
    _fill(store_url)
    before = _counts(store_url)
    assert before == {
        "gradient_projects": 3,
        "gradient_recommendations": 3,
        "gradient_runs": 12,
        "gradient_workspaces": 1,
    }
    # step down one revision at a time (data in the tables), then back up: rows of surviving tables stay
    for i in range(len(revs) - 1, 0, -1):
        assert downgrade(store_url, revs[i - 1]) == revs[i - 1]
        assert upgrade(store_url, revs[i]) == revs[i]
        assert _counts(store_url) == before
    # all the way down with data in every table, then up again: a clean, working schema
    assert downgrade(store_url, "base") is None
    assert not (TABLES & set(inspect(get_engines(store_url).read).get_table_names()))
    assert upgrade(store_url) == head_revision()
    forget_schema_cache()
    _fill(store_url)
    assert _counts(store_url) == before


def test_schema_applied_automatically_on_first_use(store_url: str) -> None:
    svc = GradientService.from_url(store_url)
    with get_engines(store_url).read.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert svc.health().status == "ok"
    assert svc.health().schema_revision == head_revision()


def test_sqlite_wal_and_busy_timeout(sqlite_url: str) -> None:
    GradientService.from_url(sqlite_url)
    for eng in (get_engines(sqlite_url).read, get_engines(sqlite_url).write):
        with eng.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_indexes_exist(store_url: str) -> None:
    upgrade(store_url)
    insp = inspect(get_engines(store_url).read)
    rec_ix = {ix["name"]: ix for ix in insp.get_indexes("gradient_recommendations")}
    assert rec_ix["ix_gradient_recommendations_project_state"]["column_names"] == [
        "project_id",
        "state",
        "id",
    ]
    assert rec_ix["uq_gradient_recommendations_one_ready"]["unique"]
    run_ix = {ix["name"]: ix for ix in insp.get_indexes("gradient_runs")}
    assert run_ix["ix_gradient_runs_project_time"]["column_names"] == ["project_id", "start_ms"]
    uqs = {tuple(u["column_names"]) for u in insp.get_unique_constraints("gradient_runs")}
    assert ("project_id", "databricks_run_id") in uqs
    assert ("app_id",) in {tuple(u["column_names"]) for u in insp.get_unique_constraints("gradient_projects")}


def test_database_enforces_one_ready_recommendation(store_url: str) -> None:
    """Even a writer bypassing the service cannot create a second ready recommendation of a project."""
    svc = GradientService.from_url(store_url)
    p = svc.get_or_create_project("a.b")
    svc.store_recommendation(p.id, RecommendationIn(cluster={}, phase="learning"))
    eng = get_engines(store_url).write
    with pytest.raises(IntegrityError):
        with eng.begin() as c:
            c.execute(
                text(
                    "INSERT INTO gradient_recommendations (project_id, created_ms, phase, learning_iteration, "
                    "learning_total, cluster, reason, state, updated_ms) "
                    "VALUES (:p, 0, 'learning', 0, 0, '{}', '', 'ready', 0)"
                ),
                {"p": p.id},
            )


def test_newest_migration_file_is_the_alembic_head() -> None:
    """ensure_schema recognises an up-to-date store without importing Alembic, by the newest migration file's
    name: each file is named after its revision and the newest file is the head."""
    from pathlib import Path

    from alembic.script import ScriptDirectory

    from airflow_provider_gradient.store.migrate import alembic_config, newest_file_revision

    script = ScriptDirectory.from_config(alembic_config())
    for rev in script.walk_revisions():
        assert rev.path is not None and Path(rev.path).stem == rev.revision
    assert newest_file_revision() == head_revision()


def test_stored_revision_without_alembic(sqlite_url: str) -> None:
    from airflow_provider_gradient.store.migrate import stored_revision

    with get_engines(sqlite_url).read.connect() as c:
        assert stored_revision(c) is None  # no version table yet
    upgrade(sqlite_url, revisions()[0])
    with get_engines(sqlite_url).read.connect() as c:
        assert stored_revision(c) == revisions()[0]
    forget_schema_cache()
    GradientService.from_url(sqlite_url)  # not the newest revision: Alembic upgrades it
    with get_engines(sqlite_url).read.connect() as c:
        assert stored_revision(c) == head_revision() == current_revision(c)
