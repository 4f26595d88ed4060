"""Engines for the Gradient store: SQLite (WAL, busy timeout, explicit BEGIN) and PostgreSQL (psycopg 3).

SQLite notes: the pysqlite driver's implicit transaction handling is switched off and we emit BEGIN
ourselves, so that a *write* transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock up
front and waits ``busy_timeout`` for it, instead of failing with "database is locked" when a deferred
read transaction later tries to upgrade to a write. Readers never block in WAL mode.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

#: How long a SQLite writer waits for the lock before "database is locked" (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000


def default_store_url(airflow_home: str | os.PathLike[str] | None = None) -> str:
    """``sqlite:///$AIRFLOW_HOME/gradient.db`` (AIRFLOW_HOME defaults to ``~/airflow``)."""
    home = airflow_home or os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return f"sqlite:///{Path(home) / 'gradient.db'}"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` / ``postgres://`` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, immediate: bool, **kw: Any) -> Engine:
    u = make_url(url)
    if u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **kw,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Engines:
    """The engines of one store URL: ``read`` (plain transactions) and ``write`` (serialised writers on SQLite).

    On PostgreSQL both are the same engine.
    """

    def __init__(self, url: str, **engine_kw: Any) -> None:
        self.url = normalize_url(url)
        if is_sqlite(self.url) and make_url(self.url).database in (None, "", ":memory:"):
            from sqlalchemy.pool import StaticPool

            self.read = self.write = _sqlite_engine(
                self.url, immediate=False, poolclass=StaticPool, **engine_kw
            )
        elif is_sqlite(self.url):
            self.read = _sqlite_engine(self.url, immediate=False, **engine_kw)
            self.write = _sqlite_engine(self.url, immediate=True, **engine_kw)
        else:
            kw = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10, **engine_kw}
            self.read = self.write = create_engine(self.url, **kw)

    @property
    def dialect(self) -> str:
        return self.write.dialect.name

    def dispose(self) -> None:
        self.read.dispose()
        if self.write is not self.read:
            self.write.dispose()


_cache: dict[str, Engines] = {}
_cache_lock = threading.Lock()


def get_engines(url: str) -> Engines:
    """Process-wide engines per URL (created once; forks get their own, see ``reset_engines``)."""
    key = f"{os.getpid()}:{normalize_url(url)}"
    with _cache_lock:
        eng = _cache.get(key)
        if eng is None:
            eng = _cache[key] = Engines(url)
        return eng


def cached_engine_keys() -> frozenset[str]:
    """Keys of the engines cached now (see ``dispose_engines_except``)."""
    with _cache_lock:
        return frozenset(_cache)


def dispose_engines_except(keep: frozenset[str]) -> None:
    """Dispose and forget the engines cached since ``keep = cached_engine_keys()``; for tests."""
    with _cache_lock:
        for key in set(_cache) - keep:
            _cache.pop(key).dispose()


def reset_engines() -> None:
    """Forget (and dispose) every cached engine; for tests."""
    with _cache_lock:
        for eng in _cache.values():
            eng.dispose()
        _cache.clear()
