"""Opt-in continuation (`resume: true` on a model): a text answer that breaks mid-stream is
picked up where it stopped, in the same client stream.

The gateway re-asks the upstream with the text already sent as an assistant prefill and splices
the new stream in: its start is dropped, its first text block continues the open one, later
blocks are renumbered. Only plain text is resumed — never a tool call's JSON (a half-sent
argument string cannot be continued safely) nor a turn with thinking (prefill and thinking
exclude each other) — and only on upstreams that accept prefill.
"""

from __future__ import annotations

from dataclasses import replace

from interlink.core import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    Event,
    Message,
    ResponseStart,
    StreamError,
    TextBlock,
    TextDelta,
)


class Continuation:
    """Watches a committed stream; says whether a failure can be resumed and splices the retry."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.resumable = True
        self.open_index: int | None = None
        self.next_index = 0
        self.resumes = 0
        self._skip_start = False
        self._offset = 0
        self._first_new: int | None = None
        self._trimmed = ""
        """Whitespace cut off the prefill; the model repeats it, the client already has it."""

    def observe(self, event: Event) -> None:
        match event:
            case BlockStart(index=index, block=block):
                self.next_index = index + 1
                if isinstance(block, TextBlock):
                    self.open_index = index
                else:
                    self.resumable = False
            case BlockDelta(delta=TextDelta(text=text)):
                self.text.append(text)
            case BlockStop():
                self.open_index = None

    def can_resume(self, error: StreamError) -> bool:
        return self.resumable and error.error.retryable and "".join(self.text).strip() != "" and self.resumes < 3

    def request(self, original: ChatRequest) -> ChatRequest:
        """The original request plus the text sent so far as the assistant's prefill (Anthropic
        rejects a prefill ending in whitespace, so that is trimmed)."""
        self.resumes += 1
        self._skip_start = self.open_index is not None
        self._first_new = None
        sent = "".join(self.text)
        self._trimmed = sent[len(sent.rstrip()) :]
        prefill = Message("assistant", [TextBlock(sent.rstrip())])
        return replace(original, messages=[*original.messages, prefill], passthrough=None)

    def _dedupe_whitespace(self, text: str) -> str:
        """The continuation's leading whitespace, up to what the prefill lost, is dropped once."""
        cut = min(len(text) - len(text.lstrip()), len(self._trimmed))
        self._trimmed = "" if text.strip() else self._trimmed[cut:]
        return text[cut:]

    def splice(self, events: list[Event]) -> list[Event]:
        """The retried stream's events, renumbered to continue the client's stream."""
        out: list[Event] = []
        for event in events:
            if isinstance(event, ResponseStart):
                continue
            if isinstance(event, BlockStart):
                if self._skip_start and self._first_new is None and isinstance(event.block, TextBlock):
                    self._first_new = event.index
                    self._offset = (self.open_index or 0) - event.index  # _skip_start: open_index was set
                    continue
                if self._first_new is None:
                    self._first_new = event.index
                    self._offset = self.next_index - event.index
                event = BlockStart(event.index + self._offset, event.block)
            elif isinstance(event, BlockDelta):
                delta = event.delta
                if self._trimmed and isinstance(delta, TextDelta):
                    delta = TextDelta(self._dedupe_whitespace(delta.text))
                    if not delta.text:
                        continue
                event = BlockDelta(event.index + self._offset, delta)
            elif isinstance(event, BlockStop):
                event = BlockStop(event.index + self._offset)
            out.append(event)
        return out
