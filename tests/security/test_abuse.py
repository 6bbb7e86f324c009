"""A small scripted abuse run against one gateway — slow headers, huge headers, clients that stop
reading, deep JSON, long model names, its last admin key revoked — that ends with the gateway
still serving a normal request promptly, no stream slot leaked, and nobody let in."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

import httpx

from tests.security.conftest import Gateway, Launcher, until


def _raw(gw: Gateway, payload: bytes, *, read: bool = True, hold: float = 0.0) -> None:
    host, port = gw.url.removeprefix("http://").split(":")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(payload)
        if not read:
            sock.recv(512)
        time.sleep(hold)


def _slow_headers(gw: Gateway) -> None:
    host, port = gw.url.removeprefix("http://").split(":")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\n")
        for i in range(15):
            sock.sendall(f"x-{i}: y\r\n".encode())
            time.sleep(1)


def _non_reader(gw: Gateway, key: str) -> None:
    body = b'{"model": "long-answer", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"x-api-key: %s\r\ncontent-length: %d\r\n\r\n" % (key.encode(), len(body))
    )
    _raw(gw, head + body, read=False, hold=8)


def _deep_json(gw: Gateway, key: str) -> None:
    deep = '{"a":' * 2000 + "1" + "}" * 2000
    body = (
        '{"model": "via-chat", "stream": true, "messages": [{"role": "user", "content": "x"}], "metadata": %s}' % deep
    )
    for _ in range(5):
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                gw.url + "/v1/chat/completions",
                content=body,
                headers={"x-api-key": key, "content-type": "application/json"},
                timeout=20,
            )


def _long_names(gw: Gateway, key: str) -> None:
    for size in (300, 100_000, 2_000_000):
        with contextlib.suppress(httpx.HTTPError):
            gw.chat(key, model="n" * size)


def test_abuse_run_leaves_a_working_gateway(gateways: Launcher) -> None:
    gateway = gateways.prepare(
        "abuse",
        config="server: {limits: {header_timeout: 2, write_timeout: 2}}\n",
        models='  long-answer: {provider: emu-chat, model: "gpt-emu@repeat=200000"}',
    )
    admin = gateway.create_key("last-admin", "--scope", "admin,inference,models")
    user = gateway.create_key("user", "--max-streams", "2")
    gateways.start(gateway)
    huge = b"GET / HTTP/1.1\r\n" + b"x-h: " + b"z" * (4 * 1024 * 1024) + b"\r\n\r\n"
    jobs: list[Callable[[], None]] = [
        lambda: _slow_headers(gateway),
        lambda: _slow_headers(gateway),
        lambda: _raw(gateway, huge),
        lambda: _raw(gateway, b"", hold=12),  # connects, says nothing
        lambda: _non_reader(gateway, user),
        lambda: _non_reader(gateway, user),
        lambda: _deep_json(gateway, user),
        lambda: _long_names(gateway, user),
        lambda: gateway.cli("keys", "revoke", "last-admin"),
    ]
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)

    assert until(lambda: gateway.open_streams() == 0, timeout=30, interval=0.5)  # no slot leaked
    started = time.monotonic()
    normal = gateway.chat(user)
    assert normal.status_code == 200 and time.monotonic() - started < 2.0  # liveness, not a benchmark
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": "via-chat", "stream": True, "messages": [{"role": "user", "content": "still ok?"}]},
        headers={"x-api-key": user},
        timeout=30,
    ) as stream:  # both of the key's stream slots came back
        assert stream.status_code == 200 and b"[DONE]" in b"".join(stream.iter_bytes())
    # the revoked last admin key reopened nothing
    assert until(lambda: gateway.chat(admin).status_code == 401)
    assert httpx.post(gateway.url + "/admin/keys", json={"name": "x"}).status_code == 401
    assert gateway.chat().status_code == 401
