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
from interlink.server.service import Service, Ticket
from interlink.server.streaming import FirstItem, Relay, RelayResponse, StreamStats

log = logging.getLogger("interlink.request")

MAX_BODY_BYTES = 32 * 1024 * 1024  # Anthropic's own limit for Messages requests
BODY_READ_SECONDS = 60.0
MAX_MESSAGES = 10_000
MAX_TOOLS = 1_000


class JSONBytesResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_ID_PREFIX = uuid.uuid4().hex[:12]
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """Unique across processes (a random prefix per process) without a syscall per request."""
    return f"req_{_ID_PREFIX}{next(_ID_COUNTER):012x}"


async def read_body(request: Request, limit: int = MAX_BODY_BYTES, timeout: float = BODY_READ_SECONDS) -> bytes:
    """The body, refused as soon as it is known to be too large, and never waited for forever
    (a client that stops sending mid-body gets a 408, and its connection is not held)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise GatewayError(
            ErrorKind.REQUEST_TOO_LARGE, f"request body of {declared} bytes exceeds the limit of {limit} bytes"
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):  # a timer, not a task: this runs on every request
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise GatewayError(ErrorKind.REQUEST_TOO_LARGE, f"request body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise GatewayError(
            ErrorKind.TIMEOUT, f"the request body did not arrive within {timeout:g} s", status=408, retryable=False
        ) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_json(request: Request) -> Any:
    body = await read_body(request)
    if not body:
        raise GatewayError.invalid("request body is empty; expected a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError.invalid(f"request body is not valid JSON: {exc}") from None


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
        self.open_streams = 0

    async def handle(self, request: Request, protocol: ClientProtocol) -> Response:
        request_id = new_request_id()
        started = time.monotonic()
        chat: ChatRequest | None = None
        ticket: Ticket | None = None
        try:
            principal = await self.service.authenticate(request, "inference")
            ticket = await self.service.admit(principal, protocol.name)
            chat = protocol.parse_request(await read_json(request), request.headers)
            check_size(chat)
            await self.service.reserve(ticket, chat)
            route = self.catalog.resolve(chat.model)
            if chat.stream:
                return await self._stream(protocol, chat, route, request_id, started, ticket)
            response, outcome = await self.dispatcher.complete(chat, route)
        except GatewayError as error:
            outcome = error.outcome
            self._log(request_id, protocol, chat, started, outcome=outcome, error=error)
            if ticket is not None:
                await self.service.finish(
                    ticket,
                    request_id=request_id,
                    chat=chat,
                    status=error.status,
                    outcome="error",
                    error=error,
                    dispatch=outcome,
                )
            return error_response(protocol, error, request_id, outcome)
        body = protocol.render_response(response, chat)
        headers = base_headers(request_id, outcome)
        _report_ignored(chat, headers)
        self._log(request_id, protocol, chat, started, outcome=outcome, usage=response.usage)
        await self.service.finish(
            ticket, request_id=request_id, chat=chat, status=200, outcome="ok", usage=response.usage, dispatch=outcome
        )
        return JSONBytesResponse(body, headers=headers)

    async def _stream(
        self,
        protocol: ClientProtocol,
        chat: ChatRequest,
        route: Route,
        request_id: str,
        started: float,
        ticket: Ticket,
    ) -> Response:
        if self.open_streams >= self.max_streams:
            raise GatewayError(
                ErrorKind.UNAVAILABLE,
                f"this gateway is serving its limit of {self.max_streams} streams; retry shortly",
                retry_after=1.0,
            )
        self.open_streams += 1
        try:
            return await self._open_stream(protocol, chat, route, request_id, started, ticket)
        except BaseException:
            self.open_streams -= 1
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
        error = first.task.exception() if await first.wait(self.keepalive_seconds) else None
        if error is not None:
            if isinstance(error, StopAsyncIteration):
                error = GatewayError(ErrorKind.CONNECTION, "the upstream stream produced nothing")
            if isinstance(error, GatewayError) and error.outcome is None:
                error.outcome = outcome
            raise error
        stats = StreamStats(self.dispatcher.store.observer())
        headers = base_headers(request_id, outcome)
        _report_ignored(chat, headers)
        headers.update({"cache-control": "no-cache", "x-accel-buffering": "no"})
        self.service.metrics.stream_opened()

        async def done() -> None:
            self.open_streams -= 1
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


def check_size(chat: ChatRequest) -> None:
    if len(chat.messages) > MAX_MESSAGES:
        raise GatewayError.invalid(f"too many messages: {len(chat.messages)} (limit {MAX_MESSAGES})", "messages")
    if len(chat.tools) > MAX_TOOLS:
        raise GatewayError.invalid(f"too many tools: {len(chat.tools)} (limit {MAX_TOOLS})", "tools")


def _report_ignored(chat: ChatRequest, headers: dict[str, str]) -> None:
    if chat.ignored:
        headers["interlink-ignored"] = ",".join(sorted(set(chat.ignored)))
