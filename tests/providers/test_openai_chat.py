"""The Chat Completions upstream codec: request building per preset, response and error
mapping, and stream decoding replayed from real recorded streams of OpenAI and compatible servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from interlink.core import (
    BlockStart,
    ChatRequest,
    ChatResponse,
    ErrorKind,
    Event,
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
from interlink.protocols.openai_chat import PROTOCOL
from interlink.providers import ProviderCodec, ProviderSettings
from interlink.providers.openai_chat import CODEC, PRESETS, get_preset
from interlink.sse import ServerSentEvent, SSEDecoder

# --- helpers --------------------------------------------------------------------------------


def settings(preset: str = "openai", **kw: Any) -> ProviderSettings:
    return ProviderSettings(
        name=preset,
        kind="openai-chat",
        base_url="https://api.test/v1/",
        api_key="sk-up",
        preset=get_preset(preset),
        **kw,
    )


def build(request: ChatRequest, preset: str = "openai", stream: bool = False) -> tuple[dict[str, Any], Any]:
    upstream = CODEC.build_request(request, upstream_model="up-model", settings=settings(preset), stream=stream)
    return orjson.loads(upstream.body), upstream


def user(*blocks: Any) -> Message:
    return Message(role="user", content=list(blocks))


def assistant(*blocks: Any) -> Message:
    return Message(role="assistant", content=list(blocks))


def decode_sse(raw: bytes, preset: str = "openai", chunk_size: int | None = None) -> list[Event]:
    decoder = CODEC.stream_decoder(settings=settings(preset))
    sse = SSEDecoder()
    events: list[Event] = []
    pieces = [raw] if chunk_size is None else [raw[i : i + chunk_size] for i in range(0, len(raw), chunk_size)]
    for piece in pieces:
        for event in sse.feed(piece):
            events += decoder.feed(event)
    for event in sse.flush():
        events += decoder.feed(event)
    return events + decoder.close()


def decode_chunks(chunks: list[Any], preset: str = "openai", done: bool = True) -> list[Event]:
    decoder = CODEC.stream_decoder(settings=settings(preset))
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(ServerSentEvent(data=chunk if isinstance(chunk, str) else json.dumps(chunk)))
    if done:
        events += decoder.feed(ServerSentEvent(data="[DONE]"))
    return events + decoder.close()


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": choices, **extra}


def text(response: ChatResponse) -> str:
    return "".join(b.text for b in response.content if isinstance(b, TextBlock))


def reasoning(response: ChatResponse) -> str:
    return "".join(b.text for b in response.content if isinstance(b, ReasoningBlock))


def calls(response: ChatResponse) -> list[tuple[str, str, str]]:
    return [(b.id, b.name, b.arguments) for b in response.content if isinstance(b, ToolCallBlock)]


def test_codec_satisfies_interface() -> None:
    codec: ProviderCodec = CODEC
    assert codec.api == "openai-chat"


# --- presets --------------------------------------------------------------------------------


def test_presets_lookup() -> None:
    assert get_preset("DeepSeek").reasoning_echo and get_preset("deepseek").max_tokens_field == "max_tokens"
    assert get_preset("kimi").name == "moonshot"
    assert get_preset("xai").completion_excludes_reasoning
    assert get_preset("vllm").reasoning_field == "reasoning"
    assert {
        "openai",
        "deepseek",
        "vllm",
        "sglang",
        "llamacpp",
        "ollama",
        "groq",
        "openrouter",
        "xai",
        "moonshot",
        "together",
        "lmstudio",
        "mistral",
    } <= set(PRESETS)
    copy = get_preset("openai")
    copy.stream_usage = False
    assert get_preset("openai").stream_usage
    with pytest.raises(KeyError, match="unknown preset"):
        get_preset("nope")


# --- request --------------------------------------------------------------------------------


def test_request_basic_shape_and_headers() -> None:
    request = ChatRequest(
        model="public",
        system=[TextBlock(text="sys A"), TextBlock(text="sys B")],
        messages=[user(TextBlock(text="hi")), Message(role="system", content=[TextBlock(text="mid")])],
        max_tokens=64,
        temperature=0.3,
        stop=["X"],
        user="u1",
        seed=3,
    )
    payload, upstream = build(request, stream=True)
    assert upstream.url == "https://api.test/v1/chat/completions"
    assert upstream.headers["Authorization"] == "Bearer sk-up" and upstream.stream
    assert payload["model"] == "up-model"
    assert payload["messages"] == [
        {"role": "system", "content": "sys A\n\nsys B"},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "mid"},
    ]
    assert payload["max_completion_tokens"] == 64 and "max_tokens" not in payload
    assert (payload["temperature"], payload["stop"], payload["user"], payload["seed"]) == (0.3, ["X"], "u1", 3)
    assert payload["stream"] is True and payload["stream_options"] == {"include_usage": True}
    assert upstream.dropped == []


def test_request_tool_results_first_then_user_rest() -> None:
    request = ChatRequest(
        model="p",
        messages=[
            user(TextBlock(text="go")),
            assistant(
                ReasoningBlock(text="plan", opaque=Opaque("anthropic", "signature", "s")),
                TextBlock(text="calling"),
                ToolCallBlock(id="toolu_1", name="f", arguments='{"a":1}'),
                ToolCallBlock(id="toolu_2", name="g", arguments=""),
            ),
            user(
                ToolResultBlock(tool_call_id="toolu_1", content=[TextBlock(text="ok")]),
                ToolResultBlock(
                    tool_call_id="toolu_2",
                    content=[TextBlock(text="boom"), ImageBlock(media_type="image/png", data="AAA")],
                    is_error=True,
                ),
                TextBlock(text="now what"),
                ImageBlock(media_type="image/png", data="BBB", detail="high"),
            ),
        ],
    )
    payload, upstream = build(request)
    msgs = payload["messages"]
    assert msgs[1] == {
        "role": "assistant",
        "content": "calling",
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
        ],
    }
    assert msgs[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"}
    assert msgs[3] == {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: boom"}
    assert msgs[4]["role"] == "user" and msgs[4]["content"][0] == {"type": "text", "text": "now what"}
    assert msgs[4]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,BBB", "detail": "high"},
    }
    assert set(upstream.dropped) == {"tool_result_images", "reasoning"}


def test_request_deepseek_echoes_reasoning_on_tool_turns() -> None:
    request = ChatRequest(
        model="p",
        messages=[
            user(TextBlock(text="q")),
            assistant(ReasoningBlock(text="why"), ToolCallBlock(id="c1", name="f", arguments="{}")),
            user(ToolResultBlock(tool_call_id="c1", content=[TextBlock(text="r")])),
            assistant(ToolCallBlock(id="c2", name="f", arguments="{}")),
            user(ToolResultBlock(tool_call_id="c2", content=[TextBlock(text="r")])),
        ],
        max_tokens=10,
    )
    payload, upstream = build(request, preset="deepseek")
    assert payload["messages"][1]["reasoning_content"] == "why"
    assert payload["messages"][3]["reasoning_content"] == ""
    assert payload["max_tokens"] == 10 and "max_completion_tokens" not in payload
    assert "reasoning" not in upstream.dropped


def test_request_tools_choice_format_reasoning() -> None:
    request = ChatRequest(
        model="p",
        messages=[user(TextBlock(text="q"))],
        tools=[
            ToolSpec(name="f", description="d", parameters={"type": "object", "properties": {}}, strict=True),
            ToolSpec(
                name="web_search", raw={"type": "web_search_20250305", "name": "web_search"}, raw_origin="anthropic"
            ),
        ],
        tool_choice=ToolChoice(mode="tool", name="f"),
        parallel_tool_calls=False,
        reasoning=ReasoningConfig(effort="low"),
        response_format=ResponseFormat(type="json_schema", name="o", schema={"type": "object"}, strict=True),
        top_k=5,
    )
    payload, upstream = build(request)
    assert payload["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {"type": "object", "properties": {}},
                "description": "d",
                "strict": True,
            },
        }
    ]
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert payload["parallel_tool_calls"] is False
    assert payload["reasoning_effort"] == "low"
    assert payload["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "o", "schema": {"type": "object"}, "strict": True},
    }
    assert set(upstream.dropped) == {"server_tools", "top_k"}
    payload, upstream = build(request, preset="vllm")
    assert "reasoning_effort" not in payload and "reasoning_effort" in upstream.dropped


@pytest.mark.parametrize(
    ("config", "effort"),
    [
        (ReasoningConfig(budget_tokens=1024), "low"),
        (ReasoningConfig(budget_tokens=2048), "medium"),
        (ReasoningConfig(budget_tokens=31999), "high"),
        (ReasoningConfig(adaptive=True), "medium"),
        (ReasoningConfig(adaptive=True, effort="max"), "max"),
        (ReasoningConfig(enabled=False), None),
    ],
)
def test_request_anthropic_thinking_becomes_effort(config: ReasoningConfig, effort: str | None) -> None:
    request = ChatRequest(model="p", messages=[user(TextBlock(text="q"))], reasoning=config)
    payload, upstream = build(request)
    assert payload.get("reasoning_effort") == effort and upstream.dropped == []


def test_request_passthrough_keeps_unknown_fields() -> None:
    raw = {
        "model": "public",
        "messages": [{"role": "user", "content": "x"}],
        "max_completion_tokens": 9,
        "logit_bias": {"1": 2},
        "stream": True,
        "stream_options": {"include_obfuscation": False},
    }
    request = PROTOCOL.parse_request(raw, {"openai-beta": "b1"})
    payload, upstream = build(request, stream=True)
    assert payload["model"] == "up-model" and payload["logit_bias"] == {"1": 2}
    assert payload["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert upstream.headers["openai-beta"] == "b1"
    payload, _ = build(request, preset="mistral", stream=False)
    assert payload["max_tokens"] == 9 and "max_completion_tokens" not in payload
    assert payload["stream"] is False and "stream_options" not in payload
    foreign = ChatRequest(
        model="p", messages=[user(TextBlock(text="x"))], passthrough=Passthrough("anthropic", {"x": 1}, {})
    )
    payload, _ = build(foreign)
    assert "x" not in payload and payload["messages"] == [{"role": "user", "content": "x"}]


def test_request_raw_blocks_of_other_origins_dropped() -> None:
    request = ChatRequest(
        model="p",
        messages=[
            user(TextBlock(text="q")),
            assistant(TextBlock(text="a"), RawBlock("anthropic", {"type": "server_tool_use"})),
        ],
    )
    payload, upstream = build(request)
    assert payload["messages"][1] == {"role": "assistant", "content": "a"}
    assert upstream.dropped == ["raw_content"]


# --- response and errors --------------------------------------------------------------------


def test_parse_response_fixtures(shared_dir: Path) -> None:
    base = shared_dir / "fixtures"
    openai_text = CODEC.parse_response(
        (base / "openai-chat/vercel-ai__openai-text.json").read_bytes(), settings=settings()
    )
    assert text(openai_text).startswith("**Holiday Name:** Galaxy Day")
    assert openai_text.stop_reason == StopReason.END_TURN and openai_text.usage.input_tokens == 16
    deepseek = CODEC.parse_response(
        (base / "openai-compatible/vercel-ai__deepseek-reasoning.json").read_bytes(), settings=settings("deepseek")
    )
    assert isinstance(deepseek.content[0], ReasoningBlock) and reasoning(deepseek).startswith("We are asked")
    assert "three instances" in text(deepseek)
    assert deepseek.usage.reasoning_tokens == 315 and deepseek.usage.output_tokens == 345


def test_parse_response_tool_calls_cache_and_xai_usage() -> None:
    body = {
        "id": "x1",
        "model": "grok",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":'}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 307,
            "completion_tokens": 26,
            "total_tokens": 560,
            "prompt_tokens_details": {"cached_tokens": 306},
            "completion_tokens_details": {"reasoning_tokens": 227},
        },
    }
    response = CODEC.parse_response(orjson.dumps(body), settings=settings("xai"))
    assert calls(response) == [("call_1", "f", '{"a":')]
    assert response.stop_reason == StopReason.TOOL_USE
    assert (response.usage.input_tokens, response.usage.cache_read_tokens, response.usage.output_tokens) == (
        1,
        306,
        253,
    )
    body["usage"] = {
        "prompt_tokens": 50,
        "completion_tokens": 5,
        "prompt_cache_hit_tokens": 40,
        "prompt_cache_miss_tokens": 10,
    }
    response = CODEC.parse_response(orjson.dumps(body), settings=settings("deepseek"))
    assert (response.usage.input_tokens, response.usage.cache_read_tokens) == (10, 40)


@pytest.mark.parametrize(
    ("status", "payload", "headers", "kind", "retryable"),
    [
        (
            429,
            {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}},
            {},
            ErrorKind.QUOTA,
            False,
        ),
        (
            429,
            {"error": {"message": "slow", "type": "requests", "code": "rate_limit_exceeded"}},
            {"retry-after-ms": "1500"},
            ErrorKind.RATE_LIMIT,
            True,
        ),
        (
            400,
            {
                "error": {
                    "message": "bad temp",
                    "type": "invalid_request_error",
                    "param": "temperature",
                    "code": "decimal_below_min_value",
                }
            },
            {},
            ErrorKind.INVALID_REQUEST,
            False,
        ),
        (
            401,
            {"error": {"message": "key", "type": "invalid_request_error", "code": "invalid_api_key"}},
            {},
            ErrorKind.AUTHENTICATION,
            False,
        ),
        (
            503,
            {"error": {"message": "busy", "type": "server_error", "code": "server_is_overloaded"}},
            {},
            ErrorKind.OVERLOADED,
            True,
        ),
        (
            500,
            {"error": {"message": "oops", "type": "server_error"}},
            {"x-should-retry": "false"},
            ErrorKind.API_ERROR,
            False,
        ),
        (
            400,
            {"object": "error", "message": "vllm says no", "type": "BadRequestError", "code": 400},
            {},
            ErrorKind.INVALID_REQUEST,
            False,
        ),
        (502, b"<html>bad gateway</html>", {}, ErrorKind.CONNECTION, True),
    ],
)
def test_map_error(status: int, payload: Any, headers: dict[str, str], kind: ErrorKind, retryable: bool) -> None:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    error = CODEC.map_error(status, headers, body, settings=settings())
    assert error.kind == kind and error.retryable is retryable and error.upstream_status == status
    assert error.provider == "openai"
    if isinstance(payload, dict):
        assert error.message == (payload.get("error") or payload)["message"]
    if "retry-after-ms" in headers:
        assert error.retry_after == 1.5


def test_map_error_real_fixture(shared_dir: Path) -> None:
    path = shared_dir / "fixtures/errors/vercel-ai__openai-chat__reasoning-model-legacy-parameter-error.json"
    if not path.exists():
        pytest.skip("fixture absent")
    data = json.loads(path.read_text())
    body = data.get("body", data) if isinstance(data, dict) else data
    error = CODEC.map_error(400, {}, orjson.dumps(body), settings=settings())
    assert error.kind == ErrorKind.INVALID_REQUEST and "max_tokens" in error.message


# --- stream decoder: synthetic edge cases ---------------------------------------------------


def test_decoder_interleaved_parallel_tool_calls_are_buffered() -> None:
    events = decode_chunks(
        [
            chunk({"role": "assistant", "content": None}),
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x"'}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "b", "type": "function", "function": {"name": "g", "arguments": '{"y"'}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": ":2}"}}]}),
            chunk({}, "tool_calls"),
        ]
    )
    response = assemble(events)
    assert calls(response) == [("a", "f", '{"x":1}'), ("b", "g", '{"y":2}')]
    assert response.stop_reason == StopReason.TOOL_USE


def test_decoder_missing_index_matches_by_id_and_position() -> None:
    events = decode_chunks(
        [
            chunk({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"q":'}}]}),
            chunk({"tool_calls": [{"id": "a", "function": {"arguments": '"z"}'}}]}),
            chunk({"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
            chunk({"content": "after"}, "stop"),
        ]
    )
    response = assemble(events)
    assert calls(response) == [("a", "f", '{"q":"z"}'), ("b", "g", "{}")]
    assert text(response) == "after" and response.stop_reason == StopReason.TOOL_USE


def test_decoder_reused_index_with_new_id_is_a_new_call() -> None:
    events = decode_chunks(
        [
            chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}),
            chunk({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert [c[:2] for c in calls(assemble(events))] == [("a", "f"), ("b", "g")]


def test_decoder_reasoning_after_text_gets_new_block() -> None:
    events = decode_chunks(
        [
            chunk({"reasoning": "r1"}),
            chunk({"content": "t1"}),
            chunk({"reasoning_content": "r2"}),
            chunk({"content": "t2"}, "stop"),
        ]
    )
    response = assemble(events)
    assert [(b.type, b.text) for b in response.content] == [
        ("reasoning", "r1"),
        ("text", "t1"),
        ("reasoning", "r2"),
        ("text", "t2"),
    ]
    starts = [e.index for e in events if isinstance(e, BlockStart)]
    assert starts == [0, 1, 2, 3]


def test_decoder_stop_string_from_vllm() -> None:
    events = decode_chunks(
        [
            {
                "id": "v",
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop", "stop_reason": "END"}],
            }
        ]
    )
    response = assemble(events)
    assert response.stop_reason == StopReason.STOP_SEQUENCE and response.stop_sequence == "END"


def test_decoder_end_without_finish_is_connection_error() -> None:
    events = decode_chunks([chunk({"content": "partial"})], done=False)
    assert isinstance(events[-1], StreamError) and events[-1].error.kind == ErrorKind.CONNECTION
    events = decode_chunks([chunk({"content": "partial"})], done=True)
    assert isinstance(events[-1], StreamError) and events[-1].error.kind == ErrorKind.CONNECTION


def test_decoder_ignores_comments_empty_choices_and_late_events() -> None:
    raw = (
        b": OPENROUTER PROCESSING\n\n"
        + b"".join(
            b"data: " + orjson.dumps(c) + b"\n\n"
            for c in [
                chunk({"role": "assistant", "content": "hi"}),
                chunk({"role": "assistant", "content": "!"}, "stop"),
                chunk(None, usage={"prompt_tokens": 3, "completion_tokens": 2}),
            ]
        )
        + b"data: [DONE]\n\ndata: "
        + orjson.dumps(chunk({"content": "ignored"}))
        + b"\n\n"
    )
    response = assemble(decode_sse(raw, chunk_size=7))
    assert text(response) == "hi!" and response.usage.input_tokens == 3 and response.usage.output_tokens == 2


# --- stream decoder: every recorded fixture -------------------------------------------------

EXPECTED: dict[str, dict[str, Any]] = {
    "openai-python__parallel-tool-calls-with-usage.sse": {
        "calls": [
            ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs"),
            ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price"),
        ],
        "stop": StopReason.TOOL_USE,
    },
    "openai-python__single-tool-call-with-usage.sse": {"calls": 1, "stop": StopReason.TOOL_USE},
    "openai-python__text-with-usage.sse": {"text": True, "stop": StopReason.END_TURN},
    "openai-python__refusal-delta.sse": {"text": True, "stop": StopReason.END_TURN},
    "openai-python__finish-length-max_tokens-1.sse": {"text": True, "stop": StopReason.MAX_TOKENS},
    "openai-python__n3-interleaved-choices.sse": {"text": True},
    "openai-python__logprobs.sse": {"text": True},
    "vercel-ai__openai-text.chunks.jsonl": {"text": True, "usage": True},
    "test_deepseek_model_thinking_stream.1.response.sse": {"reasoning": True, "text": True, "preset": "deepseek"},
    "vercel-ai__deepseek-reasoning.chunks.jsonl": {"reasoning": True, "text": True, "preset": "deepseek"},
    "vercel-ai__deepseek-tool-call.chunks.jsonl": {"reasoning": True, "calls": 1, "cached": 320, "preset": "deepseek"},
    "vercel-ai__groq-reasoning.chunks.jsonl": {
        "reasoning": True,
        "text": True,
        "reasoning_tokens": 963,
        "preset": "groq",
    },
    "vercel-ai__groq-tool-call.chunks.jsonl": {"calls": 1, "preset": "groq"},
    "test_tool_use_failed_error_streaming.1.response.sse": {"error": ErrorKind.INVALID_REQUEST, "preset": "groq"},
    "test_tool_use_failed_error_streaming.2.response.sse": {"reasoning": True, "calls": 1, "preset": "groq"},
    "test_tool_use_failed_error_streaming.3.response.sse": {"reasoning": True, "text": True, "preset": "groq"},
    "test_openrouter_stream_error.1.response.sse": {"error": ErrorKind.INVALID_REQUEST, "preset": "openrouter"},
    "test_openrouter_streaming_reasoning.1.response.sse": {"reasoning": True, "text": True, "preset": "openrouter"},
    "vercel-ai__alibaba-reasoning.chunks.jsonl": {"reasoning": True, "text": True, "reasoning_tokens": 1084},
    "vercel-ai__moonshotai-stream.chunks.jsonl": {"reasoning": True, "text": True, "preset": "moonshot"},
    "vercel-ai__openai-compatible__anthropic-fallback-tool-call.sse": {
        "text": True,
        "calls": [("toolu_sanitized", "read_file")],
    },
    "vercel-ai__openai-compatible__xai-tool-call.chunks.jsonl": {
        "reasoning": True,
        "calls": 1,
        "output_tokens": 253,
        "preset": "xai",
    },
}


def fixture_streams(shared: Path) -> list[Path]:
    found = []
    for folder in ("openai-chat", "openai-compatible"):
        for path in sorted((shared / "fixtures" / folder).iterdir()):
            if path.is_dir():
                found += sorted(path.glob("*.response.sse"))
            elif path.name.endswith((".sse", ".chunks.jsonl")):
                found.append(path)
    return found


def replay(path: Path, preset: str) -> list[Event]:
    if path.name.endswith(".chunks.jsonl"):
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        return decode_chunks(lines, preset=preset, done=False)
    return decode_sse(path.read_bytes(), preset=preset, chunk_size=97)


def test_decoder_replays_every_fixture(shared_dir: Path) -> None:
    paths = fixture_streams(shared_dir)
    assert {p.name for p in paths} == set(EXPECTED), "a fixture was added or removed: extend EXPECTED"
    for path in paths:
        expect = EXPECTED[path.name]
        events = replay(path, expect.get("preset", "openai"))
        if "error" in expect:
            assert isinstance(events[-1], StreamError), path.name
            assert events[-1].error.kind == expect["error"] and events[-1].error.retryable is False
            continue
        response = assemble(events)
        check_fixture(path.name, response, expect)


def check_fixture(name: str, response: ChatResponse, expect: dict[str, Any]) -> None:
    assert bool(text(response)) == expect.get("text", False), name
    assert bool(reasoning(response)) == expect.get("reasoning", False), name
    if expect.get("reasoning"):
        assert isinstance(response.content[0], ReasoningBlock), name
    want_calls = expect.get("calls", 0)
    got = calls(response)
    if isinstance(want_calls, list):
        assert [c[:2] for c in got] == want_calls, name
    else:
        assert len(got) == want_calls, name
    for call in got:
        json.loads(call[2] or "{}")
    if "stop" in expect:
        assert response.stop_reason == expect["stop"], name
    if "cached" in expect:
        assert response.usage.cache_read_tokens == expect["cached"], name
    if "reasoning_tokens" in expect:
        assert response.usage.reasoning_tokens == expect["reasoning_tokens"], name
    if "output_tokens" in expect:
        assert response.usage.output_tokens == expect["output_tokens"], name
    if name != "vercel-ai__openai-compatible__anthropic-fallback-tool-call.sse":
        assert response.usage.output_tokens > 0, name


def test_decoder_n3_keeps_only_choice_zero(shared_dir: Path) -> None:
    raw = (shared_dir / "fixtures/openai-chat/openai-python__n3-interleaved-choices.sse").read_bytes()
    expected = ""
    for line in raw.decode().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                if choice["index"] == 0:
                    expected += choice["delta"].get("content") or ""
    assert text(assemble(decode_sse(raw))) == expected


# --- decoder -> encoder -> SDK round trip ---------------------------------------------------


def sdk_final(sse: bytes) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)

    client = openai.OpenAI(
        api_key="k",
        base_url="http://gw.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        max_retries=0,
    )
    with client.chat.completions.stream(model="public", messages=[]) as stream:
        try:
            return stream.get_final_completion()
        except openai.LengthFinishReasonError as exc:
            # openai-python 3.x raises on finish_reason "length"; the completion is still there.
            assert exc.completion.choices[0].finish_reason == "length"
            return exc.completion


def test_round_trip_through_encoder_and_sdk(shared_dir: Path) -> None:
    for path in fixture_streams(shared_dir):
        expect = EXPECTED[path.name]
        events = replay(path, expect.get("preset", "openai"))
        encoder = PROTOCOL.stream_encoder(ChatRequest(model="public", messages=[], stream=True, stream_usage=True))
        sse = b"".join(encoder.encode(e) for e in events)
        if "error" in expect:
            with pytest.raises(openai.APIError):
                sdk_final(sse)
            continue
        response = assemble(events)
        completion = sdk_final(sse)
        message = completion.choices[0].message
        assert (message.content or "") == text(response), path.name
        assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == calls(response), (
            path.name
        )
        assert (message.model_extra or {}).get("reasoning_content", "") == reasoning(response), path.name
        assert completion.usage.completion_tokens == response.usage.output_tokens, path.name
        assert completion.usage.prompt_tokens == response.usage.prompt_tokens, path.name
        assert completion.model == "public"
