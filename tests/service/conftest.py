"""Fixtures for the service layer: every store test runs on SQLite (a temp dir) and on Postgres.

Postgres is the local server (127.0.0.1:5432, trust auth). Each test run creates its own
database and drops it at the end; each test starts from empty tables. When the server is
unreachable the Postgres cases skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa

from interlink.store import Database

PG_HOST = os.environ.get("INTERLINK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("INTERLINK_TEST_PG_PORT", "5432"))
PG_ADMIN_DB = os.environ.get("INTERLINK_TEST_PG_DB", "test")
BACKENDS = ["sqlite", "postgres"]


async def _pg_admin(sql: str) -> str:
    """Run one statement as the first user that can connect; returns that user."""
    import asyncpg

    last: Exception | None = None
    for user in ("postgres", "root", os.environ.get("USER", "")):
        if not user:
            continue
        try:
            conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database=PG_ADMIN_DB, timeout=3)
        except Exception as exc:
            last = exc
            continue
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
        return user
    raise ConnectionError(f"{type(last).__name__}: {last}")


def create_pg_database() -> str:
    """A new empty database; returns its URL."""
    name = f"interlink_test_{secrets.token_hex(4)}"
    try:
        user = asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        reason = f"Postgres at {PG_HOST}:{PG_PORT} (database {PG_ADMIN_DB}) is unreachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: Postgres tests must run)")
        pytest.skip(reason)
    return f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"


def drop_pg_database(url: str) -> None:
    name = sa.make_url(url).database
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A database of its own, for tests that need one never migrated."""
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if backend == "postgres":
        return request.getfixturevalue("pg_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'interlink.db'}"


async def _empty(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM usage"))
        await conn.execute(sa.text("DELETE FROM api_keys"))
        await conn.execute(sa.text("DELETE FROM audit_log"))


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    """A migrated, empty store on the parametrized backend."""
    if store_url.startswith("sqlite"):
        database = Database.sqlite(sa.make_url(store_url).database or "")
    else:
        database = Database(store_url)
    await database.start()
    await _empty(database)
    try:
        yield database
    finally:
        await _empty(database)
        await database.close()


def empty_store(url: str) -> None:
    """For sync (CLI) tests: migrate and empty the store outside any running loop."""

    async def run() -> None:
        database = Database(url)
        try:
            await database.start()
            await _empty(database)
        finally:
            await database.close()

    if url.startswith("sqlite"):
        os.makedirs(os.path.dirname(sa.make_url(url).database or "."), exist_ok=True)
    asyncio.run(run())
