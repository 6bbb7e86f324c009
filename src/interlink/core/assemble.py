"""Event stream → complete response, checking the event grammar on the way.

Used wherever a stream must become one response: a non-stream client served from a streaming
upstream, usage accounting, and tests that compare what a stream carried with what was sent.
"""

from __future__ import annotations

from interlink.core.content import Block, RawBlock, ReasoningBlock, TextBlock, ToolCallBlock
from interlink.core.errors import ErrorKind, GatewayError
from interlink.core.events import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Event,
    ReasoningDelta,
    ResponseDelta,
    ResponseStart,
    ResponseStop,
    SignatureDelta,
    StreamError,
    TextDelta,
    ToolArgsDelta,
)
from interlink.core.response import ChatResponse, StopReason, Usage


class Assembler:
    """Feed events in order; `response()` returns what they add up to.

    Raises `GatewayError(api_error)` on a grammar violation, so a broken decoder is found in
    tests rather than by a client's parser.
    """

    def __init__(self) -> None:
        self.started: ResponseStart | None = None
        self.blocks: list[Block] = []
        self.open_index: int | None = None
        self.usage = Usage()
        self.stop_reason: StopReason | None = None
        self.stop_sequence: str | None = None
        self.finished = False
        self.error: GatewayError | None = None

    def feed(self, event: Event) -> None:
        if self.finished or self.error is not None:
            self._bad(f"event after the end of the stream: {type(event).__name__}")
        match event:
            case ResponseStart():
                if self.started is not None:
                    self._bad("second ResponseStart")
                self.started = event
                if event.usage is not None:
                    self.usage = event.usage
            case BlockStart(index=index, block=block):
                self._need_start()
                if self.open_index is not None or index != len(self.blocks):
                    self._bad(f"BlockStart {index} while {self.open_index} open / {len(self.blocks)} done")
                self.blocks.append(_copy(block))
                self.open_index = index
            case BlockDelta(index=index, delta=delta):
                if index != self.open_index:
                    self._bad(f"delta for block {index}, open block is {self.open_index}")
                _apply(self.blocks[index], delta)
            case BlockStop(index=index):
                if index != self.open_index:
                    self._bad(f"stop for block {index}, open block is {self.open_index}")
                self.open_index = None
            case ResponseDelta():
                self._need_start()
                if self.open_index is not None:
                    self._bad("ResponseDelta while a block is open")
                if event.stop_reason is not None:
                    self.stop_reason = event.stop_reason
                    self.stop_sequence = event.stop_sequence
                if event.usage is not None:
                    self.usage = event.usage
            case ResponseStop():
                self._need_start()
                self.finished = True
            case StreamError(error=error):
                self.error = error

    def response(self) -> ChatResponse:
        if self.error is not None:
            raise self.error
        if not self.finished or self.started is None:
            raise GatewayError(ErrorKind.CONNECTION, "the upstream stream ended before it was complete")
        return ChatResponse(
            id=self.started.id,
            model=self.started.model,
            content=self.blocks,
            stop_reason=self.stop_reason,
            stop_sequence=self.stop_sequence,
            usage=self.usage,
        )

    def _need_start(self) -> None:
        if self.started is None:
            self._bad("event before ResponseStart")

    @staticmethod
    def _bad(message: str) -> None:
        raise GatewayError(ErrorKind.API_ERROR, f"stream grammar violation: {message}")


def _copy(block: Block) -> Block:
    match block:
        case TextBlock():
            return TextBlock(text=block.text, citations=block.citations)
        case ReasoningBlock():
            return ReasoningBlock(text=block.text, opaque=block.opaque, id=block.id)
        case ToolCallBlock():
            return ToolCallBlock(id=block.id, name=block.name, arguments=block.arguments)
        case _:
            return block


def _apply(block: Block, delta: object) -> None:
    match block, delta:
        case TextBlock(), TextDelta(text=text):
            block.text += text
        case ReasoningBlock(), ReasoningDelta(text=text):
            block.text += text
        case ReasoningBlock(), SignatureDelta(opaque=opaque):
            block.opaque = opaque
        case ToolCallBlock(), ToolArgsDelta(json=json):
            block.arguments += json
        case RawBlock(), _:
            pass
        case _:
            raise GatewayError(
                ErrorKind.API_ERROR,
                f"stream grammar violation: {type(delta).__name__} for a {block.type} block",
            )


def assemble(events: list[Event]) -> ChatResponse:
    assembler = Assembler()
    for event in events:
        assembler.feed(event)
    return assembler.response()
