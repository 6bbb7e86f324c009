"""Auth on every endpoint, in every client API's error shape: missing and invalid keys (401),
wrong scope and model not allowed (403), rate limit (429 + retry-after), spent budget (429 that
clients won't retry), both auth header styles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from interlink.auth.keys import KeyStore
from interlink.store import Database
from tests.contract.conftest import free_port, start_emulator, start_gateway, stop, write_config

CALLS = {
    "anthropic": (
        "/v1/messages",
        {"model": "via-chat", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
    ),
    "chat": ("/v1/chat/completions", {"model": "via-chat", "messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("/v1/responses", {"model": "via-chat", "input": "hi"}),
    "count_tokens": (
        "/v1/messages/count_tokens",
        {"model": "via-chat", "messages": [{"role": "user", "content": "hi"}]},
    ),
}


@dataclass
class Secured:
    url: str
    keys: dict[str, str]

    def call(self, name: str, headers: dict[str, str], model: str | None = None) -> httpx.Response:
        path, body = CALLS[name]
        return httpx.post(
            self.url + path, json={**body, **({"model": model} if model else {})}, headers=headers, timeout=20
        )


async def make_keys(data_dir: Path) -> dict[str, str]:
    db = Database.sqlite(data_dir / "interlink.db")
    await db.start()
    store = KeyStore(db)
    specs = {
        "full": {"scopes": "inference,models,admin"},
        "models-only": {"scopes": "models"},
        "only-anthropic": {"models": "via-anthropic"},
        "slow": {"rpm": 1},
        "broke": {"budget_usd": 0.0000001, "period": "day"},
    }
    try:
        return {name: (await store.create(name, **kw))[1] for name, kw in specs.items()}
    finally:
        await db.close()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    root = tmp_path_factory.mktemp("auth")
    emu_port, gw_port = free_port(), free_port()
    emulator = start_emulator(emu_port)
    write_config(
        root / "interlink.yaml",
        f"http://127.0.0.1:{emu_port}",
        defaults="pricing:\n  gpt-emu: {input: 1000, output: 1000}\n",
    )
    (root / "data").mkdir()
    keys = asyncio.run(make_keys(root / "data"))
    gateway = start_gateway(root / "interlink.yaml", gw_port, root / "gateway.log")
    yield Secured(f"http://127.0.0.1:{gw_port}", keys)
    stop(gateway)
    stop(emulator)


def shape_ok(name: str, response: httpx.Response, error_type: str) -> None:
    body = response.json()
    if name in ("anthropic", "count_tokens"):
        assert body["type"] == "error" and body["error"]["type"] == error_type, body
    else:
        assert "message" in body["error"] and body["error"]["type"], body
    assert "sk-il-" not in response.text


@pytest.mark.parametrize("name", list(CALLS))
def test_missing_and_invalid_keys_are_401(secured: Secured, name: str) -> None:
    for headers in ({}, {"x-api-key": "sk-il-not-a-real-key-000000000000000"}, {"authorization": "Bearer nope"}):
        r = secured.call(name, headers)
        assert r.status_code == 401, r.text
        shape_ok(name, r, "authentication_error")


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("style", ["x-api-key", "bearer"])
def test_valid_key_in_either_header(secured: Secured, name: str, style: str) -> None:
    key = secured.keys["full"]
    headers = {"x-api-key": key} if style == "x-api-key" else {"authorization": f"Bearer {key}"}
    assert secured.call(name, headers).status_code == 200


@pytest.mark.parametrize("name", ["anthropic", "chat", "responses", "count_tokens"])
def test_wrong_scope_and_model_not_allowed_are_403(secured: Secured, name: str) -> None:
    r = secured.call(name, {"x-api-key": secured.keys["models-only"]})
    assert r.status_code == 403
    shape_ok(name, r, "permission_error")
    r = secured.call(name, {"x-api-key": secured.keys["only-anthropic"]})
    assert r.status_code == 403 and "via-chat" in r.text
    shape_ok(name, r, "permission_error")
    assert secured.call(name, {"x-api-key": secured.keys["only-anthropic"]}, model="via-anthropic").status_code == 200


def test_models_endpoint_needs_the_models_scope_and_lists_allowed_models(secured: Secured) -> None:
    r = httpx.get(f"{secured.url}/v1/models", headers={"x-api-key": secured.keys["only-anthropic"]})
    assert r.status_code == 200 and [m["id"] for m in r.json()["data"]] == ["via-anthropic"]
    assert httpx.get(f"{secured.url}/v1/models").status_code == 401
    r = httpx.get(
        f"{secured.url}/v1/models", headers={"x-api-key": secured.keys["slow"], "anthropic-version": "2023-06-01"}
    )
    assert r.status_code == 200


def test_admin_api_needs_the_admin_scope(secured: Secured) -> None:
    assert httpx.get(f"{secured.url}/admin/keys", headers={"x-api-key": secured.keys["models-only"]}).status_code == 403
    r = httpx.get(f"{secured.url}/admin/keys", headers={"x-api-key": secured.keys["full"]})
    assert r.status_code == 200
    assert not any(secret in r.text for secret in secured.keys.values())  # only display prefixes


def test_rate_limit_is_429_with_retry_after(secured: Secured) -> None:
    key = {"x-api-key": secured.keys["slow"]}
    assert secured.call("chat", key).status_code == 200
    r = secured.call("anthropic", key)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    shape_ok("anthropic", r, "rate_limit_error")


def test_spent_budget_is_refused_and_not_retried(secured: Secured) -> None:
    key = {"x-api-key": secured.keys["broke"]}
    assert secured.call("chat", key).status_code == 200  # spends more than the budget
    deadline = time.monotonic() + 5
    while (r := secured.call("chat", key)).status_code == 200:
        assert time.monotonic() < deadline  # the spend is seen within the budget cache's 2 s
    assert r.status_code in (402, 429)
    assert r.headers["x-should-retry"] == "false"
