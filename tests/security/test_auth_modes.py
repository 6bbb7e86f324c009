"""Finding 1 (and 4's open principal): keyed or open is decided at start, never by how many keys
are active at request time; an anonymous caller never gets the admin API."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx

from tests.security.conftest import Launcher, until

NEW_KEY = {"name": "mallory", "scopes": ["admin", "inference", "models"]}


def _anonymous_is_refused(url: str) -> None:
    created = httpx.post(url + "/admin/keys", json=NEW_KEY, timeout=10)
    assert created.status_code == 401, created.text
    assert "interlink keys create" in created.json()["error"]["message"]
    call = httpx.post(
        url + "/v1/chat/completions", json={"model": "via-chat", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert call.status_code == 401
    assert "interlink keys create" in call.json()["error"]["message"]
    assert httpx.get(url + "/v1/models").status_code == 401


def test_revoking_the_last_key_never_reopens_the_gateway(gateways: Launcher) -> None:
    gateway = gateways.prepare("revoked")
    admin = gateway.create_key("only", "--scope", "admin,inference,models")
    # 127.0.0.2 is not one of the loopback names the gateway trusts: keys are required to serve there.
    gateways.start(gateway, host="127.0.0.2")
    assert gateway.chat(admin).status_code == 200
    gateway.cli("keys", "revoke", "only")
    assert until(lambda: gateway.chat(admin).status_code == 401)
    _anonymous_is_refused(gateway.url)
    # a key that is not one of ours is refused too, and the message says how to get one
    wrong = gateway.chat("sk-il-" + "x" * 32)
    assert wrong.status_code == 401 and "no active one" in wrong.json()["error"]["message"]


def test_the_last_key_expiring_never_reopens_the_gateway(gateways: Launcher) -> None:
    # Keyed from the start by config, so the key can be made once the gateway runs: how long a
    # busy machine takes to start it does not eat into the key's life.
    gateway = gateways.launch("expired", config="server: {auth: keys}\n")
    soon = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
    key = gateway.create_key("brief", "--scope", "admin,inference,models", "--expires", soon)
    assert until(lambda: gateway.chat(key).status_code == 200)
    assert until(lambda: gateway.chat(key).status_code == 401, timeout=40, interval=0.5)
    _anonymous_is_refused(gateway.url)


def test_an_open_gateway_serves_models_but_never_the_admin_api(gateways: Launcher) -> None:
    gateway = gateways.launch("open")
    assert gateway.chat().status_code == 200
    assert httpx.get(gateway.url + "/v1/models").status_code == 200
    for method, path in (("GET", "/admin/keys"), ("POST", "/admin/keys"), ("GET", "/admin/usage")):
        response = httpx.request(method, gateway.url + path, json=NEW_KEY)
        assert response.status_code == 401, (method, path)
        assert "gateway is open" in response.json()["error"]["message"]
    assert gateway.cli("keys", "list").stdout.count("mallory") == 0


def test_open_is_refused_off_loopback_but_a_store_that_had_keys_starts_keyed(gateways: Launcher) -> None:
    gateway = gateways.prepare("off-loopback")
    serve = [
        sys.executable,
        "-m",
        "interlink.cli.main",
        "serve",
        "--config",
        str(gateway.config),
        "--host",
        "127.0.0.2",
    ]
    refused = subprocess.run(serve, env=gateway.env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "refusing to serve on 127.0.0.2 without API keys" in refused.stderr
    gateway.create_key("gone")
    gateway.cli("keys", "revoke", "gone")
    gateways.start(gateway, host="127.0.0.2")  # keyed: it had keys, so no key is no access
    _anonymous_is_refused(gateway.url)


def test_auth_keys_in_the_config_makes_a_fresh_gateway_keyed(gateways: Launcher) -> None:
    gateway = gateways.launch("keyed", config="server: {auth: keys}\n")
    refused = gateway.chat()
    assert refused.status_code == 401
    assert "has no active one" in refused.json()["error"]["message"]


def test_sighup_after_the_first_key_turns_an_open_gateway_keyed(gateways: Launcher) -> None:
    gateway = gateways.launch("reload")
    assert gateway.chat().status_code == 200
    key = gateway.create_key("first")
    assert gateway.chat().status_code == 200  # still open: nothing is decided per request
    gateway.signal(signal.SIGHUP)
    assert until(lambda: gateway.chat().status_code == 401)
    assert gateway.chat(key).status_code == 200
