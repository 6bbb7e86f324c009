"""Relaying an upstream stream to the client: encode, keep alive, end correctly.

Every stream the gateway starts ends with the client API's terminal event: the upstream's own,
or, when the upstream fails or goes silent after the first byte, the API's error event. While
the upstream is silent the client gets keepalives. Same-API streams are relayed event for event
as the upstream sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, cast

from starlette.responses import Response

from interlink.core import ErrorKind, Event, GatewayError, ResponseDelta, StreamError, Usage
from interlink.protocols import StreamEncoder
from interlink.repair.reasoning_store import StreamObserver
from interlink.routing.dispatch import StreamItem
from interlink.sse import ServerSentEvent

log = logging.getLogger("interlink.stream")


# Markers the relay's queue carries besides upstream items.
END, STOP, TOTAL, KEEPALIVE = object(), object(), object(), object()
COALESCE_BYTES = 64 * 1024
"""Queued events are joined into one write up to this size."""


class StreamStats:
    """What the relay saw, for the request's log line and usage record."""

    def __init__(self, observer: StreamObserver | None = None) -> None:
        self.observer = observer
        self.usage: Usage | None = None
        self.error: GatewayError | None = None
        self.completed = False
        self.disconnected = False

    def observe(self, event: Event) -> None:
        if self.observer is not None:
            self.observer.feed(event)
        if isinstance(event, ResponseDelta) and event.usage is not None:
            self.usage = event.usage
        elif isinstance(event, StreamError):
            self.error = event.error


class FirstItem:
    """The first upstream item, fetched before the response headers are sent (so that a quick
    failure still gets a real HTTP status) and handed to the relay with the rest."""

    def __init__(self, items: AsyncGenerator[StreamItem, None]) -> None:
        self.items = items
        self.task: asyncio.Future[StreamItem] = asyncio.ensure_future(items.__anext__())

    async def wait(self, seconds: float) -> bool:
        """True when the first item (or its error) is in within `seconds`."""
        done, _ = await asyncio.wait({self.task}, timeout=seconds)
        return bool(done)

    async def cancel(self) -> None:
        """Stop the upstream request (the client left before the stream began)."""
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        with contextlib.suppress(Exception):
            await self.items.aclose()


