"""The Responses upstream codec: request building, response/stream decoding, errors.

Stream fixtures are replayed event by event and the assembled result is compared with the
upstream's own final `response.completed` object, so a decoder bug shows up as a difference
between what was streamed and what the upstream said it sent.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from interlink.core import (
    ChatRequest,
    ErrorKind,
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
from interlink.providers import ClientPolicy, ProviderSettings
from interlink.providers.openai_responses import CODEC
from interlink.providers.openai_responses.response import item_blocks
from interlink.sse import ServerSentEvent, SSEDecoder

SETTINGS = ProviderSettings(
    name="openai", kind="openai-responses", base_url="https://api.openai.com/v1", api_key="sk-x"
)


def _body(request: ChatRequest, stream: bool = False) -> dict:
    built = CODEC.build_request(request, upstream_model="gpt-up", settings=SETTINGS, stream=stream)
    return orjson.loads(built.body)


# --- fixtures ----------------------------------------------------------------------------------


def _sse_streams(path: Path) -> list[list[ServerSentEvent]]:
    """One list of SSE events per recorded response (a jsonl may hold several turns)."""
    if path.suffix == ".sse":
        decoder = SSEDecoder()
        events = decoder.feed(path.read_bytes()) + decoder.flush()
    else:
        events = []
        for line in path.read_text().splitlines():
            if line.strip():
                events.append(ServerSentEvent(data=line, event=json.loads(line).get("type")))
    streams: list[list[ServerSentEvent]] = []
    for event in events:
        kind = json.loads(event.data).get("type") if event.data.startswith("{") else None
        if kind == "response.created" or not streams:
            streams.append([])
        streams[-1].append(event)
    return streams


def _stream_files(shared: Path) -> list[Path]:
    root = shared / "fixtures" / "openai-responses"
    return sorted(root.glob("*.chunks.jsonl")) + sorted(root.glob("*/*.response.sse"))


def _decode(events: list[ServerSentEvent]) -> list:
    decoder = CODEC.stream_decoder(settings=SETTINGS)
    out = []
    for event in events:
        out.extend(decoder.feed(event))
    out.extend(decoder.close())
    return out


def _final_response(events: list[ServerSentEvent]) -> dict | None:
    for event in events:
        data = json.loads(event.data)
        if data.get("type") in ("response.completed", "response.incomplete"):
            return data["response"]
    return None


def _summary(blocks: list) -> list:
    out = []
    for b in blocks:
        if isinstance(b, TextBlock):
            out.append(("text", b.text))
        elif isinstance(b, ToolCallBlock):
            out.append(("tool", b.id, b.name, b.arguments))
        elif isinstance(b, ReasoningBlock):
            # The final object re-encrypts: only whether encrypted content arrived is comparable.
            out.append(("reasoning", b.text, b.opaque is not None))
        elif isinstance(b, RawBlock):
            out.append(("raw", b.data.get("type")))
    return out


def test_every_stream_fixture_matches_its_final_response(shared_dir: Path) -> None:
    files = _stream_files(shared_dir)
    assert files
    checked = 0
    for path in files:
        for events in _sse_streams(path):
            final = _final_response(events)
            decoded = _decode(events)
            if final is None:
                assert isinstance(decoded[-1], StreamError), path.name
                continue
            response = assemble(decoded)
            expected = [b for item in final["output"] for b in item_blocks(item)]
            assert _summary(response.content) == _summary(expected), path.name
            usage = final.get("usage")
            if usage:
                cached = (usage.get("input_tokens_details") or {}).get("cached_tokens", 0)
                assert response.usage.prompt_tokens == usage["input_tokens"], path.name
                assert response.usage.cache_read_tokens == cached
                assert response.usage.output_tokens == usage["output_tokens"]
            has_call = any(i["type"] in ("function_call", "custom_tool_call") for i in final["output"])
            assert response.stop_reason == (StopReason.TOOL_USE if has_call else StopReason.END_TURN)
            checked += 1
    assert checked >= 10


def test_reasoning_fixture_takes_encrypted_content_from_done(shared_dir: Path) -> None:
    path = next((shared_dir / "fixtures/openai-responses").glob("*thinking_part_iter/*.response.sse"))
    events = _sse_streams(path)[0]
    added = next(json.loads(e.data) for e in events if '"response.output_item.added"' in e.data)
    response = assemble(_decode(events))
    reasoning = response.content[0]
    assert isinstance(reasoning, ReasoningBlock)
    assert reasoning.id and reasoning.id.startswith("rs_")
    assert reasoning.text.startswith("**Providing street")
    assert reasoning.opaque is not None and reasoning.opaque.origin == "openai-responses"
    done = next(json.loads(e.data) for e in events if '"response.output_item.done"' in e.data)
    assert reasoning.opaque.value == done["item"]["encrypted_content"]
    assert reasoning.opaque.value != added["item"]["encrypted_content"]
    assert response.usage.reasoning_tokens and response.usage.reasoning_tokens > 0
    assert isinstance(response.content[1], TextBlock)


def test_copilot_rotating_item_ids(shared_dir: Path) -> None:
    path = shared_dir / "fixtures/openai-responses/vercel-ai__github-copilot-id-rotation.1.chunks.jsonl"
    response = assemble(_decode(_sse_streams(path)[0]))
    assert [b.type for b in response.content] == ["reasoning", "text"]
    assert response.content[1].text.startswith("There are **3** letter")


def test_lmstudio_arguments_only_on_done(shared_dir: Path) -> None:
    path = shared_dir / "fixtures/openai-responses/vercel-ai__open-responses__lmstudio-tool-call.1.chunks.jsonl"
    response = assemble(_decode(_sse_streams(path)[0]))
    assert [b.type for b in response.content] == ["reasoning", "text", "tool_call"]
    assert response.content[0].text.startswith("The user is asking")
    call = response.content[2]
    assert call.id == "call_2025306790300011" and call.input() == {"location": "San Francisco"}
    assert response.stop_reason == StopReason.TOOL_USE


def test_deepseek_raw_reasoning_text(shared_dir: Path) -> None:
    path = next((shared_dir / "fixtures/openai-responses").glob("*deepseek*/*.1.response.sse"))
    response = assemble(_decode(_sse_streams(path)[0]))
    assert response.content[0].text == "The user asks about temperature in Tokyo. I'll call the tool."
    assert response.content[1].name == "get_temperature"
    assert response.content[1].input() == {"city": "Tokyo"}


def test_error_fixture_is_quota_stream_error(shared_dir: Path) -> None:
    path = shared_dir / "fixtures/openai-responses/vercel-ai__openai-error.1.chunks.jsonl"
    events = _decode(_sse_streams(path)[0])
    errors = [e for e in events if isinstance(e, StreamError)]
    assert len(errors) == 1 and events[-1] is errors[0]
    assert errors[0].error.kind == ErrorKind.QUOTA
    assert "quota" in errors[0].error.message


def test_non_stream_fixture(shared_dir: Path) -> None:
    folder = shared_dir / "fixtures/openai-responses/pydantic-ai__test_openai_responses_thinking_with_tool_calls"
    body = (folder / "test_openai_responses_thinking_with_tool_calls.1.response.json").read_bytes()
    response = CODEC.parse_response(body, settings=SETTINGS)
    raw = json.loads(body)
    names = {"reasoning": "reasoning", "message": "text", "function_call": "tool_call"}
    assert [b.type for b in response.content] == [names[i["type"]] for i in raw["output"]]
    reasoning = response.content[0]
    assert isinstance(reasoning, ReasoningBlock) and reasoning.opaque is not None
    assert reasoning.opaque.value == raw["output"][0]["encrypted_content"]
    assert response.stop_reason == StopReason.TOOL_USE
    cached = raw["usage"]["input_tokens_details"]["cached_tokens"]
    assert response.usage.input_tokens == raw["usage"]["input_tokens"] - cached


def test_replayed_request_survives_parse_and_rebuild(shared_dir: Path) -> None:
    """A recorded stateless replay (reasoning + function_call + output) rebuilt on the translated path."""
    from interlink.protocols.openai_responses import PROTOCOL

    folder = shared_dir / "fixtures/openai-responses/pydantic-ai__test_openai_responses_thinking_with_tool_calls"
    original = json.loads((folder / "test_openai_responses_thinking_with_tool_calls.2.request.json").read_text())[
        "body"
    ]
    request = PROTOCOL.parse_request(original, {})
    request.passthrough = None
    body = _body(request)
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]
    kinds = [i.get("type", "message") for i in original["input"]]
    assert [i["type"] for i in body["input"]] == kinds
    sent = [i for i in body["input"] if i["type"] == "reasoning"]
    recorded = [i for i in original["input"] if i.get("type") == "reasoning"]
    assert [i["encrypted_content"] for i in sent] == [i["encrypted_content"] for i in recorded]
    assert [i["id"] for i in sent] == [i["id"] for i in recorded]
    calls = [(i["call_id"], i["arguments"]) for i in body["input"] if i["type"] == "function_call"]
    assert calls == [(i["call_id"], i["arguments"]) for i in original["input"] if i.get("type") == "function_call"]


# --- request building --------------------------------------------------------------------------


def test_translated_request() -> None:
    request = ChatRequest(
        model="public",
        system=[TextBlock("be brief")],
        messages=[
            Message("user", [TextBlock("hi"), ImageBlock(media_type="image/png", data="AAAA")]),
            Message(
                "assistant",
                [
                    ReasoningBlock("thought", Opaque("openai-responses", "encrypted_content", "ENC"), "rs_1"),
                    ReasoningBlock("claude thought", Opaque("anthropic", "signature", "sig")),
                    TextBlock("calling"),
                    ToolCallBlock("call_1", "get", '{"a":1}'),
                ],
            ),
            Message("user", [ToolResultBlock("call_1", [TextBlock("42")])]),
            Message("system", [TextBlock("now be verbose")]),
        ],
        tools=[ToolSpec("get", "gets", {"type": "object", "properties": {}})],
        tool_choice=ToolChoice("tool", "get"),
        max_tokens=100,
        temperature=0.5,
        stop=["END"],
        top_k=3,
        reasoning=ReasoningConfig(budget_tokens=2000),
        response_format=ResponseFormat("json_schema", name="x", schema={"type": "object"}),
    )
    built = CODEC.build_request(request, upstream_model="gpt-up", settings=SETTINGS, stream=True)
    body = orjson.loads(built.body)
    assert built.url == "https://api.openai.com/v1/responses"
    assert built.headers["authorization"] == "Bearer sk-x"
    assert body["model"] == "gpt-up" and body["stream"] is True and body["store"] is False
    assert body["instructions"] == "be brief"
    assert body["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["max_output_tokens"] == 100 and body["temperature"] == 0.5
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get",
            "parameters": {"type": "object", "properties": {}},
            "description": "gets",
            "strict": False,
        }
    ]
    assert body["tool_choice"] == {"type": "function", "name": "get"}
    assert body["text"] == {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}
    items = body["input"]
    assert items[0] == {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "hi"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
        ],
    }
    assert items[1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "thought"}],
        "encrypted_content": "ENC",
    }
    assert items[2] == {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]}
    assert items[3] == {"type": "function_call", "call_id": "call_1", "name": "get", "arguments": '{"a":1}'}
    assert items[4] == {"type": "function_call_output", "call_id": "call_1", "output": "42"}
    assert items[5]["role"] == "developer"
    assert len(items) == 6
    assert {"reasoning", "stop", "top_k"} <= set(built.dropped)


@pytest.mark.parametrize(("budget", "effort"), [(512, "low"), (1024, "low"), (4096, "medium"), (20000, "high")])
def test_budget_to_effort(budget: int, effort: str) -> None:
    request = ChatRequest(model="m", messages=[], reasoning=ReasoningConfig(budget_tokens=budget))
    assert _body(request)["reasoning"]["effort"] == effort


def test_reasoning_off_sends_no_reasoning() -> None:
    request = ChatRequest(model="m", messages=[], reasoning=ReasoningConfig(enabled=False))
    body = _body(request)
    assert "reasoning" not in body and "include" not in body


def test_foreign_raw_tools_dropped_native_kept() -> None:
    request = ChatRequest(
        model="m",
        messages=[],
        tools=[
            ToolSpec("web_search", raw={"type": "web_search"}, raw_origin="openai-responses"),
            ToolSpec("web_search", raw={"type": "web_search_20250305", "name": "web_search"}, raw_origin="anthropic"),
        ],
    )
    hosted = replace(SETTINGS, policy=ClientPolicy(hosted_tools=True))
    built = CODEC.build_request(request, upstream_model="m", settings=hosted, stream=False)
    assert orjson.loads(built.body)["tools"] == [{"type": "web_search"}]
    assert "server_tools" in built.dropped
    # by default a tool the upstream runs (and bills) is not the client's to turn on
    built = CODEC.build_request(request, upstream_model="m", settings=SETTINGS, stream=False)
    assert "tools" not in orjson.loads(built.body) and "hosted_tools" in built.dropped


def test_passthrough_keeps_unknown_fields_and_forces_stateless() -> None:
    raw = {
        "model": "client-name",
        "input": "hi",
        "store": True,
        "reasoning": {"effort": "low"},
        "prompt_cache_key": "abc",
        "text": {"verbosity": "low"},
    }
    request = ChatRequest(
        model="client-name", messages=[], passthrough=Passthrough("openai-responses", raw, {"openai-beta": "x"})
    )
    built = CODEC.build_request(request, upstream_model="gpt-up", settings=SETTINGS, stream=True)
    body = orjson.loads(built.body)
    assert body["model"] == "gpt-up" and body["stream"] is True and body["store"] is False
    assert body["prompt_cache_key"] == "abc" and body["text"] == {"verbosity": "low"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert built.headers["openai-beta"] == "x"
    assert raw["store"] is True  # the client's body is not mutated


# --- non-stream responses ----------------------------------------------------------------------


def _response(**fields) -> bytes:
    base = {"id": "resp_1", "model": "gpt", "status": "completed", "output": [], "usage": None}
    base.update(fields)
    return orjson.dumps(base)


def test_incomplete_max_output_tokens() -> None:
    body = _response(
        status="incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        output=[{"type": "message", "content": [{"type": "output_text", "text": "cut"}]}],
        usage={"input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 4}},
    )
    response = CODEC.parse_response(body, settings=SETTINGS)
    assert response.stop_reason == StopReason.MAX_TOKENS
    assert response.usage.input_tokens == 6 and response.usage.cache_read_tokens == 4
    assert response.content[0].text == "cut"


def test_content_filter_is_refusal() -> None:
    body = _response(status="incomplete", incomplete_details={"reason": "content_filter"})
    assert CODEC.parse_response(body, settings=SETTINGS).stop_reason == StopReason.REFUSAL


def test_failed_response_raises() -> None:
    body = _response(status="failed", error={"code": "rate_limit_exceeded", "message": "slow"})
    with pytest.raises(Exception) as info:
        CODEC.parse_response(body, settings=SETTINGS)
    assert info.value.kind == ErrorKind.RATE_LIMIT


# --- stream edge cases -------------------------------------------------------------------------


def _events(*payloads: dict) -> list[ServerSentEvent]:
    return [ServerSentEvent(data=json.dumps(p), event=p.get("type")) for p in payloads]


CREATED = {"type": "response.created", "response": {"id": "resp_1", "model": "gpt"}}


def test_stream_without_terminal_is_connection_error() -> None:
    events = _decode(
        _events(CREATED, {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message"}})
    )
    assert isinstance(events[-1], StreamError)
    assert events[-1].error.kind == ErrorKind.CONNECTION


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"type": "error", "code": "rate_limit_exceeded", "message": "slow"}, ErrorKind.RATE_LIMIT),
        (
            {"type": "error", "error": {"type": "server_error", "code": "server_error", "message": "x"}},
            ErrorKind.API_ERROR,
        ),
        (
            {"type": "response.failed", "response": {"error": {"code": "insufficient_quota", "message": "pay"}}},
            ErrorKind.QUOTA,
        ),
    ],
)
def test_stream_error_kinds(payload: dict, kind: ErrorKind) -> None:
    events = _decode(_events(CREATED, payload))
    assert isinstance(events[-1], StreamError) and events[-1].error.kind == kind
    assert sum(isinstance(e, StreamError) for e in events) == 1


def test_interleaved_items_come_out_sequential() -> None:
    """A server that interleaves two items still yields dense sequential blocks."""
    events = _decode(
        _events(
            CREATED,
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "function_call", "call_id": "a", "name": "f"},
            },
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": {"type": "function_call", "call_id": "b", "name": "g"},
            },
            {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": '{"y":2}'},
            {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '{"x":1}'},
            {
                "type": "response.output_item.done",
                "output_index": 1,
                "item": {"type": "function_call", "call_id": "b", "name": "g", "arguments": '{"y":2}'},
            },
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": {"type": "function_call", "call_id": "a", "name": "f", "arguments": '{"x":1}'},
            },
            {
                "type": "response.completed",
                "response": {"status": "completed", "output": [], "usage": {"input_tokens": 1, "output_tokens": 2}},
            },
        )
    )
    response = assemble(events)
    assert [(b.id, b.arguments) for b in response.content] == [("a", '{"x":1}'), ("b", '{"y":2}')]
    assert response.stop_reason == StopReason.TOOL_USE


def test_multiple_summary_parts_join_with_blank_line() -> None:
    item = {"type": "reasoning", "id": "rs_1", "summary": []}
    events = _decode(
        _events(
            CREATED,
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "one"},
            {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 1, "delta": "two"},
            {"type": "response.output_item.done", "output_index": 0, "item": {**item, "encrypted_content": "E"}},
            {"type": "response.completed", "response": {"status": "completed", "usage": None}},
        )
    )
    block = assemble(events).content[0]
    assert block.text == "one\n\ntwo" and block.opaque == Opaque("openai-responses", "encrypted_content", "E")


# --- HTTP errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            429,
            {"error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "pay"}},
            ErrorKind.QUOTA,
        ),
        (429, {"error": {"type": "requests", "code": "rate_limit_exceeded", "message": "slow"}}, ErrorKind.RATE_LIMIT),
        (
            400,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "decimal_below_min_value",
                    "param": "temperature",
                    "message": "bad",
                }
            },
            ErrorKind.INVALID_REQUEST,
        ),
        (413, {"error": {"type": "invalid_request_error", "message": "big"}}, ErrorKind.REQUEST_TOO_LARGE),
        (
            503,
            {"error": {"type": "server_error", "code": "server_is_overloaded", "message": "busy"}},
            ErrorKind.OVERLOADED,
        ),
        (500, {"error": {"type": "server_error", "message": "oops"}}, ErrorKind.API_ERROR),
    ],
)
def test_http_errors(status: int, body: dict, kind: ErrorKind) -> None:
    error = CODEC.map_error(status, {}, orjson.dumps(body), settings=SETTINGS)
    assert error.kind == kind
    assert error.upstream_status == status and error.provider == "openai"
    assert error.message == body["error"]["message"]


def test_http_error_headers() -> None:
    error = CODEC.map_error(429, {"retry-after-ms": "1500", "x-should-retry": "false"}, b"not json", settings=SETTINGS)
    assert error.retry_after == 1.5 and error.retryable is False
    assert error.kind == ErrorKind.RATE_LIMIT and "not json" in error.message


def test_param_is_kept(shared_dir: Path) -> None:
    folder = shared_dir / "fixtures/errors/pydantic-ai__test_openai_responses_model_http_error"
    sse = next(folder.glob("*.response.json"), None)
    if sse is None:
        pytest.skip("no recorded body")
    error = CODEC.map_error(400, {}, sse.read_bytes(), settings=SETTINGS)
    assert error.kind == ErrorKind.INVALID_REQUEST and error.param == "temperature"


def test_passthrough_drops_reasoning_packed_from_another_api() -> None:
    foreign = Opaque("anthropic", "signature", "sig").encode()
    raw = {
        "model": "m",
        "input": [
            {"type": "reasoning", "id": "rs_a", "summary": [], "encrypted_content": foreign},
            {"type": "reasoning", "id": "rs_b", "summary": [], "encrypted_content": "gAAAA-native"},
            {"role": "user", "content": "next"},
        ],
    }
    request = ChatRequest(model="m", messages=[], passthrough=Passthrough("openai-responses", raw, {}))
    built = CODEC.build_request(request, upstream_model="gpt-up", settings=SETTINGS, stream=False)
    body = orjson.loads(built.body)
    assert [i.get("id") for i in body["input"]] == ["rs_b", None]
    assert built.dropped == ["reasoning"]
