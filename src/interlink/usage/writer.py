"""Where the ledger's batches are written: always on a thread of its own, never on the server's
event loop, and written so that the thread holds the interpreter lock as little as possible.

Why the lock matters: a thread that runs Python keeps the GIL for up to the switch interval
(5 ms) before the server's loop gets it back. Writing a second's worth of rows through
SQLAlchemy is tens of milliseconds of Python, so every request in flight during a flush waited
~5 ms more: measured, the whole c1 p99 (5.5 ms against 1.2 ms with the ledger off) and ~10% of
the throughput.

- `SQLiteWriter` (the default store): the standard library's `sqlite3` on one thread. A batch is
  a few multi-row INSERT statements whose rows were built on the request path already (a tuple
  per request, see `UsageRecord.values`), so the thread only binds parameters (C) and lets
  SQLite work with the GIL released.
- `EngineWriter` (Postgres, or any other SQLAlchemy URL): the SQLAlchemy async engine on a thread
  with its own event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from itertools import chain
from typing import Any, Protocol

import sqlalchemy as sa

from interlink.store.database import BUSY_TIMEOUT_MS, configure_sqlite
from interlink.store.schema import usage as usage_table
from interlink.usage.record import COLUMNS

# SQLite allows 32,766 parameters per statement (since 3.32); 22 columns × 1,000 rows stays under.
ROWS_PER_STATEMENT = 100


class Writer(Protocol):
    async def write(self, rows: list[tuple[Any, ...]]) -> None: ...

    async def close(self) -> None: ...


@lru_cache(maxsize=8)
def _insert_sql(rows: int) -> str:
    one = "(" + ",".join("?" * len(COLUMNS)) + ")"
    return f"INSERT INTO usage ({','.join(COLUMNS)}) VALUES " + ",".join([one] * rows)


class SQLiteWriter:
    """Rows (`UsageRecord.values(text_ts=True)`) into a SQLite file, one transaction per batch."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="interlink-ledger")
        self._conn: sqlite3.Connection | None = None

    async def write(self, rows: list[tuple[Any, ...]]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._insert, rows)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        if self._conn is None:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            configure_sqlite(conn)
            self._conn = conn
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                chunk = rows[start : start + ROWS_PER_STATEMENT]
                conn.execute(_insert_sql(len(chunk)), list(chain.from_iterable(chunk)))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)


class EngineWriter:
    """Rows (`UsageRecord.values(text_ts=False)`) through a SQLAlchemy engine made for, and used
    on, the writer's own thread and event loop (an async engine belongs to the loop it runs on)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="interlink-ledger", daemon=True)
        self.thread.start()
        self._engine: Any = None

    async def write(self, rows: list[tuple[Any, ...]]) -> None:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._insert(rows), self.loop))

    async def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        if self._engine is None:
            from interlink.store import Database

            self._engine = Database(self.url)
        async with self._engine.engine.begin() as conn:
            await conn.execute(sa.insert(usage_table), [dict(zip(COLUMNS, row, strict=True)) for row in rows])

    async def close(self) -> None:
        if self._engine is not None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._engine.close(), self.loop))
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, 5)
        self.loop.close()


def writer_for(url: str, sqlite_path: str | None) -> Writer:
    return SQLiteWriter(sqlite_path) if sqlite_path else EngineWriter(url)
