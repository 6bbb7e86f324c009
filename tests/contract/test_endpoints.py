"""The gateway's own endpoints and its errors, each in the calling client API's shape."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.contract.conftest import UPSTREAMS, Stack


def test_health_head_and_models(stack: Stack) -> None:
    assert httpx.get(f"{stack.gateway}/health").json()["status"] == "ok"
    assert httpx.head(f"{stack.gateway}/").status_code == 200
    listed = openai.OpenAI(base_url=f"{stack.gateway}/v1", api_key="k").models.list()
    expected = {*UPSTREAMS, "strict-claude"}
    assert {m.id for m in listed.data} == expected
    page = anthropic.Anthropic(base_url=stack.gateway, api_key="k").models.list()
    assert {m.id for m in page.data} == expected


def test_messages_beta_query_and_both_auth_styles(stack: Stack) -> None:
    body = {"model": "via-chat", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    for headers in ({"x-api-key": "sk-a"}, {"authorization": "Bearer sk-b"}):
        r = httpx.post(
            f"{stack.gateway}/v1/messages?beta=true", json=body, headers={**headers, "anthropic-version": "2023-06-01"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["type"] == "message"
        assert r.headers["request-id"].startswith("req_")


def test_count_tokens(stack: Stack) -> None:
    client = anthropic.Anthropic(base_url=stack.gateway, api_key="k")
    count = client.messages.count_tokens(model="via-anthropic", messages=[{"role": "user", "content": "hello " * 100}])
    assert 100 <= count.input_tokens <= 400


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/messages", {"model": "via-chat", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ("/v1/messages", {"model": "via-chat", "max_tokens": 5}, "messages"),
        (
            "/v1/chat/completions",
            {"model": "via-chat", "messages": [{"role": "wizard", "content": "x"}]},
            "messages[0].role",
        ),
        ("/v1/chat/completions", {"model": "via-chat"}, "messages"),
        ("/v1/responses", {"model": "via-chat", "input": 5}, "input"),
    ],
)
def test_missing_or_wrong_fields_are_400_naming_the_field(stack: Stack, path: str, body: dict, field: str) -> None:
    r = httpx.post(stack.gateway + path, json=body)
    assert r.status_code == 400
    assert field in r.text
    assert "Traceback" not in r.text


def test_invalid_json_is_a_400_in_each_api_shape(stack: Stack) -> None:
    r = httpx.post(f"{stack.gateway}/v1/messages", content=b"{not json")
    assert r.status_code == 400
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(f"{stack.gateway}/v1/chat/completions", content=b"[1, 2")
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_unknown_model_is_404_with_close_matches_through_the_sdks(stack: Stack) -> None:
    with pytest.raises(anthropic.NotFoundError) as a:
        anthropic.Anthropic(base_url=stack.gateway, api_key="k", max_retries=0).messages.create(
            model="via-chatt", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert "via-chat" in str(a.value)
    with pytest.raises(openai.NotFoundError) as o:
        openai.OpenAI(base_url=f"{stack.gateway}/v1", api_key="k", max_retries=0).chat.completions.create(
            model="via-anthropc", messages=[{"role": "user", "content": "x"}]
        )
    assert "via-anthropic" in str(o.value)


def test_previous_response_id_is_a_clear_error(stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        openai.OpenAI(base_url=f"{stack.gateway}/v1", api_key="k", max_retries=0).responses.create(
            model="via-chat", input="x", previous_response_id="resp_123"
        )
    assert "previous_response_id" in str(info.value)


def test_unknown_endpoint_is_a_json_404(stack: Stack) -> None:
    r = httpx.get(f"{stack.gateway}/v1/nothing")
    assert r.status_code == 404 and "no such endpoint" in r.json()["error"]["message"]


def _header(request: dict, name: str) -> str | None:
    return next((v for k, v in request["headers"].items() if k.lower() == name), None)


def test_same_api_passthrough_keeps_unknown_fields_and_beta_headers(stack: Stack) -> None:
    body = {
        "model": "via-anthropic",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "a_field_from_the_future": {"x": 1},
    }
    r = httpx.post(
        f"{stack.gateway}/v1/messages?beta=true", json=body, headers={"anthropic-beta": "context-management-2025-06-27"}
    )
    assert r.status_code == 200, r.text
    upstream = stack.upstream_requests()[-1]
    assert upstream["body"]["a_field_from_the_future"] == {"x": 1}
    assert upstream["body"]["context_management"] == body["context_management"]
    assert upstream["body"]["model"] == "claude-emu"
    assert _header(upstream, "anthropic-beta") == "context-management-2025-06-27"


def test_same_api_stream_is_relayed_event_for_event(stack: Stack) -> None:
    body = {"model": "via-chat", "stream": True, "messages": [{"role": "user", "content": "relay me"}]}
    direct = httpx.post(f"{stack.emulator}/v1/chat/completions", json={**body, "model": "gpt-emu"})
    relayed = httpx.post(f"{stack.gateway}/v1/chat/completions", json=body)
    assert relayed.status_code == 200
    count = lambda text: text.count("data: ")  # noqa: E731
    assert count(relayed.text) == count(direct.text)
    assert relayed.text.rstrip().endswith("data: [DONE]")


def test_translated_path_reports_what_it_dropped(stack: Stack) -> None:
    body = {"model": "via-chat", "max_tokens": 50, "top_k": 5, "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(f"{stack.gateway}/v1/messages", json=body)
    assert r.status_code == 200, r.text
    assert "top_k" in r.headers.get("interlink-dropped", "")
    assert "top_k" not in stack.upstream_requests()[-1]["body"]


def test_same_api_stream_names_the_public_model(stack: Stack) -> None:
    body = {"model": "via-chat", "stream": True, "messages": [{"role": "user", "content": "who are you"}]}
    relayed = httpx.post(f"{stack.gateway}/v1/chat/completions", json=body).text
    assert "gpt-emu" not in relayed  # the upstream id stays behind the gateway
    assert relayed.count('"model":"via-chat"') == relayed.count("data: {")
