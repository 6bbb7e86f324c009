"""Request limits answer with clear errors in the client's shape; upstream URLs come only from
the config, never from a request."""

from __future__ import annotations

import socket
import time

import httpx

from tests.contract.conftest import Stack


def test_body_over_the_limit_is_413_before_it_is_read(stack: Stack) -> None:
    host, port = stack.gateway.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {40 * 1024 * 1024}\r\n\r\n".encode()
        )
        reply = b""
        while b'"request_too_large"' not in reply and len(reply) < 4096:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        reply = reply.decode()
    assert reply.startswith("HTTP/1.1 413")
    assert '"type":"request_too_large"' in reply


def test_too_many_messages_names_the_field(stack: Stack) -> None:
    body = {"model": "via-chat", "messages": [{"role": "user", "content": "x"}] * 10_001}
    r = httpx.post(f"{stack.gateway}/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"


def test_deeply_nested_json_is_a_400(stack: Stack) -> None:
    body = b'{"model": "via-chat", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    r = httpx.post(f"{stack.gateway}/v1/chat/completions", content=body)
    assert r.status_code == 400
    assert "Traceback" not in r.text


def test_client_that_stops_sending_its_body_does_not_hang_the_gateway(stack: Stack) -> None:
    host, port = stack.gateway.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":'
        )
        # the gateway keeps serving everyone else meanwhile
        started = time.monotonic()
        assert httpx.get(f"{stack.gateway}/health").status_code == 200
        assert time.monotonic() - started < 1


def test_upstream_url_cannot_be_chosen_by_the_request(stack: Stack) -> None:
    body = {
        "model": "via-chat",
        "messages": [{"role": "user", "content": "where do I go?"}],
        "base_url": "http://169.254.169.254/latest",
        "api_base": "http://127.0.0.1:1/v1",
    }
    headers = {"x-base-url": "http://127.0.0.1:1", "anthropic-base-url": "http://127.0.0.1:1"}
    before = len(stack.upstream_requests())
    r = httpx.post(f"{stack.gateway}/v1/chat/completions", json=body, headers=headers)
    assert r.status_code == 200
    assert len(stack.upstream_requests()) == before + 1  # it went to the configured emulator
