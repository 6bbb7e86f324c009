"""Client-facing APIs. One subpackage per API exports `PROTOCOL`, a `ClientProtocol`.

A protocol turns its wire request into a `core.ChatRequest`, and a `core.ChatResponse`, a
`core` event stream or a `core.GatewayError` back into its own wire shape. It never knows
which upstream served the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from interlink.core import ChatRequest, ChatResponse, Event, GatewayError
from interlink.sse import ServerSentEvent, encode_event


class StreamEncoder(Protocol):
    """Turns core events into this API's SSE bytes, one call per event, as they arrive."""

    quiet: bool
    """While set, `encode` keeps its state but renders nothing: the relay sends the upstream's
    own bytes of a same-API stream, and serializing frames only to drop them cost ~10% of the
    stream's CPU."""

    @property
    def holding(self) -> bool:
        """True while the encoder holds a block back (Anthropic: a block stop until what
        follows is known, a tool call until it is complete); the relay holds the upstream's own
        bytes of a same-API stream for as long."""
        ...

    def encode(self, event: Event) -> bytes:
        """Bytes for `event` (may be b""). A `StreamError` yields the API's terminal error
        frames, closing any open block first; nothing may follow it."""
        ...

    def keepalive(self) -> bytes:
        """A frame clients ignore (Anthropic `ping`, an SSE comment for OpenAI)."""
        ...

    def passthrough(self, raw: ServerSentEvent) -> bytes:
        """Bytes for an upstream event of this same API, relayed as is (same-API streams)."""
        ...


class ClientProtocol(Protocol):
    name: str
    """The API name: "anthropic", "openai-chat" or "openai-responses"."""

    def parse_request(self, body: Any, headers: Mapping[str, str]) -> ChatRequest:
        """Raises `GatewayError.invalid(message, param)` naming the offending field."""
        ...

    def render_response(self, response: ChatResponse, request: ChatRequest) -> dict[str, Any]: ...

    def stream_encoder(self, request: ChatRequest) -> StreamEncoder: ...

    def render_error(self, error: GatewayError) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON body in this API's error shape."""
        ...


class ModelRename:
    """Same-API streams are relayed as the upstream sent them, which names the upstream's model
    id; clients should see the public name they asked for. Cheap enough for every chunk: a
    substring test, and a replace only where the name occurs."""

    def __init__(self, public: str) -> None:
        self.public = public
        self._pairs: list[tuple[str, str]] = []

    def upstream(self, model: str) -> None:
        if model and model != self.public:
            quoted_public = orjson.dumps(self.public).decode()
            quoted = orjson.dumps(model).decode()
            self._pairs = [
                (f'"model":{quoted}', f'"model":{quoted_public}'),
                (f'"model": {quoted}', f'"model": {quoted_public}'),
            ]

    def apply(self, raw: ServerSentEvent) -> bytes:
        data = raw.data
        for old, new in self._pairs:
            if old in data:
                data = data.replace(old, new)
        return encode_event(data, raw.event) if data is not raw.data else raw.encode()
