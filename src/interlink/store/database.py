"""`Database`: the async engine, sessions, and running the migrations.

SQLite (the default, one file in the data dir) is opened in WAL mode with a busy timeout so the
ledger's writes and the key lookups of several workers do not trip over "database is locked".
Postgres is for several replicas: migrations take an advisory lock so replicas that start at the
same moment upgrade once and the others wait, then find nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from interlink.core.errors import ErrorKind, GatewayError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

    from interlink.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE = "interlink.db"
BUSY_TIMEOUT_MS = 10_000
# Any constant shared by every interlink process; "ilnk" as a number.
_MIGRATION_LOCK = 0x696C6E6B
HEAD_REVISION = "0002"
"""The newest migration in `migrations/versions` (a test checks). A gateway restarting on a current
database compares this with one row instead of importing Alembic: ~11 MB and a tenth of a second."""


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`, `sqlite:///`) and pick the
    async driver this package ships with."""
    for plain, async_form in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return async_form + url[len(plain) :]
    return url


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    # ConfigParser interpolation: a "%" in the install path must be doubled.
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return cfg


def _upgrade_sync(connection: sa.Connection) -> None:
    from alembic import command

    cfg = _alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _revision_sync(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


OUTAGE_GRACE_SECONDS = 300.0
"""How long keys and budgets are served from their last known state while the database is down."""


@contextlib.asynccontextmanager
async def reachable(what: str) -> AsyncIterator[None]:
    """Turn "the database is down" into the API error clients retry (503 with retry-after),
    instead of a bare 500. `what` names what could not be read."""
    try:
        yield
    except (sa.exc.SQLAlchemyError, OSError, TimeoutError) as exc:
        raise GatewayError(
            ErrorKind.UNAVAILABLE,
            f"the gateway cannot reach its database to check {what}; retry shortly",
            retry_after=5.0,
        ) from exc


class Database:
    """One engine per process. `start()` migrates to the newest schema; `close()` releases pools."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.engine: AsyncEngine = _make_engine(self.url, echo=echo)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_config(cls, config: Config) -> Database:
        """`config.database_url`, else SQLite at `<config.data_dir>/interlink.db` (dir created)."""
        if config.database_url:
            return cls(config.database_url)
        if not config.data_dir:
            raise ValueError("config has neither database_url nor data_dir (load it with load_config)")
        return cls.sqlite(Path(config.data_dir) / SQLITE_FILE)

    @classmethod
    def sqlite(cls, path: str | Path) -> Database:
        path = Path(path).expanduser()
        _private_file(path)
        return cls(f"sqlite+aiosqlite:///{path}")

    @property
    def sqlite_path(self) -> str | None:
        """The file of a SQLite store; None for other databases (and for an in-memory SQLite)."""
        url = sa.make_url(self.url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return url.database

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    def describe(self) -> str:
        """The URL without its password, for messages and logs."""
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def session(self) -> AsyncSession:
        return self._sessions()

    async def start(self) -> None:
        await self.upgrade()

    async def upgrade(self) -> None:
        """Run every pending migration; a no-op when the schema is current."""
        if await self.revision() == HEAD_REVISION:
            return
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                # Take the write lock up front so two processes never interleave DDL.
                await conn.execution_options(interlink_begin="IMMEDIATE")
            await conn.begin()
            if self.dialect == "postgresql":
                # Transaction-scoped: released by the commit below, or by the server if we die.
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            await conn.run_sync(_upgrade_sync)
            await conn.commit()

    async def ready(self) -> str | None:
        """None when the database answers a query within 2 s, else what is wrong."""
        try:
            async with asyncio.timeout(2.0), self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except (sa.exc.SQLAlchemyError, OSError, TimeoutError) as exc:
            return f"database {self.describe()} does not answer: {type(exc).__name__}"
        return None

    async def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(_revision_sync)

    @staticmethod
    def head() -> str | None:
        """The newest revision this package ships, as Alembic reads it from the migrations."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    async def close(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.describe()!r})"


def _private_file(path: Path) -> None:
    """The store holds key hashes and who spent what: its directory is created 0700 and its files
    (SQLite's -wal and -shm copy the main file's mode) are 0600. An existing directory keeps its
    mode (it may be shared on purpose), with a warning when others can read it."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif path.parent.stat().st_mode & 0o077:
        logging.getLogger("interlink").warning(
            "the data directory %s is readable by other users; `chmod 700` it", path.parent
        )
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def _make_engine(url: str, *, echo: bool) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_events(engine)
        return engine
    # pre_ping: a Postgres restart or failover must not fail the next request with a dead socket.
    # Bounded waits: with the server unreachable, a request must get its 503 in seconds, not
    # after asyncpg's 60 s connect timeout.
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=5,
        connect_args={"timeout": 5, "command_timeout": 10} if url.startswith("postgresql+asyncpg") else {},
    )


def configure_sqlite(connection: Any) -> None:
    """Settings every connection to the SQLite store uses (SQLAlchemy's and the ledger writer's):
    WAL so readers never block the writer, a busy timeout instead of instant "database is
    locked", and fsync at checkpoints only (a crash loses at most the last commits, never the file)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_events(engine: AsyncEngine) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below): the driver's legacy mode skips it for DDL and reads.
        dbapi_connection.isolation_level = None
        configure_sqlite(dbapi_connection)

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("interlink_begin")
        conn.exec_driver_sql(f"BEGIN {mode}" if mode == "IMMEDIATE" else "BEGIN")
