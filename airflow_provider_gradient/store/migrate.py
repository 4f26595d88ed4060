"""Alembic migrations of the store, run programmatically (``gradient db upgrade``; automatically on first use).

Concurrent first use (several workers starting at once) is serialised: a transaction-scoped advisory
lock on PostgreSQL, an exclusive file lock beside the database on SQLite. Alembic (and Mako, ~0.5 s) is
imported only when a migration runs or a revision is asked for: a store already at the newest revision is
recognised with one query (:func:`ensure_schema`), so the CLI's local mode starts fast.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from airflow_provider_gradient.store.engine import Engines, get_engines

if TYPE_CHECKING:
    from alembic.config import Config

#: Alembic's version table for the Gradient store (distinct from Airflow's own ``alembic_version``).
VERSION_TABLE = "gradient_alembic_version"
_PG_LOCK_KEY = 0x6772_6164  # "grad"

_ready: set[str] = set()
log = logging.getLogger(__name__)


@contextlib.contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs every context at INFO (to stdout under Airflow's logging); keep CLI output clean."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
_ready_lock = threading.Lock()


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def revisions() -> list[str]:
    """All revisions, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with _quiet_alembic():
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


@contextlib.contextmanager
def _migration_lock(engines: Engines, conn: Connection | None) -> Iterator[None]:
    if engines.dialect == "postgresql":
        assert conn is not None
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        yield
        return
    db = make_url(engines.url).database
    if not db or db == ":memory:":
        yield
        return
    lock_path = Path(db).with_name(Path(db).name + ".migrate.lock")
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(engines: Engines, fn: str, revision: str) -> None:
    with _quiet_alembic():
        _run_locked(engines, fn, revision)
    log.debug("Gradient store %s: %s to %s done", engines.dialect, fn, revision)


def _run_locked(engines: Engines, fn: str, revision: str) -> None:
    from alembic import command

    if engines.dialect == "sqlite":
        # file lock first, then the write transaction (BEGIN IMMEDIATE)
        with _migration_lock(engines, None):
            with engines.write.begin() as conn:
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                getattr(command, fn)(cfg, revision)
        return
    with engines.write.begin() as conn:
        with _migration_lock(engines, conn):
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            getattr(command, fn)(cfg, revision)


def upgrade(url_or_engines: str | Engines, revision: str = "head") -> str | None:
    """Upgrade the store to ``revision`` (default head); returns the revision now current."""
    engines = get_engines(url_or_engines) if isinstance(url_or_engines, str) else url_or_engines
    _run(engines, "upgrade", revision)
    with engines.read.connect() as conn:
        return current_revision(conn)


def downgrade(url_or_engines: str | Engines, revision: str) -> str | None:
    """Downgrade the store to ``revision`` (``base`` drops every Gradient table)."""
    engines = get_engines(url_or_engines) if isinstance(url_or_engines, str) else url_or_engines
    _run(engines, "downgrade", revision)
    with _ready_lock:
        _ready.discard(engines.url)
    with engines.read.connect() as conn:
        return current_revision(conn)


VERSIONS = Path(__file__).parent / "migrations" / "versions"


def newest_file_revision() -> str | None:
    """The revision of the newest migration file, without Alembic.

    Each migration file is named after its revision id (``0003_project_allow_arm.py`` holds revision
    ``0003_project_allow_arm``) and the numbered prefixes order them, so the newest file is Alembic's head
    (``test_store_migrations`` checks both rules).
    """
    names = sorted(p.stem for p in VERSIONS.glob("[0-9]*.py"))
    return names[-1] if names else None


def stored_revision(conn: Connection) -> str | None:
    """The store's revision read with plain SQL (None when the version table is missing, empty or holds
    several heads)."""
    try:
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except SQLAlchemyError:  # no version table yet (the caller's connection is discarded afterwards)
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def ensure_schema(engines: Engines) -> None:
    """Bring the store to head once per process and URL (cheap check afterwards).

    A store already at the newest migration file's revision is recognised with one query; anything else
    (new store, older revision, a version table Alembic must read itself) goes through Alembic.
    """
    if engines.url in _ready:
        return
    with _ready_lock:
        if engines.url in _ready:
            return
        with engines.read.connect() as conn:
            fast = stored_revision(conn)
        if fast is not None and fast == newest_file_revision():
            _ready.add(engines.url)
            return
        with engines.read.connect() as conn:
            current = current_revision(conn)
        if current != head_revision():
            _run(engines, "upgrade", "head")
        _ready.add(engines.url)


def forget_schema_cache() -> None:
    """For tests: make the next ``ensure_schema`` check the database again."""
    with _ready_lock:
        _ready.clear()
