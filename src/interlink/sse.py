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


class SSEDecoder:
    """Feed raw bytes as they arrive; get back every event completed by them."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        self._buffer += chunk
        events: list[ServerSentEvent] = []
        while True:
            line, sep, rest = self._split_line(self._buffer)
            if not sep:
                break
            self._buffer = rest
            event = self._line(line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of input: a final event without its blank line still counts."""
        events = []
        if self._buffer:
            event = self._line(self._buffer.decode("utf-8", errors="replace"))
            self._buffer = b""
            if event is not None:
                events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    @staticmethod
    def _split_line(buffer: bytes) -> tuple[bytes, bytes, bytes]:
        lf = buffer.find(b"\n")
        cr = buffer.find(b"\r")
        if cr == -1 or (lf != -1 and lf < cr):
            return buffer.partition(b"\n")
        # A CR at the very end may be the first half of CRLF: wait for more bytes.
        if cr == len(buffer) - 1:
            return buffer, b"", b""
        if buffer[cr + 1 : cr + 2] == b"\n":
            return buffer[:cr], b"\r\n", buffer[cr + 2 :]
        return buffer[:cr], b"\r", buffer[cr + 1 :]

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            event = ServerSentEvent(data="\n".join(self._data), event=self._event, id=self._id)
            self._data, self._event = [], None
            return event
        if line.startswith(":"):
            self.comments += 1
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None
