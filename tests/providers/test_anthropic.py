"""Anthropic Messages as an upstream: request building (translated and passthrough), response
and error decoding, and the stream decoder replayed over every recorded Anthropic fixture,
checked against the official SDK's own accumulation of the same bytes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import orjson
import pytest

from interlink.core import (
    ChatRequest,
    ChatResponse,
    ErrorKind,
    Event,
    GatewayError,
    ImageBlock,
    Message,
    Opaque,
    RawBlock,
    ReasoningBlock,
    ReasoningConfig,
    ResponseFormat,
    StopReason,
    StreamError,
    TextBlock,
    ToolCallBlock,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
)
from interlink.core.assemble import assemble
from interlink.core.request import Passthrough
from interlink.protocols.anthropic import PROTOCOL
from interlink.providers import ClientPolicy, ProviderSettings
from interlink.providers.anthropic import CODEC
from interlink.sse import ServerSentEvent, SSEDecoder

SETTINGS = ProviderSettings(name="anth", kind="anthropic", base_url="https://api.anthropic.test", api_key="sk-ant")


HOSTED = replace(SETTINGS, policy=ClientPolicy(hosted_tools=True))


def build(request: ChatRequest, stream: bool = False) -> tuple[dict[str, Any], Any]:
    upstream = CODEC.build_request(request, upstream_model="claude-up", settings=SETTINGS, stream=stream)
    return orjson.loads(upstream.body), upstream


def user(text: str = "hi") -> Message:
    return Message("user", [TextBlock(text)])


# -- fixtures -------------------------------------------------------------------------------


def sse_events(raw: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.flush()


def chunks_to_sse(path: Path) -> list[bytes]:
    """A `.chunks.jsonl` file re-framed as SSE with `event: <type>`, split per message (one
    file may hold several consecutive responses of a multi-step run)."""
    bodies, current = [], b""
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        current += f"event: {data['type']}\ndata: {line}\n\n".encode()
        if data["type"] == "message_stop":
            bodies.append(current)
            current = b""
    if current:
        bodies.append(current)
    return bodies


SPECIAL = {"vercel-ai__spliced-message-start.chunks.jsonl"}


def stream_fixtures(shared: Path) -> list[tuple[str, bytes]]:
    folder = shared / "fixtures" / "anthropic"
    out = [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.sse"))]
    for path in sorted(folder.glob("*.chunks.jsonl")):
        if path.name not in SPECIAL:
            out += [(f"{path.name}#{i}", body) for i, body in enumerate(chunks_to_sse(path))]
    out += [(p.name, p.read_bytes()) for p in sorted(folder.glob("pydantic-ai__*/*.response.sse"))]
    return out


def decode(raw: bytes) -> list[Event]:
    decoder = CODEC.stream_decoder(settings=SETTINGS)
    events: list[Event] = []
    for event in sse_events(raw):
        events += decoder.feed(event)
    return events + decoder.close()


def sdk_final_message(body: bytes) -> anthropic.types.Message:
    def handler(_: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = anthropic.Anthropic(
        api_key="test",
        base_url="http://gateway.test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        return s.get_final_message()


def sdk_view(message: anthropic.types.Message) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for block in message.content:
        data = block.model_dump(exclude_none=True)
        match data["type"]:
            case "text":
                out.append(("text", data["text"], len(data.get("citations") or [])))
            case "thinking":
                out.append(("thinking", data["thinking"], data["signature"]))
            case "redacted_thinking":
                out.append(("redacted", data["data"]))
            case "tool_use":
                out.append(("tool_use", data["id"], data["name"], data["input"]))
            case kind:
                out.append((kind, data.get("id") or data.get("tool_use_id"), data.get("input")))
    return out


def core_view(response: ChatResponse, *, tool_input_from_sdk: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for block in response.content:
        match block:
            case TextBlock():
                out.append(("text", block.text, len(block.citations or [])))
            case ReasoningBlock() if block.redacted:
                out.append(("redacted", block.opaque.value))  # type: ignore[union-attr]
            case ReasoningBlock():
                out.append(("thinking", block.text, block.opaque.value if block.opaque else ""))
            case ToolCallBlock():
                out.append(("tool_use", block.id, block.name, block.input()))
            case RawBlock(data=data):
                out.append((data["type"], data.get("id") or data.get("tool_use_id"), data.get("input")))
    return out


def test_decoder_replays_every_fixture_like_the_sdk(shared_dir: Path) -> None:
    fixtures = stream_fixtures(shared_dir)
    assert len(fixtures) >= 15
    for name, raw in fixtures:
        events = decode(raw)
        assert not any(isinstance(e, StreamError) for e in events), name
        response = assemble(events)
        reference = sdk_final_message(raw)
        expected = sdk_view(reference)
        if "incomplete_partial_json" in name:
            # the SDK shows a partial parse of the cut JSON; the core keeps the raw text
            assert expected[-1][0] == "tool_use"
            expected[-1] = (*expected[-1][:3], {})
        assert core_view(response) == expected, name
        assert response.id == reference.id, name
        assert response.stop_reason is not None and response.stop_reason.value == reference.stop_reason, name
        usage = reference.usage
        assert response.usage.input_tokens == usage.input_tokens, name
        assert response.usage.output_tokens == usage.output_tokens, name
        assert response.usage.cache_read_tokens == (usage.cache_read_input_tokens or 0), name
        assert response.usage.cache_write_tokens == (usage.cache_creation_input_tokens or 0), name


def test_round_trip_decoder_encoder_sdk(shared_dir: Path) -> None:
    request = PROTOCOL.parse_request(
        {"model": "public", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}, {}
    )
    for name, raw in stream_fixtures(shared_dir):
        encoder = PROTOCOL.stream_encoder(request)
        body = b"".join(encoder.encode(e) for e in decode(raw))
        original, replayed = sdk_final_message(raw), sdk_final_message(body)
        assert sdk_view(replayed) == sdk_view(original), name
        assert replayed.stop_reason == original.stop_reason, name
        assert replayed.usage.output_tokens == original.usage.output_tokens, name
        assert replayed.usage.input_tokens == original.usage.input_tokens, name


def test_incomplete_tool_use_is_closed_before_message_delta(shared_dir: Path) -> None:
    raw = (shared_dir / "fixtures/anthropic/anthropic-sdk-python__incomplete_partial_json_response.sse").read_bytes()
    response = assemble(decode(raw))
    call = response.content[-1]
    assert isinstance(call, ToolCallBlock) and call.name == "make_file"
    assert call.arguments.startswith('{"filename": "taxes.txt') and response.stop_reason is StopReason.MAX_TOKENS


def test_thinking_and_redacted_fixtures(shared_dir: Path) -> None:
    folder = shared_dir / "fixtures/anthropic"
    thinking = assemble(
        decode(next(folder.glob("pydantic-ai__test_anthropic_model_thinking_part_stream/*.sse")).read_bytes())
    )
    block = thinking.content[0]
    assert isinstance(block, ReasoningBlock) and block.text and block.opaque is not None
    assert block.opaque.origin == "anthropic" and block.opaque.kind == "signature" and len(block.opaque.value) > 100
    redacted = assemble(
        decode(next(folder.glob("pydantic-ai__test_anthropic_model_thinking_part_redacted_stream/*.sse")).read_bytes())
    )
    assert [b.redacted for b in redacted.content if isinstance(b, ReasoningBlock)] == [True, True]


def test_usage_last_message_delta_wins(shared_dir: Path) -> None:
    path = shared_dir / "fixtures/anthropic/vercel-ai__anthropic-message-delta-input-tokens.chunks.jsonl"
    response = assemble(decode(chunks_to_sse(path)[0]))
    assert response.usage.input_tokens == 61 and response.usage.output_tokens == 2
    cached = shared_dir / "fixtures/anthropic/vercel-ai__anthropic-code-execution-20260120-prompt-cache.1.chunks.jsonl"
    usage = assemble(decode(chunks_to_sse(cached)[0])).usage
    assert (usage.input_tokens, usage.cache_write_tokens, usage.cache_read_tokens) == (6, 3337, 6289)


def test_duplicate_message_start_ignored_and_spliced_one_fails(shared_dir: Path) -> None:
    folder = shared_dir / "fixtures/anthropic"
    dup = assemble(decode(chunks_to_sse(folder / "vercel-ai__duplicate-message-start.chunks.jsonl")[0]))
    assert dup.content == [TextBlock("Hello, World!")]
    spliced = decode(b"".join(chunks_to_sse(folder / "vercel-ai__spliced-message-start.chunks.jsonl")))
    assert isinstance(spliced[-1], StreamError) and "msg_second" in spliced[-1].error.message
    with pytest.raises(GatewayError):
        assemble(spliced)


def test_server_tool_input_is_held_until_complete(shared_dir: Path) -> None:
    path = shared_dir / "fixtures/anthropic/vercel-ai__anthropic-web-search-tool.1.chunks.jsonl"
    response = assemble(decode(chunks_to_sse(path)[0]))
    server = response.content[0]
    assert isinstance(server, RawBlock) and server.data["type"] == "server_tool_use"
    assert isinstance(server.data["input"], dict) and server.data["input"].get("query")
    assert sum(len(b.citations or []) for b in response.content if isinstance(b, TextBlock)) > 0


def test_refusal_without_blocks(shared_dir: Path) -> None:
    path = shared_dir / "fixtures/anthropic/vercel-ai__anthropic-refusal.chunks.jsonl"
    response = assemble(decode(chunks_to_sse(path)[0]))
    assert response.content == [] and response.stop_reason is StopReason.REFUSAL


# -- decoder edge cases (synthetic) ---------------------------------------------------------


def ev(payload: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(payload), event=payload["type"])


MSG_START = {
    "type": "message_start",
    "message": {"id": "msg_1", "model": "c", "usage": {"input_tokens": 3, "output_tokens": 1}},
}


def run(*payloads: dict[str, Any], close: bool = True) -> list[Event]:
    decoder = CODEC.stream_decoder(settings=SETTINGS)
    events: list[Event] = []
    for payload in payloads:
        events += decoder.feed(ev(payload))
    return events + (decoder.close() if close else [])


def test_tool_use_with_input_in_start() -> None:
    events = run(
        MSG_START,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
        {"type": "message_stop"},
    )
    call = assemble(events).content[0]
    assert isinstance(call, ToolCallBlock) and call.input() == {"a": 1}


def test_mid_stream_error_and_truncated_stream() -> None:
    events = run(
        MSG_START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert isinstance(events[-1], StreamError) and events[-1].error.kind is ErrorKind.OVERLOADED
    assert events[-1].error.retryable
    truncated = run(
        MSG_START, {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    )
    assert isinstance(truncated[-1], StreamError) and truncated[-1].error.kind is ErrorKind.CONNECTION


def test_decoder_tolerates_noise() -> None:
    decoder = CODEC.stream_decoder(settings=SETTINGS)
    noise = [
        ServerSentEvent(data="[DONE]"),
        ServerSentEvent(data=""),
        ev({"type": "ping"}),
        ev({"type": "some_future_event"}),
    ]
    assert [e for n in noise for e in decoder.feed(n)] == []

    events = decoder.feed(ev(MSG_START)) + decoder.feed(ev({"type": "message_stop"}))
    response = assemble(events)
    assert response.usage.input_tokens == 3


def test_decoder_ends_the_stream_on_data_the_client_could_not_parse() -> None:
    decoder = CODEC.stream_decoder(settings=SETTINGS)
    (event,) = decoder.feed(ServerSentEvent(data="not json", event="content_block_delta"))
    assert type(event).__name__ == "StreamError" and "malformed" in event.error.message


# -- request building -----------------------------------------------------------------------


def test_translated_request_shape() -> None:
    sig = Opaque("anthropic", "signature", "SIG")
    request = ChatRequest(
        model="public",
        system=[TextBlock("sys one")],
        messages=[
            user("q"),
            Message("system", [TextBlock("mid-conversation rule")]),
            Message(
                "assistant",
                [
                    ReasoningBlock("kept", opaque=sig),
                    ReasoningBlock("foreign", opaque=Opaque("openai-responses", "encrypted_content", "x")),
                    TextBlock(""),
                    TextBlock("calling"),
                    ToolCallBlock("call_1", "f", '{"a": 1}'),
                    RawBlock("openai-responses", {"type": "web_search_call"}),
                ],
            ),
            Message("user", [TextBlock("after"), ToolResultBlock("call_1", [TextBlock("42")], is_error=True)]),
            Message("user", [ImageBlock(url="data:image/jpeg;base64,QUJD"), ImageBlock(url="https://i/x.png")]),
        ],
        tools=[
            ToolSpec("f", "does f", {"type": "object", "properties": {}}),
            ToolSpec("web", raw={"type": "web_search_20250305", "name": "web_search"}, raw_origin="anthropic"),
            ToolSpec("hosted", raw={"type": "web_search"}, raw_origin="openai-responses"),
        ],
        tool_choice=ToolChoice("required"),
        parallel_tool_calls=False,
        stop=["END"],
        temperature=1.7,
        seed=7,
        presence_penalty=0.1,
        user="u1",
        response_format=ResponseFormat("json_schema", schema={"type": "object"}),
    )
    body, upstream = build(request, stream=True)
    assert upstream.url == "https://api.anthropic.test/v1/messages" and upstream.stream
    assert upstream.headers["x-api-key"] == "sk-ant" and upstream.headers["anthropic-version"] == "2023-06-01"
    assert body["model"] == "claude-up" and body["max_tokens"] == 4096 and body["stream"] is True
    assert body["system"] == [{"type": "text", "text": "sys one"}, {"type": "text", "text": "mid-conversation rule"}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "kept", "signature": "SIG"},
        {"type": "text", "text": "calling"},
        {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
    ]
    last = body["messages"][2]["content"]
    assert last[0] == {"type": "tool_result", "tool_use_id": "call_1", "content": "42", "is_error": True}
    assert last[1] == {"type": "text", "text": "after"}
    assert last[2]["source"] == {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}
    assert last[3]["source"] == {"type": "url", "url": "https://i/x.png"}
    # Anthropic's own server tool is billed by the upstream: off unless the provider allows it
    assert body["tools"] == [
        {"name": "f", "input_schema": {"type": "object", "properties": {}}, "description": "does f"},
    ]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["temperature"] == 1.0 and body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u1"}
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}
    assert set(upstream.dropped) == {
        "reasoning", "raw_blocks", "server_tools", "seed", "presence_penalty", "hosted_tools"
    }  # fmt: skip
    kept = orjson.loads(CODEC.build_request(request, upstream_model="claude-up", settings=HOSTED, stream=True).body)
    assert kept["tools"][1] == {"type": "web_search_20250305", "name": "web_search"}


@pytest.mark.parametrize(
    ("config", "max_tokens", "thinking", "out_max", "effort"),
    [
        (ReasoningConfig(effort="low"), None, {"type": "enabled", "budget_tokens": 1024}, 5120, None),
        (ReasoningConfig(effort="medium"), None, {"type": "enabled", "budget_tokens": 2048}, 6144, None),
        (ReasoningConfig(effort="high"), 3000, {"type": "enabled", "budget_tokens": 2999}, 3000, None),
        (
            ReasoningConfig(budget_tokens=3000, effort="high"),
            8000,
            {"type": "enabled", "budget_tokens": 3000},
            8000,
            "high",
        ),
        (ReasoningConfig(adaptive=True, effort="max"), None, {"type": "adaptive"}, 4096, "max"),
        (ReasoningConfig(enabled=False, effort="high"), 100, {"type": "disabled"}, 100, "high"),
    ],
)
def test_thinking_config(
    config: ReasoningConfig, max_tokens: int | None, thinking: dict[str, Any], out_max: int, effort: str | None
) -> None:
    body, _ = build(ChatRequest(model="m", messages=[user()], reasoning=config, max_tokens=max_tokens))
    assert body["thinking"] == thinking and body["max_tokens"] == out_max
    assert body.get("output_config", {}).get("effort") == effort
    assert body["max_tokens"] > body["thinking"].get("budget_tokens", 0)


def test_thinking_drops_what_anthropic_rejects_beside_it() -> None:
    request = ChatRequest(
        model="m",
        messages=[user()],
        reasoning=ReasoningConfig(effort="high"),
        temperature=0.3,
        top_k=4,
        top_p=0.5,
        tool_choice=ToolChoice("tool", "f"),
        tools=[ToolSpec("f")],
    )
    body, upstream = build(request)
    assert "temperature" not in body and "top_k" not in body and "top_p" not in body
    assert body["tool_choice"] == {"type": "auto"}
    assert set(upstream.dropped) == {"temperature", "top_k", "top_p", "tool_choice"}


def test_thinking_impossible_under_tiny_max_tokens_is_reported() -> None:
    body, upstream = build(
        ChatRequest(model="m", messages=[user()], max_tokens=500, reasoning=ReasoningConfig(effort="high"))
    )
    assert "thinking" not in body and "reasoning_config" in upstream.dropped


def test_passthrough_sends_client_body_verbatim() -> None:
    client_body = {
        "model": "public",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "x"}],
        "context_management": {"edits": []},
        "stream": True,
        "future_field": 1,
    }
    request = PROTOCOL.parse_request(
        client_body, {"Anthropic-Beta": "b1,b2", "anthropic-version": "2023-06-01", "x-api-key": "client-key"}
    )
    body, upstream = build(request, stream=False)
    assert body == {**client_body, "model": "claude-up", "stream": False}
    assert upstream.headers["anthropic-beta"] == "b1,b2" and upstream.headers["x-api-key"] == "sk-ant"
    assert upstream.dropped == []


def test_base_url_with_v1_suffix() -> None:
    settings = ProviderSettings(name="x", kind="anthropic", base_url="https://proxy.test/api/v1/")
    upstream = CODEC.build_request(
        ChatRequest(model="m", messages=[user()]), upstream_model="m", settings=settings, stream=False
    )
    assert upstream.url == "https://proxy.test/api/v1/messages" and "x-api-key" not in upstream.headers


def _normalize(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        norm = []
        for block in blocks:
            block = dict(block)
            if block.get("type") == "tool_result":
                if isinstance(block.get("content"), str):
                    block["content"] = [{"type": "text", "text": block["content"]}]
                if block.get("is_error") is False:
                    del block["is_error"]
            norm.append(block)
        out.append({"role": message["role"], "content": norm})
    return out


def test_real_requests_survive_parse_then_translated_build(shared_dir: Path) -> None:
    """A recorded Anthropic request, parsed and rebuilt without passthrough, says the same."""
    paths = sorted((shared_dir / "fixtures/anthropic").glob("pydantic-ai__*/*.request.json"))
    assert paths
    for path in paths:
        original = json.loads(path.read_text())["body"]
        if "max_tokens" not in original:
            continue  # count_tokens
        request = PROTOCOL.parse_request(original, {})
        request.passthrough = None
        # Server tools in some recordings pass only where the provider allows hosted tools.
        upstream = CODEC.build_request(
            request, upstream_model="claude-up", settings=HOSTED, stream=bool(original.get("stream"))
        )
        body = orjson.loads(upstream.body)
        assert _normalize(body["messages"]) == _normalize(original["messages"]), path.name
        for key in ("system", "tools", "tool_choice", "thinking", "cache_control", "max_tokens"):
            if key in original:
                system = original[key]
                expected = [{"type": "text", "text": system}] if key == "system" and isinstance(system, str) else system
                assert body[key] == expected, (path.name, key)
        assert upstream.dropped == [], path.name


# -- non-stream responses and errors --------------------------------------------------------


def test_parse_response_fixtures(shared_dir: Path) -> None:
    folder = shared_dir / "fixtures/anthropic"
    paths = sorted(folder.glob("pydantic-ai__*/*.response.json")) + sorted(folder.glob("vercel-ai__*.json"))
    for path in paths:
        payload = json.loads(path.read_text())
        if payload.get("type") != "message":
            continue  # count_tokens answers
        response = CODEC.parse_response(path.read_bytes(), settings=SETTINGS)
        assert response.id == payload["id"] and len(response.content) == len(payload["content"]), path.name
        assert response.usage.input_tokens == payload["usage"]["input_tokens"], path.name
        assert response.usage.cache_read_tokens == (payload["usage"].get("cache_read_input_tokens") or 0)
        for block, raw in zip(response.content, payload["content"], strict=True):
            if raw["type"] == "tool_use":
                assert isinstance(block, ToolCallBlock) and block.input() == raw["input"]
            elif raw["type"] == "thinking":
                assert isinstance(block, ReasoningBlock) and block.opaque.value == raw["signature"]  # type: ignore[union-attr]
            elif raw["type"] == "text":
                assert isinstance(block, TextBlock) and block.text == raw["text"]


def test_parse_response_reasoning_tokens_and_bad_body() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "c",
        "stop_reason": "model_context_window_exceeded",
        "content": [{"type": "redacted_thinking", "data": "D"}],
        "usage": {"input_tokens": 1, "output_tokens": 9, "output_tokens_details": {"thinking_tokens": 6}},
    }
    response = CODEC.parse_response(orjson.dumps(body), settings=SETTINGS)
    assert response.usage.reasoning_tokens == 6 and response.stop_reason is StopReason.MAX_TOKENS
    assert response.content == [ReasoningBlock(opaque=Opaque("anthropic", "redacted", "D"))]
    with pytest.raises(GatewayError) as caught:
        CODEC.parse_response(b"<html>", settings=SETTINGS)
    assert caught.value.kind is ErrorKind.CONNECTION


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "retryable", "retry_after"),
    [
        (
            529,
            {},
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            ErrorKind.OVERLOADED,
            True,
            None,
        ),
        (
            429,
            {"retry-after": "7"},
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
            ErrorKind.RATE_LIMIT,
            True,
            7.0,
        ),
        (
            429,
            {"retry-after-ms": "1500"},
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "limit",
                    "details": {"error_code": "enforced_spend_limit_reached"},
                },
            },
            ErrorKind.QUOTA,
            False,
            1.5,
        ),
        (
            500,
            {"x-should-retry": "false"},
            {"type": "error", "error": {"type": "api_error", "message": "x"}},
            ErrorKind.API_ERROR,
            False,
            None,
        ),
        (
            400,
            {"x-should-retry": "true"},
            {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}},
            ErrorKind.INVALID_REQUEST,
            True,
            None,
        ),
        (
            402,
            {},
            {"type": "error", "error": {"type": "billing_error", "message": "pay"}},
            ErrorKind.QUOTA,
            False,
            None,
        ),
        (504, {}, {"type": "error", "error": {"type": "timeout_error", "message": "t"}}, ErrorKind.TIMEOUT, True, None),
    ],
)
def test_map_error(
    status: int,
    headers: dict[str, str],
    body: dict[str, Any],
    kind: ErrorKind,
    retryable: bool,
    retry_after: float | None,
) -> None:
    error = CODEC.map_error(status, headers, orjson.dumps(body), settings=SETTINGS)
    assert (error.kind, error.retryable, error.retry_after) == (kind, retryable, retry_after)
    assert error.message == body["error"]["message"] and error.provider == "anth" and error.upstream_status == status


def test_map_error_non_json_and_recorded_404(shared_dir: Path) -> None:
    error = CODEC.map_error(413, {}, b"<html>Request Entity Too Large</html>", settings=SETTINGS)
    assert error.kind is ErrorKind.REQUEST_TOO_LARGE and "Too Large" in error.message
    path = next((shared_dir / "fixtures/errors/pydantic-ai__test_anthropic_count_tokens_error").glob("*.response.json"))
    error = CODEC.map_error(404, {}, path.read_bytes(), settings=SETTINGS)
    assert error.kind is ErrorKind.NOT_FOUND and "claude-does-not-exist" in error.message


def test_passthrough_of_other_api_is_ignored() -> None:
    request = ChatRequest(
        model="m", messages=[user()], passthrough=Passthrough("openai-chat", {"model": "m", "messages": []}, {})
    )
    body, _ = build(request)
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
