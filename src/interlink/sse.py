"""Server-sent events wire codec: incremental bytes → events, and events → bytes.

Knows nothing of JSON or the internal model. The decoder follows the WHATWG rules that matter
for LLM APIs: lines end in LF, CRLF or CR; `:` lines are comments; a blank line ends an event;
one optional space after the colon is stripped; several `data:` lines join with LF.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ServerSentEvent:
    data: str
    event: str | None = None
    id: str | None = None

    def encode(self) -> bytes:
        return encode_event(self.data, self.event)


def encode_event(data: str | bytes, event: str | None = None) -> bytes:
    """One SSE frame. Data with newlines becomes several `data:` lines, as the spec says."""
    payload = data if isinstance(data, bytes) else data.encode()
    if b"\n" in payload:
        payload = payload.replace(b"\n", b"\ndata: ")
    if event is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


def encode_comment(text: str = "") -> bytes:
    return b": " + text.encode() + b"\n\n"


MAX_EVENT_BYTES = 32 * 1024 * 1024
"""Largest line or event the decoder holds (a Responses image arrives as one large event); a peer
that never ends its line cannot grow the gateway's memory past it."""


class SSEOverflow(ValueError):
    """An event or line longer than the decoder's limit."""


class SSEDecoder:
    """Feed raw bytes as they arrive; get back every event completed by them."""

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self._size = 0
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        # Every complete line is split off in one pass (one decode, one split) rather than one
        # line at a time, which copied the rest of the buffer per line.
        buffer = self._buffer + chunk if self._buffer else chunk
        held = b""
        if b"\r" in buffer:
            if buffer[-1:] == b"\r":  # may be the first half of a CRLF: wait for the next byte
                buffer, held = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = buffer.rfind(b"\n")
        if end == -1:
            if len(buffer) > self.max_event_bytes:
                raise SSEOverflow(f"an SSE line longer than {self.max_event_bytes} bytes")
            self._buffer = buffer + held
            return []
        self._buffer = buffer[end + 1 :] + held
        # Lines split at an ASCII byte, so no UTF-8 sequence is cut by decoding them together.
        return self._lines(buffer[:end].decode("utf-8", errors="replace").split("\n"))

    def flush(self) -> list[ServerSentEvent]:
        """End of input: a final event without its blank line still counts."""
        tail = self._buffer.decode("utf-8", errors="replace").rstrip("\r")
        self._buffer = b""
        return self._lines([tail, ""] if tail else [""])

    def _lines(self, lines: list[str]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        data, name = self._data, self._event
        for line in lines:
            if not line:  # a blank line dispatches the event, if there is one
                if data or name is not None:
                    events.append(ServerSentEvent(data="\n".join(data), event=name, id=self._id))
                    data, name = [], None
                self._size = 0
            elif line.startswith("data: "):
                data.append(line[6:])
                self._size += len(line)
                if self._size > self.max_event_bytes:
                    raise SSEOverflow(f"an SSE event longer than {self.max_event_bytes} bytes")
            elif line[0] == ":":
                self.comments += 1
            else:
                field, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
                if field == "data":
                    data.append(value)
                    self._size += len(value)
                    if self._size > self.max_event_bytes:
                        raise SSEOverflow(f"an SSE event longer than {self.max_event_bytes} bytes")
                elif field == "event":
                    name = value
                elif field == "id":
                    self._id = value
        self._data, self._event = data, name
        return events
