"""The response side of the internal model: stop reasons, usage and a complete response."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from interlink.core.content import Block


class StopReason(StrEnum):
    """Why generation ended, in Anthropic's vocabulary (the richest of the three)."""

    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_USE = "tool_use"
    PAUSE_TURN = "pause_turn"
    REFUSAL = "refusal"


@dataclass(slots=True)
class Usage:
    """Token counts. `input_tokens` EXCLUDES cache reads and writes (Anthropic's convention);
    OpenAI's prompt_tokens = input + cache_read + cache_write. `output_tokens` includes reasoning."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    @classmethod
    def from_openai(
        cls,
        prompt_tokens: int,
        completion_tokens: int,
        cached: int = 0,
        cache_write: int = 0,
        reasoning: int | None = None,
    ) -> Usage:
        """From OpenAI counts, where prompt_tokens include cached tokens."""
        return cls(
            input_tokens=max(prompt_tokens - cached - cache_write, 0),
            output_tokens=completion_tokens,
            cache_read_tokens=cached,
            cache_write_tokens=cache_write,
            reasoning_tokens=reasoning,
        )


@dataclass(slots=True)
class ChatResponse:
    id: str
    model: str
    content: list[Block] = field(default_factory=list)
    stop_reason: StopReason | None = StopReason.END_TURN
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
