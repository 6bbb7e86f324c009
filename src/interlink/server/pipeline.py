"""The request path of a model call, read straight through:

    parse → route → attempt/retry/failover → (stream guard) → render → log

Each step raises `GatewayError`; this module turns it into the client API's own error shape,
with the request id and retry hints in headers. Nothing here knows a wire format.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from interlink.core import ChatRequest, ErrorKind, GatewayError, Usage
from interlink.protocols import ClientProtocol
from interlink.routing.catalog import Catalog, Route
from interlink.routing.dispatch import Dispatcher, Outcome
from interlink.server.body import parse_request
from interlink.server.service import Service, Ticket
from interlink.server.streaming import FirstItem, Relay, RelayResponse, StreamStats

log = logging.getLogger("interlink.request")


class JSONBytesResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_ID_PREFIX = uuid.uuid4().hex[:12]
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """Unique across processes (a random prefix per process) without a syscall per request."""
    return f"req_{_ID_PREFIX}{next(_ID_COUNTER):012x}"


def error_response(
    protocol: ClientProtocol, error: GatewayError, request_id: str, outcome: Outcome | None = None
) -> Response:
    status, body = protocol.render_error(error)
    if isinstance(body.get("request_id", ""), str) and protocol.name == "anthropic":
        body["request_id"] = request_id
    headers = base_headers(request_id, outcome)
    if not error.retryable:
        headers["x-should-retry"] = "false"
    if error.retry_after is not None:
        headers["retry-after"] = str(max(int(error.retry_after + 0.999), 0))
        headers["retry-after-ms"] = str(int(error.retry_after * 1000))
    return JSONBytesResponse(body, status_code=status, headers=headers)


def base_headers(request_id: str, outcome: Outcome | None) -> dict[str, str]:
    headers = {"request-id": request_id, "x-request-id": request_id}
    if outcome is not None:
        if outcome.attempts:
            headers["interlink-attempts"] = ",".join(str(a) for a in outcome.attempts)
        if outcome.dropped:
            headers["interlink-dropped"] = ",".join(sorted(set(outcome.dropped)))
        if outcome.repairs:
            headers["interlink-repairs"] = outcome.repairs
        if outcome.clamped:
            headers["interlink-max-tokens-clamped"] = outcome.clamped
    return headers


class Pipeline:
    def __init__(
        self,
        catalog: Catalog,
        dispatcher: Dispatcher,
        service: Service,
        *,
        keepalive_seconds: float,
        stopping: asyncio.Event | None = None,
        max_streams: int = 2000,
    ) -> None:
        self.service = service
        self.catalog = catalog
        self.dispatcher = dispatcher
        self.keepalive_seconds = keepalive_seconds
        self.stopping = stopping or asyncio.Event()
        self.max_streams = max_streams

    async def handle(self, request: Request, protocol: ClientProtocol) -> Response:
        request_id = new_request_id()
        started = time.monotonic()
        chat: ChatRequest | None = None
        ticket: Ticket | None = None
        try:
            principal = await self.service.authenticate(request, "inference")
            ticket = await self.service.admit(principal, protocol.name)
            chat = await parse_request(protocol, request)
            chat.owner = principal.key_id
            await self.service.reserve(ticket, chat)
            route = self.catalog.resolve(chat.model, visible=principal.allows_model)
            self.service.check_price(principal, route)
            if chat.stream:
                return await self._stream(protocol, chat, route, request_id, started, ticket)
            response, outcome = await self.dispatcher.complete(chat, route)
            body = protocol.render_response(response, chat)
        except GatewayError as error:
            return await self._failed(protocol, error, request_id, started, chat, ticket)
        except asyncio.CancelledError:
            # The client left: its slot and reservation are given back and its row written.
            if ticket is not None:
                gone = GatewayError(ErrorKind.CONNECTION, "the client disconnected", status=499)
                await asyncio.shield(self._record_failure(gone, request_id, chat, ticket, "client_disconnected"))
            raise
        except Exception as exc:  # a gateway bug: never a bare 500, never a leaked slot or row
            log.error(
                "unexpected error in the request path",
                exc_info=exc,
                extra={"fields": {"request_id": request_id, "api": protocol.name}},
            )
            internal = GatewayError(
                ErrorKind.API_ERROR, f"internal error in the gateway (request id {request_id})", retryable=False
            )
            return await self._failed(protocol, internal, request_id, started, chat, ticket)
        headers = base_headers(request_id, outcome)
        _report_ignored(chat, headers)
        self._log(request_id, protocol, chat, started, outcome=outcome, usage=response.usage)
        await self.service.finish(
            ticket, request_id=request_id, chat=chat, status=200, outcome="ok", usage=response.usage, dispatch=outcome
        )
        return JSONBytesResponse(body, headers=headers)

    async def _failed(
        self,
        protocol: ClientProtocol,
        error: GatewayError,
        request_id: str,
        started: float,
        chat: ChatRequest | None,
        ticket: Ticket | None,
    ) -> Response:
        self._log(request_id, protocol, chat, started, outcome=error.outcome, error=error)
        if ticket is not None:
            await self._record_failure(error, request_id, chat, ticket, "error")
        return error_response(protocol, error, request_id, error.outcome)

    async def _record_failure(
        self, error: GatewayError, request_id: str, chat: ChatRequest | None, ticket: Ticket, outcome: str
    ) -> None:
        await self.service.finish(
            ticket,
            request_id=request_id,
            chat=chat,
            status=error.status,
            outcome=outcome,
            error=error,
            dispatch=error.outcome,
        )

    async def _stream(
        self,
        protocol: ClientProtocol,
        chat: ChatRequest,
        route: Route,
        request_id: str,
        started: float,
        ticket: Ticket,
    ) -> Response:
        streams = self.service.streams
        if streams.open >= self.max_streams:
            raise GatewayError(
                ErrorKind.UNAVAILABLE,
                f"this gateway is serving its limit of {self.max_streams} streams; retry shortly",
                retry_after=1.0,
            )
        streams.open += 1
        try:
            return await self._open_stream(protocol, chat, route, request_id, started, ticket)
        except BaseException:
            streams.open -= 1
            raise

    async def _open_stream(
        self,
        protocol: ClientProtocol,
        chat: ChatRequest,
        route: Route,
        request_id: str,
        started: float,
        ticket: Ticket,
    ) -> Response:
        outcome = Outcome()
        first = FirstItem(self.dispatcher.stream(chat, route, outcome))
        # Headers wait for the first upstream item only up to one keepalive interval: a quick
        # failure still gets a real HTTP status, a slow upstream gets pings instead of silence.
        try:
            error = first.task.exception() if await first.wait(self.keepalive_seconds) else None
        except BaseException:
            await first.cancel()  # the client left before the headers: so does the upstream request
            raise
        if error is not None:
            if isinstance(error, StopAsyncIteration):
                error = GatewayError(ErrorKind.CONNECTION, "the upstream stream produced nothing")
            if isinstance(error, GatewayError) and error.outcome is None:
                error.outcome = outcome
            raise error
        stats = StreamStats(self.dispatcher.store.observer(chat))
        headers = base_headers(request_id, outcome)
        _report_ignored(chat, headers)
        headers.update({"cache-control": "no-cache", "x-accel-buffering": "no"})
        self.service.metrics.stream_opened()

        async def done() -> None:
            self.service.streams.open -= 1
            self.service.metrics.stream_closed()
            self._log(request_id, protocol, chat, started, outcome=outcome, usage=stats.usage, error=stats.error)
            result = "failed_mid_stream" if stats.error else "client_disconnected" if stats.disconnected else "ok"
            await self.service.finish(
                ticket,
                request_id=request_id,
                chat=chat,
                status=200,
                outcome=result,
                usage=stats.usage,
                error=stats.error,
                dispatch=outcome,
            )

        relay = Relay(
            first,
            protocol.stream_encoder(chat),
            keepalive_seconds=self.keepalive_seconds,
            total_seconds=route.timeouts.total,
            stats=stats,
            stopping=self.stopping,
            on_done=done,
        )
        return RelayResponse(relay, media_type="text/event-stream", headers=headers)

    def _log(
        self,
        request_id: str,
        protocol: ClientProtocol,
        chat: ChatRequest | None,
        started: float,
        *,
        outcome: Outcome | None = None,
        usage: Usage | None = None,
        error: GatewayError | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "request_id": request_id,
            "api": protocol.name,
            "model": chat.model if chat else None,
            "stream": chat.stream if chat else None,
            "ms": round((time.monotonic() - started) * 1000, 1),
        }
        if outcome is not None:
            fields["attempts"] = [str(a) for a in outcome.attempts]
            if outcome.dropped:
                fields["dropped"] = outcome.dropped
            if outcome.repairs:
                fields["repairs"] = outcome.repairs
            if outcome.clamped:
                fields["max_tokens_clamped"] = outcome.clamped
        if usage is not None:
            fields["usage"] = {
                "input": usage.input_tokens,
                "output": usage.output_tokens,
                "cache_read": usage.cache_read_tokens,
                "cache_write": usage.cache_write_tokens,
            }
        if error is not None:
            fields["error"] = {"kind": error.kind.value, "status": error.status, "message": error.message}
        log.info("request", extra={"fields": fields})


def _report_ignored(chat: ChatRequest, headers: dict[str, str]) -> None:
    if chat.ignored:
        headers["interlink-ignored"] = ",".join(sorted(set(chat.ignored)))