class Relay:
    """One client stream. Iterating it yields the bytes for the client; `close()` releases
    everything (upstream connection, counters, log line) exactly once, whether the stream
    finished, failed, or the client left before it even began."""

    def __init__(
        self,
        first: FirstItem,
        encoder: StreamEncoder,
        *,
        keepalive_seconds: float,
        total_seconds: float,
        stats: StreamStats,
        stopping: asyncio.Event,
        on_done: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.first = first
        self.items = first.items
        self.encoder = encoder
        self.keepalive_seconds = keepalive_seconds
        self.total_seconds = total_seconds
        self.stats = stats
        self.stopping = stopping
        self.on_done = on_done
        self.closed = False
        self.held_raw: list[bytes] = []
        # One reader task per stream fills a queue; the writer drains it. No task or wait set per
        # chunk (that cost ~50 µs a chunk), and a timer only while the queue is empty. The queue
        # is short: buffered upstream data never makes the reader wait, so an unbounded one let
        # it decode a whole burst before the client got its first byte. Eight lets the writer
        # send a burst in one write (measured, 200 chunks at c1: total 14.0 -> 8.5 ms, CPU per
        # stream -14%, first byte unchanged) while the first byte still waits for at most 8.
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=8)
        self.reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        """Upstream items into the queue, then END; an error, StopAsyncIteration or the server's
        drain deadline goes in as what it is."""
        put = self.queue.put
        try:
            await put(await self.first.task)
            async for item in self.items:
                await put(item)
            await put(END)
        except StopAsyncIteration:
            await put(END)
        except GatewayError as error:
            await put(error)

    async def _watch_stop(self) -> None:
        await self.stopping.wait()
        self.queue.put_nowait(STOP)

    async def _next(self, deadline: float) -> object:
        try:
            return self.queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        try:
            async with asyncio.timeout(min(self.keepalive_seconds, max(deadline - time.monotonic(), 0))):
                return await self.queue.get()
        except TimeoutError:
            return TOTAL if time.monotonic() >= deadline else KEEPALIVE

    async def __aiter__(self) -> AsyncIterator[bytes]:
        deadline = time.monotonic() + self.total_seconds
        self.reader = asyncio.create_task(self._read())
        stop_watch = asyncio.create_task(self._watch_stop())
        try:
            pending: object = None
            while True:
                item, pending = (pending, None) if pending is not None else (await self._next(deadline), None)
                if item is KEEPALIVE:
                    yield self.encoder.keepalive()
                    continue
                if item is END:
                    break
                if item is STOP:
                    yield self._fail(
                        GatewayError(ErrorKind.UNAVAILABLE, "the gateway is shutting down; retry the request")
                    )
                    break
                if item is TOTAL:
                    yield self._fail(
                        GatewayError(ErrorKind.TIMEOUT, f"the response took longer than {self.total_seconds:g} s")
                    )
                    break
                out = self._encode_item(item)
                # What is already queued goes out in the same write: one send per burst of
                # upstream events rather than one per event.
                while self.stats.error is None and len(out) < COALESCE_BYTES:
                    try:
                        queued = self.queue.get_nowait()
                    except asyncio.QueueEmpty:
                        break
                    if queued is END or queued is STOP:
                        pending = queued
                        break
                    out += self._encode_item(queued)
                if out:
                    yield out
                if self.stats.error is not None:
                    break
            self.stats.completed = True
            if self.stats.error is None and self.stats.observer is not None:
                await self.stats.observer.commit()
        finally:
            stop_watch.cancel()
            await self.close()

    def _encode_item(self, item: object) -> bytes:
        if isinstance(item, GatewayError):
            return self._encode(None, [StreamError(item)])
        raw, events = cast("StreamItem", item)
        return self._encode(raw, events)

    def _fail(self, error: GatewayError) -> bytes:
        return self._encode(None, [StreamError(error)])

    def _encode(self, raw: ServerSentEvent | None, events: list[Event]) -> bytes:
        """The encoder sees every event, so it can always close the stream correctly; for a
        same-API stream the upstream's own bytes go out instead of the encoder's, held back
        while the encoder holds back a block (see `holding`)."""
        # An event that ends the stream in error is always the gateway's own, well-formed one: the
        # upstream's bytes may be what broke (malformed JSON), and the client must be able to read it.
        failed = any(isinstance(event, StreamError) for event in events)
        relayed = raw is not None and not failed
        encoder = self.encoder
        encoder.quiet = relayed  # the upstream's bytes go out: state only, no frames
        try:
            parts = []
            for event in events:
                self.stats.observe(event)
                parts.append(encoder.encode(event))
        finally:
            encoder.quiet = False
        if raw is None or not relayed:
            self.held_raw.clear()
            return b"".join(parts)
        self.held_raw.append(encoder.passthrough(raw))
        if encoder.holding:
            return b""
        out = b"".join(self.held_raw)
        self.held_raw.clear()
        return out

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in (self.reader, self.first.task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task
        await self.items.aclose()
        if not self.stats.completed:
            self.stats.disconnected = True
            log.info("client disconnected; upstream request cancelled")
        if self.on_done is not None:
            # the record must be written even when the client left and this task is being cancelled
            await asyncio.shield(self.on_done())


class RelayResponse(Response):
    """A relay as an ASGI response. It closes its relay even when the body never started (the
    client left while the headers were on their way), so no upstream request outlives its client.

    Starlette's `StreamingResponse` watches for the client leaving with an AnyIO task group per
    stream; a plain task that cancels the writer does the same for less (uvicorn's `send` to a
    client that left returns silently, so the watch is the only way to notice)."""

    def __init__(self, relay: Relay, *, media_type: str, headers: dict[str, str]) -> None:
        self.relay = relay
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        writer = asyncio.current_task()
        streaming = True

        def client_left(watch: asyncio.Future[None]) -> None:
            if streaming and not watch.cancelled() and writer is not None:
                writer.cancel()

        watch = asyncio.ensure_future(_disconnect(receive))
        watch.add_done_callback(client_left)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in self.relay:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            streaming = False
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            # Cancelled by the watch: the client left, which ends this response, not the server.
            if not watch.done() or watch.cancelled() or writer is None:
                raise
            writer.uncancel()
        finally:
            streaming = False
            watch.cancel()
            await self.relay.close()


async def _disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
