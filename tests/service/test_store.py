"""The store: migrations (idempotent, concurrent-safe), SQLite settings, schema vs. migrations."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from interlink.config.settings import Config
from interlink.store import Database, metadata, normalize_url
from interlink.store.database import HEAD_REVISION


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


@pytest.fixture
def fresh_url(backend: str, request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if backend == "postgres":
        return request.getfixturevalue("fresh_pg_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"


async def test_migrations_run_twice_are_a_no_op(fresh_url: str) -> None:
    db = Database(fresh_url)
    try:
        assert await db.revision() is None
        await db.start()
        assert await db.revision() == Database.head() == "0002"
        assert {"api_keys", "usage", "alembic_version"} <= await _tables(db)
        async with db.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO api_keys (id, name, prefix, secret_hash, scopes, created_at) "
                    "VALUES ('k1', 'n1', 'p', 'h', '[]', CURRENT_TIMESTAMP)"
                )
            )
        await db.start()
        await db.upgrade()
        assert await db.revision() == "0002"
        async with db.engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM api_keys"))).scalar_one() == 1
            assert (await conn.execute(sa.text("SELECT count(*) FROM alembic_version"))).scalar_one() == 1
    finally:
        await db.close()


async def test_concurrent_starts_upgrade_once(fresh_url: str) -> None:
    dbs = [Database(fresh_url) for _ in range(4)]
    try:
        await asyncio.gather(*(db.start() for db in dbs))
        assert all([await db.revision() == "0002" for db in dbs])
    finally:
        for db in dbs:
            await db.close()


def test_separate_processes_upgrade_at_once(fresh_url: str) -> None:
    """`interlink db upgrade` started three times at the same moment: all succeed."""
    env = {**os.environ, "INTERLINK_DATABASE_URL": fresh_url, "INTERLINK_CONFIG": ""}
    code = "from interlink.cli.main import app; app(['db', 'upgrade'])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
        assert b"revision 0002" in out


async def test_schema_objects_match_the_migrations(db: Database) -> None:
    def diff(conn: sa.Connection) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        return [d for d in compare_metadata(ctx, metadata) if d[0] != "remove_table" or d[1].name != "alembic_version"]

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_sqlite_is_wal_with_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = Config(data_dir=str(tmp_path / "nested" / "dir"))
    db = Database.from_config(config)
    try:
        await db.start()
        assert (tmp_path / "nested" / "dir" / "interlink.db").exists()
        async with db.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one() >= 1000
    finally:
        await db.close()


def test_from_config_prefers_database_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database.from_config(Config(database_url="postgres://u:pw@h:5432/d", data_dir=str(tmp_path)))
    assert db.url == "postgresql+asyncpg://u:pw@h:5432/d"
    assert "pw" not in repr(db) and "pw" not in db.describe()
    assert normalize_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_url("postgresql+asyncpg://h/d") == "postgresql+asyncpg://h/d"


def test_head_revision_constant_matches_the_migrations() -> None:
    # start() skips importing Alembic when the database is at HEAD_REVISION: it must be the real head.
    assert Database.head() == HEAD_REVISION
