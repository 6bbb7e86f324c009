"""Findings 4, 5, 7 and 8, and the low ones about what a key may learn: nothing crosses from one
key to another, from the upstream's credentials to a client, or from a web page to the admin API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.contract.drivers import BASH_SCHEMA
from tests.security.conftest import UPSTREAM_KEY, Gateway, Launcher

MODELS = """  echo-claude: {provider: emu-anthropic, model: "claude-emu@fault=echo_key"}
  echo-claude-stream: {provider: emu-anthropic, model: "claude-emu@fault=echo_key_in_stream"}
  strict-claude: {provider: emu-strict, model: claude-emu}
  priced: {provider: emu-chat, model: gpt-emu}
  free: {provider: emu-chat, model: gpt-emu-unpriced}
pricing:
  priced: {input: 1.0, output: 2.0}"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> Iterator[Gateway]:
    launcher = Launcher(tmp_path_factory.mktemp("leaks"), emulator_url)
    gw = launcher.prepare(
        "leaks",
        models=MODELS,
        providers=f'  emu-strict: {{kind: anthropic, base_url: "{emulator_url}", headers: {{x-emu-strict: anthropic}}}}',
    )
    gw.keys = {  # type: ignore[attr-defined]
        "admin": gw.create_key("admin", "--scope", "admin,inference,models"),
        "alice": gw.create_key("alice"),
        "bob": gw.create_key("bob"),
        "narrow": gw.create_key("narrow", "--models", "via-chat"),
        "budget": gw.create_key("budget", "--budget-usd", "5"),
    }
    launcher.start(gw)
    yield gw
    gw.stop()


def _key(gw: Gateway, name: str) -> str:
    return gw.keys[name]  # type: ignore[attr-defined,no-any-return]


def test_an_upstream_that_echoes_its_key_never_shows_it_to_the_client(gateway: Gateway) -> None:
    r = gateway.post(
        "/v1/messages",
        {"model": "echo-claude", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
        _key(gateway, "alice"),
    )
    assert r.status_code == 401, r.text  # the upstream's answer, kept as it came
    assert UPSTREAM_KEY not in r.text and UPSTREAM_KEY[:12] not in r.text
    assert "Incorrect API key provided: [redacted]" in r.json()["error"]["message"]
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": "echo-claude-stream", "stream": True, "messages": [{"role": "user", "content": "a long hi"}]},
        headers={"x-api-key": _key(gateway, "alice")},
        timeout=30,
    ) as stream:
        text = b"".join(stream.iter_bytes()).decode()
    assert '"error"' in text and "[redacted]" in text and UPSTREAM_KEY[:12] not in text
    assert UPSTREAM_KEY[:12] not in gateway.log_text()


def test_stored_reasoning_is_never_given_to_another_key(gateway: Gateway) -> None:
    tools = [{"type": "function", "function": {"name": "bash", "parameters": BASH_SCHEMA}}]
    alice = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=_key(gateway, "alice"), max_retries=0)
    messages: list[dict] = [{"role": "user", "content": "list the files, alice"}]
    message = (
        alice.chat.completions.create(model="strict-claude", messages=messages, tools=tools, reasoning_effort="high")
        .choices[0]
        .message
    )
    assert message.tool_calls
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
        for c in message.tool_calls
    ]
    messages += [
        {"role": "assistant", "content": message.content, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "a.txt"},
    ]
    # Bob replays Alice's answer (its text and call ids) as his own history
    bob = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=_key(gateway, "bob"), max_retries=0)
    r = bob.chat.completions.with_raw_response.create(
        model="strict-claude", messages=messages, tools=tools, reasoning_effort="high"
    )
    assert "reasoning_restored" not in r.headers.get("interlink-repairs", "")
    # ...while Alice's own next turn gets her thinking back
    r = alice.chat.completions.with_raw_response.create(
        model="strict-claude", messages=messages, tools=tools, reasoning_effort="high"
    )
    assert "reasoning_restored=" in r.headers["interlink-repairs"]


