"""The review's low findings, each as the user would meet it."""

from __future__ import annotations

import signal
import stat
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from interlink.auth.keys import KeyStore
from interlink.cli.main import app
from interlink.sse import SSEDecoder, SSEOverflow
from interlink.store import Database
from interlink.usage.ledger import Ledger
from interlink.usage.record import UsageRecord
from tests.security.conftest import Launcher, until


def test_a_yaml_error_says_where_without_quoting_the_secret(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("providers:\n  a: {kind: anthropic, api_key: sk-live-SECRET-123: oops\n")
    result = CliRunner().invoke(app, ["check-config", str(config)])
    assert result.exit_code == 2
    assert "line 2, column" in result.output
    assert "SECRET" not in result.output


async def test_the_store_is_private_to_its_user(tmp_path: Path) -> None:
    db = Database.sqlite(tmp_path / "data" / "interlink.db")
    await db.start()
    await KeyStore(db).create(name="k")
    await db.close()
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    for file in (tmp_path / "data").iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name


async def test_made_up_keys_cannot_push_a_real_key_out_of_the_cache(tmp_path: Path) -> None:
    db = Database.sqlite(tmp_path / "interlink.db")
    await db.start()
    keys = KeyStore(db, cache_ttl=60, cache_size=50)
    try:
        _, secret = await keys.create(name="real")
        assert await keys.authenticate(secret) is not None
        queries: list[str] = []
        original = keys._fetch

        async def counting(digest: str) -> Any:
            queries.append(digest)
            return await original(digest)

        keys._principals.fetch = counting
        for i in range(500):
            assert await keys.authenticate(f"sk-il-{i:032d}") is None
        queries.clear()
        assert await keys.authenticate(secret) is not None
        assert queries == []  # still cached: no query for the real key
    finally:
        await db.close()


def test_the_sse_decoder_bounds_what_it_holds() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(SSEOverflow):
        decoder.feed(b"data: " + b"x" * 2048)  # a line that never ends
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(SSEOverflow):
        for _ in range(10):
            decoder.feed(b"data: " + b"y" * 200 + b"\n")  # an event that never ends
    assert SSEDecoder(max_event_bytes=1024).feed(b"data: ok\n\n")[0].data == "ok"


class _Refusing:
    """A writer whose database refuses one row (as Postgres refuses a value too long)."""

    def __init__(self, bad: str) -> None:
        self.bad = bad
        self.rows: list[tuple[Any, ...]] = []

    async def write(self, rows: list[tuple[Any, ...]]) -> None:
        if any(row[0] == self.bad for row in rows):
            raise ValueError("value too long for type character varying(200)")
        self.rows += rows

    async def close(self) -> None:
        pass


async def test_a_refused_row_is_set_aside_and_the_rest_written(tmp_path: Path) -> None:
    db = Database.sqlite(tmp_path / "interlink.db")
    ledger = Ledger(db, interval=60)
    writer = _Refusing("bad")
    ledger._writer = writer  # type: ignore[assignment]
    set_aside: list[int] = []
    ledger.on_set_aside = lambda: set_aside.append(1)
    for request_id in ("a", "bad", "b"):
        ledger.record(UsageRecord(request_id=request_id, model="m"))
    await ledger.flush()
    assert [row[0] for row in writer.rows] == ["a", "b"]
    assert ledger.set_aside == 1 and set_aside == [1] and ledger.pending == 0
    ledger.record(UsageRecord(request_id="c", model="m"))
    await ledger.close()
    assert [row[0] for row in writer.rows] == ["a", "b", "c"]


def test_sighup_keeps_the_stream_count(gateways: Launcher) -> None:
    gateway = gateways.prepare(
        "reload-count",
        config="server: {max_streams: 1}\n",
        models='  slow-chat: {provider: emu-chat, model: "gpt-emu@delay=300"}',
    )
    gateways.start(gateway)
    body = {"model": "slow-chat", "stream": True, "messages": [{"role": "user", "content": "a slow stream, please"}]}
    started = threading.Event()

    def hold() -> None:
        with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, timeout=60) as r:
            started.set()
            b"".join(r.iter_bytes())

    holder = threading.Thread(target=hold)
    holder.start()
    assert started.wait(30)
    gateway.signal(signal.SIGHUP)
    assert until(lambda: "config reloaded" in gateway.log_text())
    second = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    assert second.status_code == 503 and "limit of 1 streams" in second.text  # not a fresh count of 0
    holder.join(60)
    assert until(lambda: gateway.open_streams() == 0)
