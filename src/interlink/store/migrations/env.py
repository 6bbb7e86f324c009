"""Alembic environment: always programmatic.

`Database.upgrade()` hands over an open connection (already inside a transaction, and on Postgres
holding the migration advisory lock) through `config.attributes["connection"]`; this file never
creates an engine or reads an ini file, so there is exactly one way migrations run.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("interlink migrations run through `interlink db upgrade` or Database.upgrade()")

context.configure(
    connection=connection,
    target_metadata=None,
    # SQLite cannot ALTER most things; batch mode lets later revisions rebuild tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
