"""Connection-level limits uvicorn's HTTP protocol does not have, so a client that trickles,
idles or stops reading cannot hold a connection, a stream slot or an upstream request forever.

`guarded_protocol(limits)` subclasses uvicorn's httptools protocol (the one `uvicorn[standard]`
uses) and adds:
- a header timeout: the request line and headers must arrive within `header_timeout` seconds of
  the connection opening or the previous response ending (uvicorn's keep-alive timer stops at
  the first byte, so one header line every few seconds kept a connection open indefinitely);
- a header size limit: more than `max_header_bytes` before the headers end is answered 431 and
  the connection closed (httptools otherwise buffers any amount before calling back);
- a write timeout: a client that stops reading fills its socket buffer and pauses our writes; if
  it does not resume within `write_timeout` seconds the connection is aborted, which the app sees
  as a disconnect (the stream's slot and upstream request are released).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from interlink.config.settings import ConnectionLimits

log = logging.getLogger("interlink.connections")

_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def guarded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    class GuardedProtocol(_Guarded):
        header_timeout = limits.header_timeout
        max_header_bytes = limits.max_header_bytes
        write_timeout = limits.write_timeout

    return GuardedProtocol


class _HeadersTooLarge(Exception):
    """Raised from a parser callback: httptools stops and uvicorn answers (see `send_400_response`)."""


class _Guarded(HttpToolsProtocol):
    header_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024
    write_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._awaiting_headers = True
        self._received = 0  # bytes received while the headers were incomplete
        self._header_size = 0  # the request line and headers, as parsed
        self._too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows it too
        super().connection_made(transport)
        self._expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._received += len(data)
        super().data_received(data)
        # httptools buffers an unfinished header line without calling back: bound it here.
        if self._awaiting_headers and self._received > self.max_header_bytes and not self.transport.is_closing():
            self._too_large = True
            self.send_400_response("")

    def on_message_begin(self) -> None:
        self._header_size = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._header_size += size
        if self._header_size > self.max_header_bytes:
            self._too_large = True
            raise _HeadersTooLarge

    def send_400_response(self, msg: str) -> None:
        if not self._too_large:
            super().send_400_response(msg)
            return
        message = f"request headers exceed {self.max_header_bytes} bytes".encode()
        self.transport.write(_431 % (len(message), message))
        self._cancel_timers()
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._expect_headers()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.write_timeout, self._abort, "stopped reading")

    def resume_writing(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().resume_writing()

    def _expect_headers(self) -> None:
        self._awaiting_headers = True
        self._received = self._header_size = 0
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout, self._abort, "sent no complete headers")

    def _abort(self, why: str) -> None:
        self._header_timer = self._write_timer = None
        log.info("closing a connection that %s in time", why, extra={"fields": {"client": _peer(self.client)}})
        self.transport.abort()

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._write_timer = None


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "unknown"
