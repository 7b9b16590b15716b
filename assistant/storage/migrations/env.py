"""Alembic environment: runs on the connection the daemon hands over (see Database.migrate)."""

from __future__ import annotations

from alembic import context

from assistant.storage.schema import full_metadata

target_metadata = full_metadata()
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
