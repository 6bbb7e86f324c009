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
from collections.abc import AsyncIterator, Callable

from interlink.core import ErrorKind, Event, GatewayError, ResponseDelta, StreamError, Usage
from interlink.protocols import StreamEncoder
from interlink.repair.reasoning_store import StreamObserver
from interlink.routing.dispatch import StreamItem

log = logging.getLogger("interlink.stream")


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

    def __init__(self, items: AsyncIterator[StreamItem]) -> None:
        self.items = items
        self.task: asyncio.Future[StreamItem] = asyncio.ensure_future(items.__anext__())

    async def wait(self, seconds: float) -> bool:
        """True when the first item (or its error) is in within `seconds`."""
        done, _ = await asyncio.wait({self.task}, timeout=seconds)
        return bool(done)


async def relay(
    first: FirstItem,
    encoder: StreamEncoder,
    *,
    keepalive_seconds: float,
    total_seconds: float,
    stats: StreamStats,
    stopping: asyncio.Event,
    on_done: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """Bytes for the client. Cancelling the consumer (client gone) closes the upstream at once;
    `stopping` (the server's drain time is over) ends the stream with a terminal error event."""
    items, pending = first.items, first.task
    deadline = time.monotonic() + total_seconds
    stop = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(items.__anext__())
            remaining = deadline - time.monotonic()
            done, _ = await asyncio.wait({pending, stop}, timeout=min(keepalive_seconds, max(remaining, 0)), return_when=asyncio.FIRST_COMPLETED)
            if stop in done and pending not in done:
                error = GatewayError(ErrorKind.UNAVAILABLE, "the gateway is shutting down; retry the request")
                yield _encode(None, [StreamError(error)], encoder, stats)
                break
            if not done:
                if time.monotonic() >= deadline:
                    error = GatewayError(ErrorKind.TIMEOUT, f"the response took longer than {total_seconds:g} s")
                    yield _encode(None, [StreamError(error)], encoder, stats)
                    break
                yield encoder.keepalive()
                continue
            task, pending = pending, None
            try:
                raw, events = task.result()
            except StopAsyncIteration:
                break
            except GatewayError as error:
                raw, events = None, [StreamError(error)]
            out = _encode(raw, events, encoder, stats)
            if out:
                yield out
            if stats.error is not None:
                break
        stats.completed = True
        if stats.error is None and stats.observer is not None:
            stats.observer.commit()
    finally:
        stop.cancel()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pending
        await items.aclose()
        if not stats.completed:
            stats.disconnected = True
            log.info("client disconnected; upstream request cancelled")
        if on_done is not None:
            on_done()


def _encode(raw, events: list[Event], encoder: StreamEncoder, stats: StreamStats) -> bytes:  # type: ignore[no-untyped-def]
    """The encoder sees every event, so it can always close the stream correctly; for a
    same-API stream the upstream's own bytes go out instead of the encoder's."""
    parts = []
    failed = False
    for event in events:
        stats.observe(event)
        parts.append(encoder.encode(event))
        failed = failed or isinstance(event, StreamError)
    # An event that ends the stream in error is always the gateway's own, well-formed one: the
    # upstream's bytes may be what broke (malformed JSON), and the client must be able to read it.
    if raw is not None and not failed:
        return encoder.passthrough(raw)
    return b"".join(parts)
