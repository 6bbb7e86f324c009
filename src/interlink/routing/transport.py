"""The one place the gateway talks HTTP to upstreams (aiohttp, one pooled session).

Maps every transport failure to a `GatewayError` once, here, so no other module sees an
aiohttp exception. Pooled connections are dropped after 4 s idle: some servers close theirs
after 5 s, and reusing a connection the server is closing fails the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import yarl

from interlink.core import ErrorKind, GatewayError
from interlink.providers import Deframer, UpstreamRequest
from interlink.sse import ServerSentEvent, SSEDecoder, SSEOverflow


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    raw: aiohttp.ClientResponse

    async def read(self) -> bytes:
        return await self.raw.read()

    async def events(self, idle_timeout: float, framing: Deframer | None = None) -> AsyncIterator[ServerSentEvent]:
        """SSE events (or `framing`'s) as they arrive; raises GatewayError(TIMEOUT) after
        `idle_timeout` of silence."""
        decoder = framing or SSEDecoder()
        content = self.raw.content
        while True:
            try:
                # What is already buffered is read without a timer; `wait_for` would also cost
                # a task per read on Python 3.11.
                chunk = content.read_nowait()
                if not chunk and not content.is_eof():
                    async with asyncio.timeout(idle_timeout):
                        chunk = await content.readany()
            except TimeoutError:
                raise GatewayError(ErrorKind.TIMEOUT, f"the upstream sent nothing for {idle_timeout:g} s") from None
            except aiohttp.ClientError as exc:
                raise connection_error(exc, self.raw.url.host) from None
            if not chunk:
                break
            try:
                events = decoder.feed(chunk)
            except SSEOverflow as exc:
                raise GatewayError(ErrorKind.API_ERROR, f"the upstream sent {exc}") from None
            for event in events:
                yield event
        for event in decoder.flush():
            yield event

    def close(self) -> None:
        self.raw.close()


def connection_error(exc: BaseException, host: str | None) -> GatewayError:
    """A transport failure in words a person can act on, without library internals."""
    if isinstance(exc, aiohttp.ClientPayloadError):
        reason = "the connection closed in the middle of the response"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        reason = "the server closed the connection before answering"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        reason = f"cannot connect ({exc.os_error.strerror or 'refused'})" if exc.os_error else "cannot connect"
    elif isinstance(exc, aiohttp.ClientOSError):
        reason = f"the connection failed ({exc.strerror or 'reset'})"
    elif isinstance(exc, aiohttp.ClientResponseError):
        reason = f"the server sent an unreadable response ({exc.message})"
    else:
        reason = "the connection failed"
    return GatewayError(ErrorKind.CONNECTION, f"{host}: {reason}")


class Transport:
    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=4.0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """POST the request; returns once the status and headers are in. Callers bound the wait
        with `asyncio.timeout` (a timer, where `wait_for` would cost a task per call)."""
        session = self._get_session()
        url: str | yarl.URL = request.url
        headers = request.headers
        if request.sign is not None:
            # Signed bytes go out as signed: yarl would turn a signed `%3A` back into `:`.
            headers = {**headers, **await request.sign(request)}
            url = yarl.URL(request.url, encoded=True)
        try:
            raw = await session.post(url, data=request.body, headers=headers)
        except aiohttp.ClientError as exc:
            raise connection_error(exc, urlsplit(request.url).hostname) from None
        return UpstreamResponse(status=raw.status, headers=raw.headers, raw=raw)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