def test_a_key_limited_to_some_models_learns_nothing_of_the_others(gateway: Gateway) -> None:
    narrow = _key(gateway, "narrow")
    unknown = gateway.chat(narrow, model="nonexistent")
    assert unknown.status_code in (403, 404)
    assert "via-anthropic" not in unknown.text and "echo-claude" not in unknown.text
    counted = gateway.post(
        "/v1/messages/count_tokens",
        {"model": "via-anthropic", "messages": [{"role": "user", "content": "hi"}]},
        narrow,
    )
    assert counted.status_code == 403
    listed = httpx.get(gateway.url + "/v1/models", headers={"x-api-key": narrow}).json()
    assert [m["id"] for m in listed["data"]] == ["via-chat"]


def test_provider_slash_model_is_opt_in_and_budgets_need_prices(gateway: Gateway) -> None:
    assert gateway.chat(_key(gateway, "alice"), model="emu-chat/gpt-anything").status_code == 404
    budget = _key(gateway, "budget")
    assert gateway.chat(budget, model="priced").status_code == 200
    refused = gateway.chat(budget, model="free")
    assert refused.status_code == 403 and "no price" in refused.json()["error"]["message"]
    assert gateway.chat(_key(gateway, "alice"), model="free").status_code == 200  # no budget, no refusal


def test_the_admin_api_refuses_cross_site_writes(gateway: Gateway) -> None:
    admin = {"x-api-key": _key(gateway, "admin")}
    form = httpx.post(
        gateway.url + "/admin/keys",
        content=b'{"name": "csrf"}',
        headers={**admin, "content-type": "text/plain"},
    )
    assert form.status_code == 415
    foreign = httpx.post(
        gateway.url + "/admin/keys", json={"name": "rebound"}, headers={**admin, "host": "attacker.example"}
    )
    assert foreign.status_code == 403 and "server.hosts" in foreign.json()["error"]["message"]
    model_call = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "via-chat", "messages": [{"role": "user", "content": "hi"}]},
        headers={"host": "attacker.example:80", "x-api-key": _key(gateway, "alice")},
    )
    assert model_call.status_code == 403
    names = [k["name"] for k in httpx.get(gateway.url + "/admin/keys", headers=admin).json()["keys"]]
    assert "csrf" not in names and "rebound" not in names


def test_paid_upstream_features_are_the_operators_choice(gateway: Gateway) -> None:
    r = gateway.post(
        "/v1/responses",
        {
            "model": "via-responses",
            "input": "search for it",
            "tools": [{"type": "web_search"}, {"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "service_tier": "priority",
        },
        _key(gateway, "alice"),
    )
    assert r.status_code == 200, r.text
    assert {"hosted_tools", "service_tier"} <= set(r.headers["interlink-dropped"].split(","))
    sent = httpx.get(gateway.emulator + "/_emu/requests").json()[-1]["body"]
    assert [t["type"] for t in sent["tools"]] == ["function"] and "service_tier" not in sent
    r = gateway.chat(_key(gateway, "alice"), store=True)
    assert "store" in r.headers["interlink-dropped"]
    assert httpx.get(gateway.emulator + "/_emu/requests").json()[-1]["body"].get("store") in (None, False)


def test_key_changes_through_the_api_are_audited(gateway: Gateway) -> None:
    admin = {"x-api-key": _key(gateway, "admin")}
    created = httpx.post(gateway.url + "/admin/keys", json={"name": "audited", "rpm": 5}, headers=admin)
    assert created.status_code == 201
    assert httpx.delete(gateway.url + "/admin/keys/audited", headers=admin).status_code == 200
    entries = httpx.get(gateway.url + "/admin/audit", headers=admin).json()["entries"]
    recent = [(e["action"], e["actor"], e["source"]) for e in entries if e["target"].startswith("audited ")]
    assert recent == [("key.revoke", "admin", "api"), ("key.create", "admin", "api")]
    assert created.json()["secret"] not in str(entries)
    assert '"msg":"audit"' in gateway.log_text()
    cli_made = [e for e in entries if e["target"].startswith("alice ")]
    assert cli_made and cli_made[0]["source"] == "cli" and cli_made[0]["actor"].startswith("cli:")
