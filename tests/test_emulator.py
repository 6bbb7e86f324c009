"""The upstream emulator speaks the real wire formats: the official SDKs are the judges.

Each API is driven stream and non-stream through `anthropic` / `openai` (their accumulators throw on
grammar mistakes), through a tool-call turn and the final turn; then thinking signatures, the
Anthropic validation rules and the fault knobs.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from interlink.testing.emulator import FAULTS, run_emulator, run_emulator_in_thread
from interlink.testing.emulator_script import arguments_for

BASH_SCHEMA = {
    "type": "object",
    "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
    "required": ["command"],
}
ANTHROPIC_TOOLS = [{"name": "bash", "description": "run", "input_schema": BASH_SCHEMA}]
CHAT_TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": BASH_SCHEMA}}]
RESPONSES_TOOLS = [{"type": "function", "name": "bash", "parameters": BASH_SCHEMA}]


@pytest.fixture
async def emu():
    async with run_emulator(port=0) as running:
        yield running


def claude(emu, **kw) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=emu.base_url, api_key="sk-test", max_retries=kw.pop("max_retries", 0), **kw
    )


def gpt(emu, **kw) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=emu.base_url + "/v1", api_key="sk-test", max_retries=kw.pop("max_retries", 0), **kw
    )


def raw(emu) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=emu.base_url, timeout=10)


# ------------------------------------------------------------------------------------ anthropic
async def test_anthropic_text_non_stream_and_stream_agree(emu):
    client = claude(emu)
    kwargs = {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi there"}]}
    plain = await client.messages.create(**kwargs)
    async with client.messages.stream(**kwargs) as stream:
        streamed = await stream.get_final_message()
    for msg in (plain, streamed):
        assert [b.type for b in msg.content] == ["text"]
        assert msg.content[0].text == "Hello from the emulator (anthropic): you said: hi there"
        assert msg.stop_reason == "end_turn" and msg.model == "claude-x"
        assert msg.usage.input_tokens == 2 and msg.usage.output_tokens == len(msg.content[0].text) // 4
        assert msg.usage.cache_read_input_tokens == 0
    assert emu.requests[-1].body["stream"] is True


async def test_anthropic_tool_turn_then_final_turn_on_beta_path(emu):
    client = claude(emu)
    messages = [{"role": "user", "content": "list files"}]
    async with client.beta.messages.stream(
        model="c", max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS, extra_query={"beta": "true"}
    ) as stream:
        first = await stream.get_final_message()
    assert emu.requests[-1].path == "/v1/messages" and emu.requests[-1].query == "beta=true"
    assert [b.type for b in first.content] == ["text", "tool_use"] and first.stop_reason == "tool_use"
    assert first.content[0].text == "I'll call bash."
    call = first.content[1]
    assert call.name == "bash" and call.input == {"command": "echo hello"} and call.id.startswith("toolu_")

    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "a.txt b.txt"}]},
    ]
    final = await client.messages.create(model="c", max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS)
    assert final.content[0].text == "Tool result received: a.txt b.txt" and final.stop_reason == "end_turn"


async def test_anthropic_stream_grammar_on_the_wire(emu):
    async with raw(emu) as http:
        r = await http.post(
            "/v1/messages",
            json={
                "model": "c",
                "max_tokens": 9,
                "stream": True,
                "tools": ANTHROPIC_TOOLS,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
    events = [line[7:] for line in r.text.splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-2:] == ["message_delta", "message_stop"]
    assert events[1:3] == ["content_block_start", "ping"]
    deltas = [json.loads(line[6:]) for line in r.text.splitlines() if '"input_json_delta"' in line]
    assert deltas[0]["delta"]["partial_json"] == "" and len(deltas) >= 3  # empty opener + 2 fragments
    assert r.headers["request-id"].startswith("req_")


async def test_anthropic_thinking_signature_is_issued_and_checked(emu):
    client = claude(emu)
    messages = [{"role": "user", "content": "think"}]
    async with client.messages.stream(
        model="c",
        max_tokens=2000,
        messages=messages,
        tools=ANTHROPIC_TOOLS,
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        first = await stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
    thinking = first.content[0]
    assert thinking.thinking == "Let me think about this." and len(thinking.signature) > 20

    history = [b.model_dump(exclude_none=True) for b in first.content]
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[2].id, "content": "ok"}]}
    strict = claude(emu, default_headers={"x-emu-strict": "anthropic"})
    ok = await strict.messages.create(
        model="c",
        max_tokens=2000,
        messages=[*messages, {"role": "assistant", "content": history}, result],
        thinking={"type": "adaptive"},
    )
    assert [b.type for b in ok.content] == ["thinking", "text"]

    history[0]["thinking"] = "edited thoughts"
    with pytest.raises(anthropic.BadRequestError) as info:
        await strict.messages.create(
            model="c", max_tokens=2000, messages=[*messages, {"role": "assistant", "content": history}, result]
        )
    assert "Invalid `signature` in `thinking` block" in info.value.message


async def test_count_tokens_and_models(emu):
    client = claude(emu)
    counted = await client.messages.count_tokens(model="c", messages=[{"role": "user", "content": "x" * 40}])
    assert counted.input_tokens == 10
    page = await client.models.list()
    assert [m.id for m in page.data] == emu.models
    oai = await gpt(emu).models.list()
    assert [m.id for m in oai.data] == emu.models and oai.data[0].object == "model"
    async with raw(emu) as http:
        assert (await http.get("/health")).json() == {"status": "ok"}


TOOL_USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}]}


def _result(tool_id: str) -> dict:
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}]}


@pytest.mark.parametrize(
    "messages, strict, expected",
    [
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": "prefill"}],
            True,
            "This model does not support assistant message prefill. The conversation must end with a user message.",
        ),
        (
            [{"role": "user", "content": "a"}, TOOL_USE, {"role": "user", "content": "no result"}],
            False,
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block "
            "must have a corresponding `tool_result` block in the next message.",
        ),
        ([{"role": "user", "content": "a"}, _result("toolu_9")], False, "unexpected `tool_use_id` found"),
        (
            [
                {"role": "user", "content": "a"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "functions.bash:0", "name": "bash", "input": {}}],
                },
                _result("functions.bash:0"),
            ],
            False,
            "String should match pattern '^[a-zA-Z0-9_-]+$'",
        ),
        ([{"role": "user", "content": [{"type": "text", "text": ""}]}], False, "text content blocks must be non-empty"),
        (
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "Zm9yZWlnbg=="}]},
                {"role": "user", "content": "b"},
            ],
            True,
            "Invalid `signature` in `thinking` block",
        ),
    ],
)
async def test_anthropic_rejections_match_the_real_api(emu, messages, strict, expected):
    headers = {"x-emu-strict": "anthropic"} if strict else {}
    async with raw(emu) as http:
        r = await http.post(
            "/v1/messages", headers=headers, json={"model": "c", "max_tokens": 10, "messages": messages}
        )
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert expected in body["error"]["message"] and body["request_id"].startswith("req_")


async def test_lenient_by_default_for_prefill_and_max_tokens_always_required(emu):
    async with raw(emu) as http:
        prefill = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
        ok = await http.post("/v1/messages", json={"model": "c", "max_tokens": 5, "messages": prefill})
        missing = await http.post("/v1/messages", json={"model": "c", "messages": prefill})
    assert ok.status_code == 200
    assert missing.status_code == 400 and missing.json()["error"]["message"] == "max_tokens: Field required"


# ---------------------------------------------------------------------------------- openai chat
async def test_chat_text_non_stream_and_stream(emu):
    client = gpt(emu)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello chat"}]
    plain = await client.chat.completions.create(model="gpt-x", messages=messages)
    async with client.chat.completions.stream(
        model="gpt-x", messages=messages, stream_options={"include_usage": True}
    ) as stream:
        streamed = await stream.get_final_completion()
    for c in (plain, streamed):
        assert c.choices[0].message.content == "Hello from the emulator (openai-chat): you said: hello chat"
        assert c.choices[0].finish_reason == "stop" and c.choices[0].message.role == "assistant"
        assert c.usage.prompt_tokens == 4 and c.usage.total_tokens == 4 + c.usage.completion_tokens


async def test_chat_tool_turn_then_final_turn(emu):
    client = gpt(emu)
    messages = [{"role": "user", "content": "run it"}]
    async with client.chat.completions.stream(model="g", messages=messages, tools=CHAT_TOOLS) as stream:
        first = await stream.get_final_completion()
    msg = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and msg.content == "I'll call bash."
    (call,) = msg.tool_calls
    assert call.id.startswith("call_") and call.function.name == "bash"
    assert json.loads(call.function.arguments) == {"command": "echo hello"}
    assert first.usage is None  # no include_usage: no usage chunk

    messages += [msg.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": "done!"}]
    final = await client.chat.completions.create(model="g", messages=messages, tools=CHAT_TOOLS)
    assert final.choices[0].message.content == "Tool result received: done!"


@pytest.mark.parametrize("model, field", [("deepseek-r", "reasoning_content"), ("my-vllm-model", "reasoning")])
async def test_chat_reasoning_field(emu, model, field):
    client = gpt(emu)
    kwargs = {"model": model, "messages": [{"role": "user", "content": "q"}], "reasoning_effort": "low"}
    plain = await client.chat.completions.create(**kwargs)
    assert getattr(plain.choices[0].message, field) == "Let me think about this."
    assert plain.usage.completion_tokens_details.reasoning_tokens == 6
    async with client.chat.completions.stream(**kwargs) as stream:
        streamed = await stream.get_final_completion()
    assert getattr(streamed.choices[0].message, field) == "Let me think about this."


async def test_chat_strict_mode_applies_anthropic_rules_in_openai_shape(emu):
    client = gpt(emu, default_headers={"x-emu-strict": "anthropic"})
    call = {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(
            model="g",
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "user", "content": "forgot the tool message"},
            ],
        )
    assert info.value.body["type"] == "invalid_request_error"
    assert "`tool_use` ids were found without `tool_result` blocks immediately after: call_1" in info.value.message
    lenient = await gpt(emu).chat.completions.create(model="g", messages=[{"role": "assistant", "content": "x"}])
    assert lenient.choices[0].finish_reason == "stop"


# -------------------------------------------------------------------------------- openai responses
async def test_responses_text_non_stream_and_stream(emu):
    client = gpt(emu)
    plain = await client.responses.create(model="r", input="hello responses", instructions="sys")
    async with client.responses.stream(model="r", input="hello responses", instructions="sys") as stream:
        streamed = await stream.get_final_response()
    for resp in (plain, streamed):
        assert resp.status == "completed" and resp.output_text.startswith("Hello from the emulator (openai-responses)")
        assert resp.usage.input_tokens == 4 and resp.usage.total_tokens == 4 + resp.usage.output_tokens


async def test_responses_tool_turn_then_final_turn_with_reasoning(emu):
    client = gpt(emu)
    kwargs = {
        "model": "r",
        "tools": RESPONSES_TOOLS,
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
    }
    async with client.responses.stream(input=[{"role": "user", "content": "go"}], **kwargs) as stream:
        types = [event.type async for event in stream]
        first = await stream.get_final_response()
    assert types[:2] == ["response.created", "response.in_progress"] and types[-1] == "response.completed"
    assert [o.type for o in first.output] == ["reasoning", "message", "function_call"]
    reasoning, _, call = first.output
    assert reasoning.summary[0].text == "Let me think about this." and reasoning.encrypted_content
    assert call.name == "bash" and json.loads(call.arguments) == {"command": "echo hello"}

    replay = [
        {"role": "user", "content": "go"},
        *[o.model_dump(exclude_none=True) for o in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "42 files"},
    ]
    strict = gpt(emu, default_headers={"x-emu-strict": "anthropic"})
    final = await strict.responses.create(input=replay, **kwargs)
    assert final.output_text == "Tool result received: 42 files"

    replay[1]["encrypted_content"] = "bm90IG91cnM="  # a token the emulator never issued
    with pytest.raises(openai.BadRequestError, match="Invalid `signature`"):
        await strict.responses.create(input=replay, **kwargs)


def test_usage_is_the_same_whichever_api_carries_the_conversation():
    with run_emulator_in_thread() as emu:
        text = "count me " * 20
        a = anthropic.Anthropic(base_url=emu.base_url, api_key="k").messages.create(
            model="c",
            max_tokens=5,
            messages=[{"role": "user", "content": text}],
            extra_headers={"x-emu-cache-read": "10"},
        )
        oai = openai.OpenAI(base_url=emu.base_url + "/v1", api_key="k")
        c = oai.chat.completions.create(model="g@cache=10", messages=[{"role": "user", "content": text}])
        r = oai.responses.create(model="r@cache=10", input=text)
    total = len(text) // 4
    assert a.usage.input_tokens + a.usage.cache_read_input_tokens == total and a.usage.cache_read_input_tokens == 10
    assert c.usage.prompt_tokens == total and c.usage.prompt_tokens_details.cached_tokens == 10
    assert r.usage.input_tokens == total and r.usage.input_tokens_details.cached_tokens == 10


def test_arguments_follow_the_schema():
    schema = {
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": ["boolean", "null"]},
            "c": {"type": "string"},
            "d": {"enum": ["x", "y"]},
        },
        "required": ["a", "b", "d"],
    }
    assert arguments_for(schema) == {"a": 1, "b": True, "d": "x"}
    first_only = {"properties": {"path": {"type": "string"}, "n": {"type": "number"}}}
    assert arguments_for(first_only) == {"path": "echo hello"}
    assert arguments_for({"type": "object"}) == {}


# ----------------------------------------------------------------------------------------- faults
async def test_429_carries_retry_after_and_the_sdk_retries(emu):
    emu.set_fault("status_429", times=1)
    started = time.monotonic()
    msg = await claude(emu, max_retries=1).messages.create(
        model="c", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    assert time.monotonic() - started >= 0.9  # the SDK slept retry-after-ms
    assert msg.content[0].text.startswith("Hello") and len(emu.model_requests()) == 2
    assert [r.fault for r in emu.requests] == ["status_429", None]

    emu.set_fault("status_429")
    with pytest.raises(openai.RateLimitError) as info:
        await gpt(emu).chat.completions.create(model="g", messages=[{"role": "user", "content": "x"}])
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["retry-after-ms"] == "1000"
    assert info.value.body["code"] == "rate_limit_exceeded"


async def test_status_529_shapes(emu):
    with pytest.raises(anthropic.OverloadedError) as info:
        await claude(emu).messages.create(
            model="c@fault=status_529", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(openai.InternalServerError) as oinfo:
        await gpt(emu).responses.create(model="r@fault=status_529", input="x")
    assert oinfo.value.status_code == 529 and oinfo.value.body["code"] == "server_is_overloaded"


async def test_in_stream_errors_raise_in_every_sdk(emu):
    for fault in ("in_stream_error_first", "in_stream_error_mid"):
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            async with claude(emu).messages.stream(
                model=f"c@fault={fault}", max_tokens=50, messages=[{"role": "user", "content": "x" * 80}]
            ) as stream:
                await stream.get_final_message()
        with pytest.raises(openai.APIError, match="Sorry about that"):
            async with gpt(emu).chat.completions.stream(
                model=f"g@fault={fault}", messages=[{"role": "user", "content": "x" * 80}]
            ) as stream:
                await stream.get_final_completion()
        with pytest.raises(openai.APIError, match="Sorry about that"):
            async with gpt(emu).responses.stream(model=f"r@fault={fault}", input="x" * 80) as stream:
                await stream.get_final_response()


async def test_stream_cut_faults_on_the_wire(emu):
    body = {"model": "c", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "y" * 80}]}
    async with raw(emu) as http:
        truncated = await http.post("/v1/messages", json=body, headers={"x-emu-fault": "truncate"})
        assert truncated.status_code == 200 and "message_stop" not in truncated.text
        assert truncated.text.count("text_delta") == 3
        malformed = await http.post("/v1/messages", json=body, headers={"x-emu-fault": "malformed_sse"})
        assert "this line is not server-sent events" in malformed.text and "message_stop" in malformed.text
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/v1/messages", json=body, headers={"x-emu-fault": "close_mid_stream"})
        half = await http.post(
            "/v1/chat/completions",
            headers={"x-emu-fault": "truncated_json"},
            json={"model": "g", "messages": [{"role": "user", "content": "z"}]},
        )
        with pytest.raises(ValueError):
            half.json()


async def test_stream_faults_on_non_stream_requests(emu):
    body = {"model": "g", "messages": [{"role": "user", "content": "q"}]}
    async with raw(emu) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/v1/chat/completions", json=body, headers={"x-emu-fault": "close_mid_stream"})
        slow = await http.post(
            "/v1/chat/completions", json=body, headers={"x-emu-fault": "stall_mid_stream", "x-emu-stall-s": "0.2"}
        )
        assert slow.json()["object"] == "chat.completion"
        overloaded = await http.post(
            "/v1/messages", json={"max_tokens": 5, **body}, headers={"x-emu-fault": "in_stream_error_mid"}
        )
        assert overloaded.status_code == 529 and overloaded.json()["error"]["type"] == "overloaded_error"
        typo = await http.post("/v1/chat/completions", json=body, headers={"x-emu-fault": "status_42"})
        assert typo.status_code == 400 and "unknown emulator fault" in typo.json()["error"]["message"]


async def test_connection_faults_and_stalls(emu):
    async with raw(emu) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/v1/responses", json={"model": "r", "input": "x"}, headers={"x-emu-fault": "refuse"})
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await http.post(
                "/v1/responses", json={"model": "r", "input": "x"}, headers={"x-emu-fault": "reset_before_headers"}
            )
        started = time.monotonic()
        ok = await http.post(
            "/v1/responses",
            json={"model": "r", "input": "x"},
            headers={"x-emu-fault": "stall_before_first_byte", "x-emu-stall-s": "0.3"},
        )
        assert ok.status_code == 200 and time.monotonic() - started >= 0.3
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                "/v1/chat/completions",
                timeout=0.3,
                headers={"x-emu-fault": "stall_mid_stream"},
                json={"model": "g", "stream": True, "messages": [{"role": "user", "content": "z" * 80}]},
            )


async def test_control_endpoints_for_out_of_process_use(emu):
    async with raw(emu) as http:
        assert (await http.post("/_emu/fault", json={"name": "status_500", "times": 1})).status_code == 200
        assert (await http.post("/_emu/fault", json={"name": "nope"})).status_code == 400
        failed = await http.post(
            "/v1/chat/completions",
            headers={"authorization": "Bearer sk-1"},
            json={"model": "g", "messages": [{"role": "user", "content": "a"}]},
        )
        assert failed.status_code == 500 and failed.json()["error"]["type"] == "server_error"
        listed = (await http.get("/_emu/requests")).json()
        assert listed[-1]["path"] == "/v1/chat/completions" and listed[-1]["headers"]["authorization"] == "Bearer sk-1"
        assert listed[-1]["body"]["messages"][0]["content"] == "a"
        await http.post("/_emu/reset")
        assert (await http.get("/_emu/requests")).json() == []
    with pytest.raises(ValueError):
        emu.set_fault("not_a_fault")
    assert "close_mid_stream" in FAULTS


async def test_delay_knob_paces_content_events(emu):
    started = time.monotonic()
    async with raw(emu) as http:
        await http.post(
            "/v1/chat/completions",
            headers={"x-emu-delay-ms": "20"},
            json={"model": "g", "stream": True, "messages": [{"role": "user", "content": "d"}]},
        )
    assert time.monotonic() - started >= 0.1  # ~7 text chunks of 8 characters


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_on_loopback():
    port = _free_port()
    src = str(Path(__file__).resolve().parent.parent / "src")
    proc = subprocess.Popen(
        [sys.executable, "-m", "interlink.testing.emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": src},
    )
    try:
        assert proc.stdout.readline().strip() == f"interlink emulator listening on http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/health").json() == {"status": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_many_concurrent_streams(emu):
    client = claude(emu)

    async def one(i: int) -> str:
        messages = [{"role": "user", "content": f"n{i}"}]
        async with client.messages.stream(model="c", max_tokens=5, messages=messages) as s:
            return (await s.get_final_message()).content[0].text

    texts = await asyncio.gather(*(one(i) for i in range(20)))
    assert texts[7].endswith("you said: n7")
