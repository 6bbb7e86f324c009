"""Findings 3 and 12 on Postgres: one bad row never stops the usage ledger and SIGTERM always
reports; a database outage serves keys from their last known state, else a 503 in the client's
shape, while /health stays liveness and /health/ready tells the truth."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from tests.security.conftest import Launcher, until
from tests.service.conftest import PG_HOST, PG_PORT, create_pg_database, drop_pg_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


def _rows(url: str, sql: str) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        parts = sa.make_url(url)
        conn = await asyncpg.connect(host=parts.host, port=parts.port, user=parts.username, database=parts.database)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_a_row_too_long_for_postgres_never_blocks_the_ledger(gateways: Launcher, pg_url: str) -> None:
    gateway = gateways.prepare("ledger", config=f'database_url: "{pg_url}"\n')
    key = gateway.create_key("writer")
    gateways.start(gateway)
    assert gateway.chat(key, model="y" * 201).status_code == 404  # VARCHAR(200) in the table
    for _ in range(10):
        assert gateway.chat(key).status_code == 200
    assert gateway.stop() == 0
    rows = _rows(pg_url, "SELECT model FROM usage")
    assert len(rows) == 11
    assert sorted(len(r["model"]) for r in rows)[-1] == 200  # cut to fit, not lost
    log = gateway.log_text()
    assert '"msg":"usage ledger closed","written":11' in log and '"lost":0' in log


class Proxy:
    """A TCP forwarder to Postgres that can be switched off: a database outage on demand."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    def start(self) -> None:
        self._call(self._start())

    def stop(self) -> None:
        self._call(self._stop())

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        self.writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_a_database_outage_is_a_503_for_the_unknown_and_no_outage_for_the_known(
    gateways: Launcher, pg_url: str
) -> None:
    proxy = Proxy()
    proxy.start()
    via_proxy = sa.make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
    try:
        gateway = gateways.prepare("outage", config=f'database_url: "{via_proxy}"\n')
        known, unseen = gateway.create_key("known"), gateway.create_key("unseen")
        gateways.start(gateway)
        assert gateway.chat(known).status_code == 200
        assert httpx.get(gateway.url + "/health/ready").status_code == 200
        proxy.stop()
        # the known key keeps working from its last known state...
        assert until(lambda: httpx.get(gateway.url + "/health/ready").status_code == 503)
        assert gateway.chat(known).status_code == 200
        # ...a key never seen is a 503 in the client's own shape that says to retry, not a bare 500
        refused = gateway.post(
            "/v1/messages",
            {"model": "via-chat", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            unseen,
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"] == "error" and "database" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"]
        assert httpx.get(gateway.url + "/health").status_code == 200  # liveness
        ready = httpx.get(gateway.url + "/health/ready").json()
        assert ready["status"] == "unavailable" and "does not answer" in ready["checks"]["database"]
        proxy.start()
        assert until(lambda: httpx.get(gateway.url + "/health/ready").status_code == 200, timeout=20)
        assert until(lambda: gateway.chat(unseen).status_code == 200, timeout=20)
        assert gateway.stop() == 0
    finally:
        proxy.close()
    # nothing accepted was lost: the calls made during the outage were written once it ended
    assert len(_rows(pg_url, "SELECT id FROM usage")) >= 3
