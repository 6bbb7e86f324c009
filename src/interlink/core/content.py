"""Content blocks: the tagged union every message, response and stream block is made of.

Each block class carries a `type` tag so code can `match` on it. Data that only its producer can
interpret (thinking signatures, redacted thinking, encrypted reasoning) lives in `Opaque`, with the
API that produced it named, so it is returned verbatim to that API and never sent to another.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

# Upstream/client API names used as `Opaque.origin` and `RawBlock.origin`.
ApiName = Literal["anthropic", "openai-chat", "openai-responses"]


@dataclass(slots=True)
class CacheControl:
    """A prompt-cache breakpoint (Anthropic `cache_control`); other APIs cache automatically."""

    type: str = "ephemeral"
    ttl: str | None = None


@dataclass(slots=True)
class Opaque:
    """Provider data that must round-trip unchanged and is meaningless to anyone else.

    `kind` is one of: "signature" (Anthropic thinking signature), "redacted" (Anthropic
    redacted_thinking data), "encrypted_content" (Responses reasoning item), "reasoning_id"
    is carried on `ReasoningBlock.id` instead.
    """

    origin: str
    kind: str
    value: str

    _PREFIX = "interlink.v1."

    def encode(self) -> str:
        """Pack into one string, for carrying through another API's opaque slot."""
        payload = orjson.dumps({"o": self.origin, "k": self.kind, "v": self.value})
        return self._PREFIX + base64.urlsafe_b64encode(payload).decode()

    @classmethod
    def decode(cls, text: str) -> Opaque | None:
        """Inverse of `encode`; None when `text` was not produced by `encode`."""
        if not text.startswith(cls._PREFIX):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(text[len(cls._PREFIX) :]))
            return cls(origin=data["o"], kind=data["k"], value=data["v"])
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(slots=True)
class TextBlock:
    text: str
    cache: CacheControl | None = None
    citations: list[dict[str, Any]] | None = None
    type: Literal["text"] = "text"


@dataclass(slots=True)
class ImageBlock:
    """An image given inline (`data` base64 + `media_type`) or by `url`."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    detail: str | None = None
    cache: CacheControl | None = None
    type: Literal["image"] = "image"


@dataclass(slots=True)
class ToolCallBlock:
    """A call of a client-defined tool. `arguments` is the raw JSON text, kept verbatim
    so arguments a model produced as invalid JSON are not lost."""

    id: str
    name: str
    arguments: str = ""
    cache: CacheControl | None = None
    type: Literal["tool_call"] = "tool_call"

    def input(self) -> dict[str, Any]:
        """The arguments as an object; {} when empty or not a JSON object."""
        if not self.arguments.strip():
            return {}
        try:
            value = orjson.loads(self.arguments)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(slots=True)
class ToolResultBlock:
    tool_call_id: str
    content: list[TextBlock | ImageBlock] = field(default_factory=list)
    is_error: bool = False
    cache: CacheControl | None = None
    type: Literal["tool_result"] = "tool_result"

    def text(self) -> str:
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))


@dataclass(slots=True)
class ReasoningBlock:
    """Thinking / reasoning. `text` is the readable part (thinking text or summary);
    `opaque` the signature, redacted data or encrypted content; `id` the Responses item id."""

    text: str = ""
    opaque: Opaque | None = None
    id: str | None = None
    type: Literal["reasoning"] = "reasoning"

    @property
    def redacted(self) -> bool:
        return self.opaque is not None and self.opaque.kind == "redacted"


@dataclass(slots=True)
class RawBlock:
    """A block only its origin API understands (server tools, their results, new types).
    Sent back verbatim to the same API; dropped and reported for any other."""

    origin: str
    data: dict[str, Any]
    type: Literal["raw"] = "raw"


Block = TextBlock | ImageBlock | ToolCallBlock | ToolResultBlock | ReasoningBlock | RawBlock
