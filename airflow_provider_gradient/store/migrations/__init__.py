"""Alembic migrations of the Gradient store (package data; run through ``store.migrate``)."""
