"""The assembler turns a well-formed event stream into a response and rejects broken grammar."""

from __future__ import annotations

import pytest

from interlink.core import (
    BlockDelta,
    BlockStart,
    BlockStop,
    GatewayError,
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
    Usage,
)
from interlink.core.assemble import assemble
from interlink.core.errors import ErrorKind


def test_assembles_reasoning_text_and_tool_call() -> None:
    sig = Opaque("anthropic", "signature", "sig==")
    response = assemble(
        [
            ResponseStart(id="m1", model="x", usage=Usage(input_tokens=5)),
            BlockStart(0, ReasoningBlock()),
            BlockDelta(0, ReasoningDelta("think")),
            BlockDelta(0, SignatureDelta(sig)),
            BlockStop(0),
            BlockStart(1, TextBlock("")),
            BlockDelta(1, TextDelta("Hel")),
            BlockDelta(1, TextDelta("lo")),
            BlockStop(1),
            BlockStart(2, ToolCallBlock(id="t1", name="bash")),
            BlockDelta(2, ToolArgsDelta('{"cmd":')),
            BlockDelta(2, ToolArgsDelta('"ls"}')),
            BlockStop(2),
            ResponseDelta(StopReason.TOOL_USE, usage=Usage(input_tokens=5, output_tokens=9)),
            ResponseStop(),
        ]
    )
    assert response.content[0] == ReasoningBlock(text="think", opaque=sig)
    assert response.content[1].text == "Hello"
    assert response.content[2].input() == {"cmd": "ls"}
    assert response.stop_reason is StopReason.TOOL_USE
    assert response.usage.output_tokens == 9


def test_overlapping_blocks_are_a_grammar_violation() -> None:
    with pytest.raises(GatewayError, match="grammar"):
        assemble([ResponseStart(id="m", model="x"), BlockStart(0, TextBlock("")), BlockStart(1, TextBlock(""))])


def test_stream_without_terminal_event_is_not_a_response() -> None:
    with pytest.raises(GatewayError) as info:
        assemble([ResponseStart(id="m", model="x"), BlockStart(0, TextBlock("")), BlockStop(0)])
    assert info.value.kind is ErrorKind.CONNECTION


def test_stream_error_is_raised() -> None:
    error = GatewayError(ErrorKind.OVERLOADED, "Overloaded")
    with pytest.raises(GatewayError, match="Overloaded"):
        assemble([ResponseStart(id="m", model="x"), StreamError(error)])


def test_opaque_encoding_round_trips_and_rejects_foreign_strings() -> None:
    original = Opaque("openai-responses", "encrypted_content", "gAAAA...==")
    assert Opaque.decode(original.encode()) == original
    assert Opaque.decode("EqQBCkYIBxgCKkD...") is None


def test_openai_usage_converts_cached_tokens_out_of_input() -> None:
    usage = Usage.from_openai(prompt_tokens=1114, completion_tokens=10, cached=1111)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.prompt_tokens) == (3, 1111, 1114)
