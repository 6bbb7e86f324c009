"""Stream events: what every provider decoder yields and every protocol encoder consumes.

Grammar (checked by `core.assemble.Assembler`):

    ResponseStart (BlockStart BlockDelta* BlockStop)* ResponseDelta+ ResponseStop

with `StreamError` allowed anywhere as the last event. Blocks are sequential: a decoder closes
one block before opening the next, and numbers them densely from 0 in the order they start, so
an encoder never has to reorder. `ResponseDelta.usage` is cumulative: the last one wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from interlink.core.content import Opaque, RawBlock, ReasoningBlock, TextBlock, ToolCallBlock
from interlink.core.errors import GatewayError
from interlink.core.response import StopReason, Usage


@dataclass(slots=True)
class ResponseStart:
    id: str
    model: str
    usage: Usage | None = None
    """Input counts when the upstream knows them up front (Anthropic); else None."""


@dataclass(slots=True)
class BlockStart:
    """Opens block `index`. `block` is its initial state: empty text, empty reasoning (or a
    complete redacted one), a tool call with id and name and empty arguments, or a raw block."""

    index: int
    block: TextBlock | ReasoningBlock | ToolCallBlock | RawBlock


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    text: str


@dataclass(slots=True)
class SignatureDelta:
    """The opaque part of a reasoning block (signature or encrypted content); replaces, not appends."""

    opaque: Opaque


@dataclass(slots=True)
class ToolArgsDelta:
    json: str


@dataclass(slots=True)
class BlockDelta:
    index: int
    delta: TextDelta | ReasoningDelta | SignatureDelta | ToolArgsDelta


@dataclass(slots=True)
class BlockStop:
    index: int


@dataclass(slots=True)
class ResponseDelta:
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None


@dataclass(slots=True)
class ResponseStop:
    pass


@dataclass(slots=True)
class StreamError:
    error: GatewayError


Event = ResponseStart | BlockStart | BlockDelta | BlockStop | ResponseDelta | ResponseStop | StreamError
