"""The gateway's database: one async engine (SQLite by default, Postgres for a fleet), the table
definitions the other packages query, and the Alembic migrations that create them."""

from interlink.store.database import Database, normalize_url
from interlink.store.schema import api_keys, audit_log, metadata, usage

__all__ = ["Database", "api_keys", "audit_log", "metadata", "normalize_url", "usage"]
