"""Every recorded real stream, decoded by its upstream's decoder and re-encoded for all three
client APIs, must be accepted by the official SDK accumulators with the same content.

"The same" is what the decoder produced (assembled by `core.assemble`): text, tool calls with
their arguments, reasoning text and token usage. Streams that end in an error must make the SDK
raise, never pass as a complete answer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from interlink.core import ChatRequest, Event, GatewayError, ReasoningBlock, StreamError, TextBlock, ToolCallBlock
from interlink.core.assemble import Assembler
from interlink.providers import ProviderSettings
from interlink.sse import SSEDecoder
from tests.conformance.recordings import Recording, recordings
from tests.conftest import SHARED

RECORDINGS = recordings(SHARED / "fixtures")
CLIENTS = ["anthropic", "openai_chat", "openai_responses"]
if not RECORDINGS:
    pytestmark = pytest.mark.skip(reason=f"{SHARED}/fixtures is absent: no recorded streams to replay")


@dataclass
class Content:
    text: str
    tools: list[tuple[str, Any]]
    reasoning: str
    output_tokens: int | None


def decode(recording: Recording) -> list[Event]:
    codec = importlib.import_module(f"interlink.providers.{recording.api.replace('-', '_')}").CODEC
    settings = ProviderSettings(name="recorded", kind=recording.api, base_url="http://127.0.0.1")
    decoder = codec.stream_decoder(settings=settings)
    events: list[Event] = []
    sse = SSEDecoder()
    for item in sse.feed(recording.body()) + sse.flush():
        events += decoder.feed(item)
        if any(isinstance(e, StreamError) for e in events):
            return events
    return events + decoder.close()


def expected(events: list[Event]) -> Content | GatewayError:
    assembler = Assembler()
    for event in events:
        assembler.feed(event)
    if assembler.error is not None:
        return assembler.error
    response = assembler.response()
    return Content(
        text="".join(b.text for b in response.content if isinstance(b, TextBlock)),
        tools=[(b.name, _args(b.arguments)) for b in response.content if isinstance(b, ToolCallBlock)],
        reasoning="".join(b.text for b in response.content if isinstance(b, ReasoningBlock)),
        output_tokens=response.usage.output_tokens,
    )


def encode(client: str, events: list[Event]) -> bytes:
    protocol = importlib.import_module(f"interlink.protocols.{client}").PROTOCOL
    encoder = protocol.stream_encoder(ChatRequest(model="replay", messages=[], stream=True, stream_usage=True))
    return b"".join(encoder.encode(e) for e in events)


def http_client(body: bytes) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return httpx.Client(transport=httpx.MockTransport(handler))


def through_sdk(client: str, body: bytes) -> Content:
    http = http_client(body)
    if client == "anthropic":
        sdk = anthropic.Anthropic(api_key="k", base_url="http://gw", http_client=http, max_retries=0)
        with sdk.messages.stream(model="replay", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
            m = s.get_final_message()
        return Content(
            text="".join(b.text for b in m.content if b.type == "text"),
            tools=[(b.name, b.input) for b in m.content if b.type == "tool_use"],
            reasoning="".join(b.thinking for b in m.content if b.type == "thinking"),
            output_tokens=m.usage.output_tokens,
        )
    sdk = openai.OpenAI(api_key="k", base_url="http://gw/v1", http_client=http, max_retries=0)
    if client == "openai_chat":
        try:
            with sdk.chat.completions.stream(model="replay", messages=[{"role": "user", "content": "x"}]) as s:
                c = s.get_final_completion()
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as stopped:
            c = stopped.completion  # the helper refuses to parse such answers but keeps them whole
        message = c.choices[0].message
        return Content(
            text=message.content or "",
            tools=[(t.function.name, _args(t.function.arguments)) for t in message.tool_calls or []],
            reasoning=(message.model_extra or {}).get("reasoning_content") or "",
            output_tokens=c.usage.completion_tokens if c.usage else None,
        )
    with sdk.responses.stream(model="replay", input="x") as s:
        # get_final_response() insists on response.completed; response.incomplete (max tokens,
        # content filter) is just as final, so take whichever terminal event came.
        terminal = [e.response for e in s if e.type in ("response.completed", "response.incomplete")]
    r = terminal[-1]
    return Content(
        text=r.output_text,
        tools=[(o.name, _args(o.arguments)) for o in r.output if o.type == "function_call"],
        reasoning="".join(p.text for o in r.output if o.type == "reasoning" for p in o.summary),
        output_tokens=r.usage.output_tokens if r.usage else None,
    )


def _args(text: str) -> Any:
    """Arguments as an object; a truncated JSON text stays text (SDKs parse those partially)."""
    import json

    try:
        return json.loads(text) if text else {}
    except ValueError:
        return TRUNCATED


TRUNCATED = "<truncated JSON>"


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda r: r.name)
def test_recorded_stream_survives_translation(recording: Recording, client: str) -> None:
    events = decode(recording)
    want = expected(events)
    body = encode(client, events)
    if isinstance(want, GatewayError):
        with pytest.raises((anthropic.APIError, openai.APIError, RuntimeError)):
            through_sdk(client, body)
        return
    got = through_sdk(client, body)
    assert got.text == want.text
    assert [name for name, _ in got.tools] == [name for name, _ in want.tools]
    for (_, got_args), (_, want_args) in zip(got.tools, want.tools, strict=True):
        if want_args != TRUNCATED:
            assert got_args == want_args
    assert got.reasoning == want.reasoning
    assert got.output_tokens == want.output_tokens
