"""Alembic environment: runs against the connection the store hands over (no URL in an ini file)."""

from __future__ import annotations

from alembic import context

from threadline.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Threadline always passes its own connection
    raise RuntimeError("run migrations through threadline.store.migrate()")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
