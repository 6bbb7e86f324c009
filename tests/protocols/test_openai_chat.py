"""The Chat Completions client API: parsing real client requests, 400s that name the field,
rendering, and stream output judged by the official openai SDK's accumulators."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import orjson
import pytest

from interlink.core import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ChatResponse,
    ErrorKind,
    Event,
    GatewayError,
    ImageBlock,
    Opaque,
    ReasoningBlock,
    ReasoningDelta,
    ResponseDelta,
    ResponseStart,
    ResponseStop,
    SignatureDelta,
    StopReason,
    StreamError,
    TextBlock,
    TextDelta,
    ToolArgsDelta,
    ToolCallBlock,
    ToolResultBlock,
    Usage,
)
from interlink.protocols import ClientProtocol
from interlink.protocols.openai_chat import PROTOCOL

# --- helpers --------------------------------------------------------------------------------


def parse(body: dict[str, Any], headers: dict[str, str] | None = None) -> ChatRequest:
    return PROTOCOL.parse_request(body, headers or {})


def body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": list(messages), **extra}


def invalid(payload: Any) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        PROTOCOL.parse_request(payload, {})
    assert info.value.kind == ErrorKind.INVALID_REQUEST
    assert info.value.status == 400
    return info.value


def sdk(sse: bytes) -> openai.OpenAI:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return openai.OpenAI(api_key="sk-test", base_url="http://gateway.test/v1", http_client=http, max_retries=0)


def encode(events: list[Event], *, stream_usage: bool = True, model: str = "public-model") -> bytes:
    request = ChatRequest(model=model, messages=[], stream=True, stream_usage=stream_usage)
    encoder = PROTOCOL.stream_encoder(request)
    return b"".join(encoder.encode(e) for e in events)


def final_completion(sse: bytes) -> Any:
    client = sdk(sse)
    with client.chat.completions.stream(model="public-model", messages=[]) as stream:
        return stream.get_final_completion()


def data_frames(sse: bytes) -> list[Any]:
    frames = []
    for frame in sse.decode().split("\n\n"):
        if frame.startswith("data: "):
            payload = frame[len("data: ") :]
            frames.append(payload if payload == "[DONE]" else json.loads(payload))
    return frames


USAGE = Usage(input_tokens=10, output_tokens=20, cache_read_tokens=100, cache_write_tokens=5, reasoning_tokens=7)


def text_events(*parts: str, stop: StopReason = StopReason.END_TURN) -> list[Event]:
    return [
        ResponseStart(id="abc", model="upstream-model"),
        BlockStart(0, TextBlock(text="")),
        *[BlockDelta(0, TextDelta(p)) for p in parts],
        BlockStop(0),
        ResponseDelta(stop_reason=stop, usage=USAGE),
        ResponseStop(),
    ]


def tool_events() -> list[Event]:
    return [
        ResponseStart(id="chatcmpl-xyz", model="u"),
        BlockStart(0, TextBlock(text="")),
        BlockDelta(0, TextDelta("Checking.")),
        BlockStop(0),
        BlockStart(1, ToolCallBlock(id="toolu_1", name="get_weather")),
        BlockDelta(1, ToolArgsDelta('{"city":')),
        BlockDelta(1, ToolArgsDelta('"Paris"}')),
        BlockStop(1),
        BlockStart(2, ToolCallBlock(id="toolu_2", name="get_time")),
        BlockDelta(2, ToolArgsDelta('{"tz":"CET"}')),
        BlockStop(2),
        ResponseDelta(stop_reason=StopReason.TOOL_USE, usage=USAGE),
        ResponseStop(),
    ]


def test_protocol_satisfies_interface() -> None:
    protocol: ClientProtocol = PROTOCOL
    assert protocol.name == "openai-chat"


# --- parse ----------------------------------------------------------------------------------


def test_parse_system_developer_user_assistant_tool() -> None:
    request = parse(
        body(
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "and kind"}]},
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "need a tool",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": '{"a": 1 }'}},
                    {"id": "c2", "type": "function", "function": {"name": "t", "arguments": "not json"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "noon"}]},
            {"role": "system", "content": "late instruction"},
            {"role": "user", "content": "thanks"},
        )
    )
    assert [b.text for b in request.system] == ["be brief", "and kind"]
    roles = [m.role for m in request.messages]
    assert roles == ["user", "assistant", "user", "system", "user"]
    assistant = request.messages[1].content
    assert isinstance(assistant[0], ReasoningBlock) and assistant[0].text == "need a tool"
    calls = [b for b in assistant if isinstance(b, ToolCallBlock)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [("c1", "w", '{"a": 1 }'), ("c2", "t", "not json")]
    results = request.messages[2].content
    assert all(isinstance(b, ToolResultBlock) for b in results)
    assert [(b.tool_call_id, b.text()) for b in results] == [("c1", "sunny"), ("c2", "noon")]
    assert request.messages[3].content[0].text == "late instruction"


def test_parse_images_data_uri_and_url() -> None:
    request = parse(
        body(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
                ],
            }
        )
    )
    _, inline, linked = request.messages[0].content
    assert isinstance(inline, ImageBlock)
    assert (inline.media_type, inline.data, inline.detail, inline.url) == ("image/jpeg", "AAAA", "low", None)
    assert isinstance(linked, ImageBlock) and linked.url == "https://x.test/cat.png" and linked.data is None


def test_parse_reasoning_field_and_thinking_blocks() -> None:
    foreign = Opaque("openai-responses", "encrypted_content", "gAAA")
    request = parse(
        body(
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "a", "reasoning": "plain reasoning"},
            {"role": "user", "content": "again"},
            {
                "role": "assistant",
                "content": "b",
                "reasoning_content": "ignored when thinking_blocks exist",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "t1", "signature": "sig1"},
                    {"type": "redacted_thinking", "data": "red"},
                    {"type": "thinking", "thinking": "t2", "signature": foreign.encode()},
                ],
            },
        )
    )
    first = request.messages[1].content[0]
    assert isinstance(first, ReasoningBlock) and first.text == "plain reasoning" and first.opaque is None
    blocks = request.messages[3].content[:3]
    assert blocks[0].opaque == Opaque("anthropic", "signature", "sig1") and blocks[0].text == "t1"
    assert blocks[1].redacted and blocks[1].opaque.value == "red"
    assert blocks[2].opaque == foreign


def test_parse_tools_choice_and_options() -> None:
    request = parse(
        body(
            {"role": "user", "content": "x"},
            tools=[
                {
                    "type": "function",
                    "function": {"name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True},
                },
                {"type": "web_search_preview"},
            ],
            tool_choice={"type": "function", "function": {"name": "f"}},
            parallel_tool_calls=False,
            max_tokens=50,
            max_completion_tokens=100,
            stop="END",
            temperature=0.5,
            top_p=1,
            seed=7,
            presence_penalty=0.1,
            frequency_penalty=0.2,
            reasoning_effort="high",
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
            },
            user="u1",
            metadata={"k": "v"},
            stream=True,
            stream_options={"include_usage": True},
            logprobs=True,
        )
    )
    function, raw = request.tools
    assert (function.name, function.description, function.strict) == ("f", "d", True)
    assert raw.raw == {"type": "web_search_preview"} and raw.raw_origin == "openai-chat"
    assert request.tool_choice.mode == "tool" and request.tool_choice.name == "f"
    assert request.parallel_tool_calls is False
    assert request.max_tokens == 100
    assert request.stop == ["END"]
    assert (request.temperature, request.top_p, request.seed) == (0.5, 1, 7)
    assert (request.presence_penalty, request.frequency_penalty) == (0.1, 0.2)
    assert request.reasoning.effort == "high"
    assert request.response_format.type == "json_schema" and request.response_format.name == "out"
    assert request.response_format.strict is True
    assert request.user == "u1" and request.metadata == {"k": "v"}
    assert request.stream and request.stream_usage
    assert "logprobs" in request.ignored


@pytest.mark.parametrize("choice", ["none", "auto", "required"])
def test_parse_tool_choice_strings(choice: str) -> None:
    assert parse(body({"role": "user", "content": "x"}, tool_choice=choice)).tool_choice.mode == choice


def test_parse_allowed_tools_choice_is_reported() -> None:
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": []}}
    request = parse(body({"role": "user", "content": "x"}, tool_choice=choice, store=True))
    assert request.tool_choice.mode == "required"
    assert request.ignored == ["tool_choice.allowed_tools.tools", "store"]


def test_parse_keeps_passthrough_and_safety_identifier() -> None:
    raw = body({"role": "user", "content": "x"}, safety_identifier="sid", some_future_field=1)
    request = parse(raw, {"OpenAI-Beta": "assistants=v2", "Authorization": "Bearer secret"})
    assert request.user == "sid"
    assert request.passthrough.api == "openai-chat"
    assert request.passthrough.body["some_future_field"] == 1
    assert request.passthrough.headers == {"openai-beta": "assistants=v2"}
    assert request.stream is False and request.stream_usage is False


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        (body({"role": "user", "content": "x"}, n=2), "n"),
        (body({"role": "user", "content": "x"}, {"role": "function", "content": "x"}), "messages[1].role"),
        (body({"role": "user"}), "messages[0].content"),
        (body({"role": "user", "content": 5}), "messages[0].content"),
        (body({"role": "user", "content": [{"type": "text"}]}), "messages[0].content[0].text"),
        (body({"role": "tool", "content": "x"}), "messages[0].tool_call_id"),
        (
            body({"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]}),
            "messages[0].tool_calls[0].function.name",
        ),
        (body({"role": "user", "content": "x"}, tool_choice="sometimes"), "tool_choice"),
        (body({"role": "user", "content": "x"}, max_tokens="many"), "max_tokens"),
        (body({"role": "user", "content": "x"}, stop=["a", 1]), "stop[1]"),
        (
            body({"role": "user", "content": "x"}, tools=[{"type": "function", "function": {}}]),
            "tools[0].function.name",
        ),
        (body({"role": "user", "content": "x"}, response_format={"type": "yaml"}), "response_format.type"),
        ({"messages": []}, "model"),
        ({"model": "m"}, "messages"),
    ],
)
def test_parse_rejects_with_param(payload: dict[str, Any], param: str) -> None:
    assert invalid(payload).param == param


def test_parse_n_message_and_body_type() -> None:
    assert "n>1 is not supported" in invalid(body({"role": "user", "content": "x"}, n=3)).message
    assert invalid([1, 2]).kind == ErrorKind.INVALID_REQUEST


def test_parse_real_opencode_requests(shared_dir) -> None:
    files = sorted((shared_dir / "clients/requests/opencode/basic-compat").glob("*.json"))
    if not files:
        pytest.skip("no opencode captures")
    for path in files:
        captured = json.loads(path.read_text())
        request = parse(captured["body"], captured["headers"])
        assert request.model.startswith("capture-")
        assert request.stream and request.stream_usage
        assert request.max_tokens == 32000
        assert len(request.system) == 1
        if captured["body"].get("tools"):
            assert request.tools and all(t.raw is None for t in request.tools)
            assert request.tool_choice is None or request.tool_choice.mode == "auto"
    last = parse(json.loads(files[-1].read_text())["body"])
    calls = [b for m in last.messages for b in m.content if isinstance(b, ToolCallBlock)]
    results = [b for m in last.messages for b in m.content if isinstance(b, ToolResultBlock)]
    assert {c.id for c in calls} == {r.tool_call_id for r in results}


def test_parse_real_aider_request(shared_dir) -> None:
    files = sorted((shared_dir / "clients/requests/aider/basic-openai").glob("*.json"))
    if not files:
        pytest.skip("no aider captures")
    for path in files:
        request = parse(json.loads(path.read_text())["body"])
        assert request.temperature == 0 and request.stream
        assert len(request.system) == 1
        assert [m.role for m in request.messages][:2] == ["user", "assistant"]


# --- render ---------------------------------------------------------------------------------


def test_render_response_text_tools_reasoning_usage() -> None:
    response = ChatResponse(
        id="msg_01",
        model="claude-x",
        content=[
            ReasoningBlock(text="think", opaque=Opaque("anthropic", "signature", "SIG")),
            TextBlock(text="Hello "),
            TextBlock(text="world"),
            ToolCallBlock(id="toolu_1", name="f", arguments='{"x":1}'),
        ],
        stop_reason=StopReason.TOOL_USE,
        usage=USAGE,
    )
    out = PROTOCOL.render_response(response, ChatRequest(model="public", messages=[]))
    assert out["id"] == "chatcmpl-msg_01" and out["model"] == "public" and out["object"] == "chat.completion"
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == "Hello world"
    assert message["reasoning_content"] == "think"
    assert message["thinking_blocks"] == [{"type": "thinking", "thinking": "think", "signature": "SIG"}]
    assert message["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
    ]
    usage = out["usage"]
    assert usage["prompt_tokens"] == 115 and usage["completion_tokens"] == 20 and usage["total_tokens"] == 135
    assert usage["prompt_tokens_details"]["cached_tokens"] == 100
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 7
    # The SDK's own model accepts it.
    parsed = openai.types.chat.ChatCompletion.model_validate(out)
    assert parsed.choices[0].message.tool_calls[0].function.name == "f"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        (StopReason.END_TURN, "stop"),
        (StopReason.STOP_SEQUENCE, "stop"),
        (StopReason.MAX_TOKENS, "length"),
        (StopReason.REFUSAL, "content_filter"),
        (StopReason.PAUSE_TURN, "stop"),
        (StopReason.TOOL_USE, "stop"),  # no tool call in the content
    ],
)
def test_render_finish_reason(stop: StopReason, finish: str) -> None:
    response = ChatResponse(id="chatcmpl-1", model="m", content=[TextBlock(text="x")], stop_reason=stop)
    out = PROTOCOL.render_response(response, ChatRequest(model="m", messages=[]))
    assert out["id"] == "chatcmpl-1"
    assert out["choices"][0]["finish_reason"] == finish


def test_render_error_shapes() -> None:
    status, payload = PROTOCOL.render_error(GatewayError.invalid("messages[1].role: bad", "messages[1].role"))
    assert status == 400
    assert payload == {
        "error": {
            "message": "messages[1].role: bad",
            "type": "invalid_request_error",
            "param": "messages[1].role",
            "code": None,
        }
    }
    status, payload = PROTOCOL.render_error(GatewayError(ErrorKind.QUOTA, "pay up"))
    assert status == 429 and payload["error"]["code"] == "insufficient_quota"
    status, payload = PROTOCOL.render_error(GatewayError(ErrorKind.RATE_LIMIT, "slow"))
    assert status == 429 and payload["error"]["code"] == "rate_limit_exceeded"


# --- stream encoder judged by the SDK -------------------------------------------------------


def test_stream_text_with_usage_sdk() -> None:
    sse = encode(text_events("Hel", "lo"))
    completion = final_completion(sse)
    assert completion.id == "chatcmpl-abc" and completion.model == "public-model"
    message = completion.choices[0].message
    assert message.content == "Hello" and message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 115 and completion.usage.completion_tokens == 20
    assert completion.usage.prompt_tokens_details.cached_tokens == 100
    frames = data_frames(sse)
    assert frames[-1] == "[DONE]"
    assert frames[-2]["choices"] == [] and frames[-3]["choices"][0]["finish_reason"] == "stop"
    assert all(f["object"] == "chat.completion.chunk" for f in frames[:-1])


def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    frames = data_frames(encode(text_events("x"), stream_usage=False))
    assert all(f == "[DONE]" or f["choices"] for f in frames)


def test_stream_parallel_tool_calls_sdk() -> None:
    sse = encode(tool_events())
    completion = final_completion(sse)
    message = completion.choices[0].message
    assert message.content == "Checking."
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("toolu_1", "get_weather", '{"city":"Paris"}'),
        ("toolu_2", "get_time", '{"tz":"CET"}'),
    ]
    assert completion.choices[0].finish_reason == "tool_calls"
    tool_deltas = [d for f in data_frames(sse)[:-1] for c in f["choices"] for d in c["delta"].get("tool_calls", [])]
    assert [d["index"] for d in tool_deltas] == [0, 0, 0, 1, 1]
    assert [("id" in d, "name" in d["function"]) for d in tool_deltas] == [(True, True)] + [(False, False)] * 2 + [
        (True, True),
        (False, False),
    ]


def test_stream_plain_create_iteration() -> None:
    client = sdk(encode(tool_events()))
    chunks = list(client.chat.completions.create(model="m", messages=[], stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage.total_tokens == 135


def test_stream_reasoning_and_signature_sdk() -> None:
    sig = Opaque("anthropic", "signature", "SIG")
    events: list[Event] = [
        ResponseStart(id="r1", model="u"),
        BlockStart(0, ReasoningBlock()),
        BlockDelta(0, ReasoningDelta("step 1")),
        BlockDelta(0, SignatureDelta(sig)),
        BlockStop(0),
        BlockStart(1, ReasoningBlock(opaque=Opaque("anthropic", "redacted", "RED"))),
        BlockStop(1),
        BlockStart(2, ReasoningBlock()),
        BlockDelta(2, ReasoningDelta("step 2")),
        BlockStop(2),
        BlockStart(3, TextBlock(text="")),
        BlockDelta(3, TextDelta("answer")),
        BlockStop(3),
        ResponseDelta(stop_reason=StopReason.END_TURN, usage=USAGE),
        ResponseStop(),
    ]
    completion = final_completion(encode(events))
    message = completion.choices[0].message
    assert message.content == "answer"
    extra = message.model_extra or {}
    assert extra["reasoning_content"] == "step 1\n\nstep 2"
    assert [tb["type"] for tb in extra["thinking_blocks"]] == ["thinking", "redacted_thinking"]
    assert extra["thinking_blocks"][0]["signature"] == "SIG" and extra["thinking_blocks"][0]["thinking"] == "step 1"
    # What the client sends back parses to the same reasoning blocks.
    back = parse(body({"role": "user", "content": "q"}, {"role": "assistant", "content": "answer", **extra}))
    blocks = back.messages[1].content
    assert blocks[0].opaque == sig and blocks[0].text == "step 1" and blocks[1].redacted


def test_stream_mid_stream_error_raises_in_sdk() -> None:
    events: list[Event] = [
        ResponseStart(id="e1", model="u"),
        BlockStart(0, TextBlock(text="")),
        BlockDelta(0, TextDelta("partial")),
        StreamError(GatewayError(ErrorKind.OVERLOADED, "upstream overloaded")),
    ]
    request = ChatRequest(model="m", messages=[], stream=True, stream_usage=True)
    encoder = PROTOCOL.stream_encoder(request)
    sse = b"".join(encoder.encode(e) for e in events)
    assert encoder.encode(ResponseStop()) == b"" and encoder.keepalive() == b""
    frames = data_frames(sse)
    assert frames[-1] == {
        "error": {
            "message": "upstream overloaded",
            "type": "server_error",
            "param": None,
            "code": "server_is_overloaded",
        }
    }
    with pytest.raises(openai.APIError, match="upstream overloaded"):
        final_completion(sse)
    with pytest.raises(openai.APIError):
        list(sdk(sse).chat.completions.create(model="m", messages=[], stream=True))


def test_keepalive_is_a_comment() -> None:
    encoder = PROTOCOL.stream_encoder(ChatRequest(model="m", messages=[], stream=True))
    assert encoder.keepalive() == b": keepalive\n\n"
    sse = (
        encoder.encode(text_events("a")[0])
        + encoder.keepalive()
        + b"".join(encoder.encode(e) for e in text_events("a")[1:])
    )
    assert final_completion(sse).choices[0].message.content == "a"


def test_stream_max_tokens_finish_length() -> None:
    frames = data_frames(encode(text_events("cut", stop=StopReason.MAX_TOKENS)))
    finish = [c["finish_reason"] for f in frames[:-1] for c in f["choices"] if c["finish_reason"]]
    assert finish == ["length"]
    assert orjson.loads(orjson.dumps(frames[0]))["choices"][0]["delta"] == {"role": "assistant", "content": ""}
