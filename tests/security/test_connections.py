"""Findings 10 and 11: no connection is held by a client that trickles, idles, floods headers or
stops reading; a stream whose client stops reading gives its slot and upstream request back."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.security.conftest import Gateway, Launcher, until

LIMITS = "server: {limits: {header_timeout: 2, write_timeout: 2, keep_alive: 2}}\n"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> Iterator[Gateway]:
    launcher = Launcher(tmp_path_factory.mktemp("connections"), emulator_url)
    gw = launcher.prepare(
        "connections",
        config=LIMITS,
        models='  long-answer: {provider: emu-chat, model: "gpt-emu@repeat=200000"}',
    )
    gw.key = gw.create_key("one-stream", "--max-streams", "1")  # type: ignore[attr-defined]
    launcher.start(gw)
    yield gw
    gw.stop()


def _connect(gw: Gateway) -> socket.socket:
    host, port = gw.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=15)


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closed `sock` (reading whatever it sent first)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, TimeoutError):
        pass
    return time.monotonic() - started


def test_a_client_trickling_headers_is_cut_off(gateway: Gateway) -> None:
    with _connect(gateway) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
        started = time.monotonic()
        try:
            for i in range(20):  # one header line a second, as the review's client did every 4 s
                sock.sendall(f"x-slow-{i}: y\r\n".encode())
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() - started < 8
        assert _closed_within(sock, 10) < 10


def test_a_connection_that_sends_nothing_is_closed(gateway: Gateway) -> None:
    with _connect(gateway) as sock:
        assert _closed_within(sock, 15) < 10


def test_huge_headers_get_a_431_before_they_are_read(gateway: Gateway) -> None:
    with _connect(gateway) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent = 0
        try:
            while sent < 100 * 1024 * 1024:
                sock.sendall(b"x-big: " + b"a" * 8000 + b"\r\n")
                sent += 8000
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 10 * 1024 * 1024  # refused long before 100 MB
        sock.settimeout(5)
        try:
            reply = sock.recv(4096)
        except ConnectionResetError:
            reply = b""  # the RST can overtake the 431 when we were still sending
        assert reply == b"" or reply.startswith(b"HTTP/1.1 431")
    # one huge header line that never ends is bounded too
    with _connect(gateway) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET / HTTP/1.1\r\nx-endless: " + b"a" * (8 * 1024 * 1024))
        assert _closed_within(sock, 10) < 10


def test_a_client_that_stops_reading_releases_its_stream(gateway: Gateway) -> None:
    body = b'{"model": "long-answer", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    with _connect(gateway) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"x-api-key: " + gateway.key.encode() + b"\r\ncontent-length: %d\r\n\r\n" % len(body) + body  # type: ignore[attr-defined]
        )
        sock.sendall(request)
        sock.recv(1024)  # the response has started; now stop reading
        assert until(lambda: gateway.open_streams() == 1, timeout=10)
        # the gateway cannot write, gives up after its write timeout, and frees the key's one slot
        assert until(lambda: gateway.open_streams() == 0, timeout=30, interval=0.5)
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": "via-chat", "stream": True, "messages": [{"role": "user", "content": "again"}]},
        headers={"x-api-key": gateway.key},  # type: ignore[attr-defined]
        timeout=30,
    ) as stream:
        assert stream.status_code == 200
        assert b"[DONE]" in b"".join(stream.iter_bytes())
    assert "stopped reading" in gateway.log_text()
