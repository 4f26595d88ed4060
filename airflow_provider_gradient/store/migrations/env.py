"""Alembic environment of the Gradient store.

Run programmatically by ``airflow_provider_gradient.store.migrate`` (which passes an open connection in
``config.attributes["connection"]``); ``alembic -x url=...`` style offline use is not supported.
"""

from __future__ import annotations

from alembic import context

from airflow_provider_gradient.store.migrate import VERSION_TABLE
from airflow_provider_gradient.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI by hand
    raise RuntimeError("use `gradient db upgrade` (store.migrate.upgrade) to run Gradient migrations")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
