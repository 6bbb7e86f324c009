"""AWS event-stream framing (`application/vnd.amazon.eventstream`), decoded sans-IO.

Bedrock's streaming operations answer with binary frames, not SSE: a 12-byte prelude (total
length, headers length, CRC-32 of those 8 bytes), typed headers, the payload and a CRC-32 of
everything before it. `EventStreamDecoder` takes bytes as they arrive (a frame may be split over
reads, one read may hold several frames) and checks both CRCs; a bad frame raises
`GatewayError`, which the stream reports instead of passing corrupt data on.

`InvokeDeframer` and `ConverseDeframer` turn frames into the `ServerSentEvent`s the decoders
read: InvokeModelWithResponseStream wraps each Anthropic event as base64 in `{"bytes": …}` and is
unwrapped into that very event (so an Anthropic client can be relayed it as is); ConverseStream
payloads are the event JSON, named by `:event-type`. Exception frames become an Anthropic-shaped
`error` event with the type the exception means.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from dataclasses import dataclass

import orjson

from interlink.core import ErrorKind, GatewayError
from interlink.sse import ServerSentEvent

PRELUDE = 12
MAX_HEADERS = 128 * 1024  # botocore's limits
MAX_PAYLOAD = 24 * 1024 * 1024
HeaderValue = bool | int | bytes | str
METRICS_KEY = b"amazon-bedrock-invocationMetrics"

# Exception member names in a 200 stream → the Anthropic error type of the same meaning.
EXCEPTION_TYPES = {
    "throttlingException": "rate_limit_error",
    "serviceUnavailableException": "overloaded_error",
    "modelTimeoutException": "timeout_error",
    "validationException": "invalid_request_error",
    "internalServerException": "api_error",
    "modelStreamErrorException": "api_error",
}


@dataclass(slots=True)
class Frame:
    headers: dict[str, HeaderValue]
    payload: bytes

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        return value if isinstance(value, str) else ""


def _corrupt(why: str) -> GatewayError:
    return GatewayError(ErrorKind.CONNECTION, f"the upstream sent a corrupt event-stream frame ({why})")


class EventStreamDecoder:
    """Bytes in, complete and CRC-checked frames out."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        # Every frame of a stream carries the same few header blocks: parsed once each.
        self._known: dict[bytes, dict[str, HeaderValue]] = {}

    def feed(self, chunk: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += chunk
        frames: list[Frame] = []
        start = 0
        while len(buffer) - start >= PRELUDE:
            total, headers_length, prelude_crc = struct.unpack_from(">III", buffer, start)
            if zlib.crc32(memoryview(buffer)[start : start + 8]) != prelude_crc:
                raise _corrupt("prelude CRC mismatch")
            if headers_length > MAX_HEADERS or total < PRELUDE + 4 + headers_length:
                raise _corrupt(f"lengths {total}/{headers_length}")
            if total - PRELUDE - 4 - headers_length > MAX_PAYLOAD:
                raise _corrupt(f"payload of {total} bytes")
            if len(buffer) - start < total:
                break
            end = start + total
            (message_crc,) = struct.unpack_from(">I", buffer, end - 4)
            if zlib.crc32(memoryview(buffer)[start : end - 4]) != message_crc:
                raise _corrupt("message CRC mismatch")
            body = start + PRELUDE
            raw = bytes(buffer[body : body + headers_length])
            headers = self._known.get(raw)
            if headers is None:
                headers = _headers(raw)
                if len(self._known) < 64:
                    self._known[raw] = headers
            frames.append(Frame(headers, bytes(buffer[body + headers_length : end - 4])))
            start = end
        if start:
            del buffer[:start]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of a frame not yet complete."""
        return len(self._buffer)


def _headers(data: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    i, n = 0, len(data)
    try:
        while i < n:
            name_length = data[i]
            name = data[i + 1 : i + 1 + name_length].decode()
            i += 1 + name_length
            kind = data[i]
            i += 1
            value: HeaderValue
            if kind in (0, 1):
                value = kind == 0
            elif kind in (2, 3, 4, 5, 8):
                size = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}[kind]
                value = int.from_bytes(data[i : i + size], "big", signed=True)
                i += size
            elif kind in (6, 7):
                (length,) = struct.unpack_from(">H", data, i)
                raw = data[i + 2 : i + 2 + length]
                value = raw.decode() if kind == 7 else raw
                i += 2 + length
            elif kind == 9:
                value, i = data[i : i + 16], i + 16
            else:
                raise _corrupt(f"header type {kind}")
            if name in headers:
                raise _corrupt(f"duplicate header {name}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError):
        raise _corrupt("headers cut short") from None
    if i != n:
        raise _corrupt("headers overrun")
    return headers


def error_event(error_type: str, message: str) -> ServerSentEvent:
    payload = {"type": "error", "error": {"type": error_type, "message": message}}
    return ServerSentEvent(data=orjson.dumps(payload).decode(), event="error")


def exception_event(frame: Frame) -> ServerSentEvent:
    """An `exception` or `error` frame as the Anthropic error event it means."""
    if frame.header(":message-type") == "error":
        code = frame.header(":error-code") or "InternalFailure"
        return error_event("api_error", f"{code}: {frame.header(':error-message') or 'stream error'}")
    name = frame.header(":exception-type")
    try:
        payload = orjson.loads(frame.payload) if frame.payload else {}
    except orjson.JSONDecodeError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    message = payload.get("message") or payload.get("Message") or name
    original = payload.get("originalMessage")
    if original:
        message = f"{message} ({original})"
    text = f"{name[:1].upper()}{name[1:]}: {message}" if name else str(message)
    return error_event(EXCEPTION_TYPES.get(name, "api_error"), text)


def _leading_type(inner: bytes) -> str | None:
    """The event name of `{"type":"content_block_delta",...}` without parsing the JSON."""
    if not inner.startswith(b'{"type":"'):
        return None
    end = inner.find(b'"', 9)
    return inner[9:end].decode() if end > 9 else None


class _Deframer:
    def __init__(self) -> None:
        self._frames = EventStreamDecoder()

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        for frame in self._frames.feed(chunk):
            if frame.header(":message-type") == "event":
                event = self._event(frame)
                if event is not None:
                    events.append(event)
            else:
                events.append(exception_event(frame))
        return events

    def flush(self) -> list[ServerSentEvent]:
        if self._frames.pending:
            raise GatewayError(ErrorKind.CONNECTION, "the upstream stream ended in the middle of an event-stream frame")
        return []

    def _event(self, frame: Frame) -> ServerSentEvent | None:
        raise NotImplementedError


class InvokeDeframer(_Deframer):
    """InvokeModelWithResponseStream: each `chunk` event unwrapped into its Anthropic event."""

    def _event(self, frame: Frame) -> ServerSentEvent | None:
        if frame.header(":event-type") != "chunk":
            return None  # event types added after this code: nothing a client needs
        try:
            part = orjson.loads(frame.payload)
            inner = base64.b64decode(part["bytes"], validate=True)
        except (orjson.JSONDecodeError, binascii.Error, KeyError, TypeError, ValueError):
            raise _corrupt("a chunk that is not base64 JSON") from None
        name = _leading_type(inner)
        if name is None or METRICS_KEY in inner:
            try:
                event = orjson.loads(inner)
            except orjson.JSONDecodeError:
                raise _corrupt("a chunk that is not JSON") from None
            if not isinstance(event, dict):
                raise _corrupt("a chunk that is not a JSON object")
            if event.pop(METRICS_KEY.decode(), None) is not None:
                # Bedrock's own billing metrics ride on message_stop; Anthropic clients reject unknown keys.
                inner = orjson.dumps(event)
            name = str(event.get("type") or "message")
        # The event's JSON is parsed once, by the anthropic decoder that reads this event.
        return ServerSentEvent(data=inner.decode(), event=name)


class ConverseDeframer(_Deframer):
    """ConverseStream: the payload is the event itself, named by `:event-type`."""

    def _event(self, frame: Frame) -> ServerSentEvent | None:
        return ServerSentEvent(data=frame.payload.decode("utf-8", errors="replace"), event=frame.header(":event-type"))
