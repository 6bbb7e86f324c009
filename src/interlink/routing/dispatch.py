"""Running one request against a route: attempt, classify, retry, fail over.

`complete` returns a whole response. `stream` yields the upstream stream's items, retrying and
failing over until the first content event has been yielded (the commit point); after that an
upstream failure is yielded as a `StreamError` for the client, never retried. Both share one
`Attempts` loop, so retry budgets, backoff, breakers and the attempt trail behave the same.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import aiohttp

from interlink.core import (
    ChatRequest,
    ChatResponse,
    ErrorKind,
    Event,
    GatewayError,
    ReasoningConfig,
    ResponseStart,
    StreamError,
)
from interlink.core.redact import Redactor
from interlink.providers import Deframer, StreamDecoder, UpstreamRequest
from interlink.repair import Prepared, prepare
from interlink.repair.capabilities import capabilities_for
from interlink.repair.reasoning_store import ReasoningBackend, ReasoningStore, conversation_scope
from interlink.routing.breaker import Breakers
from interlink.routing.catalog import Catalog, Deployment, Route
from interlink.routing.resume import Continuation
from interlink.routing.retry import retry_delay
from interlink.routing.transport import Transport, UpstreamResponse, connection_error
from interlink.sse import ServerSentEvent

# (raw upstream SSE event to relay as is, or None; core events)
StreamItem = tuple[ServerSentEvent | None, list[Event]]
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(slots=True)
class Attempt:
    provider: str
    outcome: str
    """"ok", an upstream HTTP status, or an error kind (connection, timeout)."""

    def __str__(self) -> str:
        return f"{self.provider}:{self.outcome}"


@dataclass(slots=True)
class Outcome:
    """What a dispatch did, for headers, logs and the usage ledger."""

    attempts: list[Attempt] = field(default_factory=list)
    deployment: Deployment | None = None
    dropped: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    repairs: str = ""
    """What history repair did, e.g. "orphan_tool_call=1,trailing_assistant=1"."""
    clamped: str | None = None
    resumed: int = 0
    """How often a broken text stream was continued (`resume: true`)."""


class Attempts:
    """The attempt loop as an async iterator of (deployment, upstream request, timeout).

    The caller makes each attempt and reports it with `failed(error)` or `succeeded()`; after a
    failure the iterator waits (backoff or retry-after) and yields the next attempt, moving to
    the next deployment when one's retries are spent. Raises the final error when nothing is left.
    """

    def __init__(
        self, dispatcher: Dispatcher, request: ChatRequest, route: Route, outcome: Outcome, *, stream: bool
    ) -> None:
        self.d = dispatcher
        self.request = request
        self.route = route
        self.outcome = outcome
        self.stream = stream
        self._error: GatewayError | None = None
        self._current: Deployment | None = None
        self._recalled: ReasoningStore | None = None

    def failed(self, error: GatewayError) -> None:
        assert self._current is not None
        attribute(error, self._current, self.d.catalog.redactor)
        self._error = error
        self.outcome.attempts.append(Attempt(self._current.provider.name, _label(error)))
        if error.retryable:
            self.d.breakers.failure(_key(self._current))

    def _prepare(self, route: Route, deployment: Deployment) -> Prepared:
        config = route.config
        thinking = None
        if config is not None and config.thinking is not None:
            thinking = ReasoningConfig(
                enabled=True, budget_tokens=config.thinking.budget_tokens, effort=config.thinking.effort
            )
        return prepare(
            self.request,
            upstream_model=deployment.upstream_model,
            upstream_kind=deployment.api,
            model_overrides=route.overrides,
            thinking=thinking,
            store=self._recalled,
            auto_cache=route.auto_cache,
        )

    def succeeded(self, upstream: UpstreamRequest) -> None:
        assert self._current is not None
        self._error = None
        self.outcome.repairs = self._prepared.header()
        self.outcome.clamped = self._prepared.clamped
        self.outcome.attempts.append(Attempt(self._current.provider.name, "ok"))
        self.outcome.deployment = self._current
        self.outcome.dropped = upstream.dropped
        self.d.breakers.success(_key(self._current))

    async def __aiter__(self) -> AsyncIterator[tuple[Deployment, UpstreamRequest, float]]:
        deadline = self.outcome.started + self.route.retry.budget_seconds
        last: GatewayError | None = None
        # Reasoning the client could not carry, fetched once (one Redis round trip when shared)
        # and restored per attempt: every deployment may have other rules.
        self._recalled = await self.d.store.recall(self.request)
        for route, deployment in self.d.plan(self.route):
            self._current = deployment
            # Repairs run per deployment: a failover may reach an upstream with other rules.
            prepared = self._prepare(route, deployment)
            upstream = _built(deployment, prepared.request, self.stream)
            self._prepared = prepared
            for number in range(route.retry.attempts):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                limit = route.timeouts.first_token if self.stream else route.timeouts.total
                self._error = None
                yield deployment, upstream, min(limit, remaining)
                if self._error is None:
                    return
                last = self._error
                delay = retry_delay(last, number, route.retry, self.d.rng)
                if delay is None or number + 1 >= route.retry.attempts or time.monotonic() + delay >= deadline:
                    break
                await self.d.sleep(delay)
            if last is not None and not last.retryable and last.kind is not ErrorKind.QUOTA:
                break  # a deterministic 4xx fails the same way on every deployment
        raise _exhausted(last, self.outcome, self.route)


class Dispatcher:
    def __init__(
        self,
        catalog: Catalog,
        transport: Transport,
        *,
        sleep: Callable[[float], Any] | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        self.catalog = catalog
        self.transport = transport
        self.sleep = sleep or asyncio.sleep
        self.rng = random.Random()
        self.breakers = breakers or Breakers()
        self.store: ReasoningBackend = ReasoningStore()

    def plan(self, route: Route) -> list[tuple[Route, Deployment]]:
        """Deployments in try order: weighted shuffle of the route's, then each fallback's;
        deployments with an open breaker go last (tried only if nothing else works)."""
        if len(route.deployments) == 1 and not route.fallbacks:
            return [(route, route.deployments[0])]  # the common case, on every request
        plan: list[tuple[Route, Deployment]] = []
        for r in [route] + [self.catalog.resolve(name) for name in route.fallbacks]:
            pool = list(r.deployments)
            while pool:
                pick = self.rng.choices(pool, weights=[d.weight for d in pool])[0]
                pool.remove(pick)
                plan.append((r, pick))
        healthy = [p for p in plan if self.breakers.allow(_key(p[1]))]
        return healthy + [p for p in plan if p not in healthy]

    async def complete(self, request: ChatRequest, route: Route) -> tuple[ChatResponse, Outcome]:
        outcome = Outcome()
        attempts = Attempts(self, request, route, outcome, stream=False)
        async for deployment, upstream, timeout in attempts:
            try:
                result = await self._complete_once(deployment, upstream, timeout)
            except GatewayError as error:
                attempts.failed(error)
                continue
            attempts.succeeded(upstream)
            await self.store.keep(result.content, conversation_scope(request))
            return result, outcome
        raise AssertionError("unreachable: Attempts raises when exhausted")

    async def _complete_once(self, deployment: Deployment, upstream: UpstreamRequest, timeout: float) -> ChatResponse:
        host = deployment.provider.name
        try:
            async with asyncio.timeout(timeout):
                response = await self.transport.send(upstream)
                try:
                    body = await response.read()
                except aiohttp.ClientError as exc:
                    raise connection_error(exc, urlsplit(upstream.url).hostname) from None
                finally:
                    response.close()
        except TimeoutError:
            raise GatewayError(ErrorKind.TIMEOUT, f"no complete answer from {host} within {timeout:g} s") from None
        codec, settings = deployment.codec, deployment.provider
        if response.status >= 400:
            raise codec.map_error(
                response.status, response.headers, self.catalog.redactor.scrub_bytes(body), settings=settings
            )
        return _guarded(codec.parse_response, body, settings=settings)

    async def stream(self, request: ChatRequest, route: Route, outcome: Outcome) -> AsyncGenerator[StreamItem, None]:
        if route.config is None or not route.config.resume:
            async for item in self._stream_once(request, route, outcome):
                yield item
            return
        continuation = Continuation()
        current = request
        while True:
            async for raw, events in self._stream_once(current, route, outcome):
                if continuation.resumes:
                    raw, events = None, continuation.splice(events)
                failure = next((e for e in events if isinstance(e, StreamError)), None)
                if failure is not None and continuation.can_resume(failure) and _accepts_prefill(outcome, route):
                    kept: list[Event] = [e for e in events if not isinstance(e, StreamError)]
                    for kept_event in kept:
                        continuation.observe(kept_event)
                    if kept:
                        yield None, kept
                    break
                for event in events:
                    continuation.observe(event)
                yield raw, events
            else:
                return  # the stream ended: completed, or failed in a way that cannot be resumed
            outcome.resumed += 1
            current = continuation.request(request)

    async def _stream_once(self, request: ChatRequest, route: Route, outcome: Outcome) -> AsyncIterator[StreamItem]:
        attempts = Attempts(self, request, route, outcome, stream=True)
        async for deployment, upstream, timeout in attempts:
            try:
                response, items, buffer = await self._open_once(request, deployment, upstream, timeout)
            except GatewayError as error:
                attempts.failed(error)
                continue
            attempts.succeeded(upstream)
            outcome.first_token = time.monotonic()
            try:
                for item in buffer:
                    yield item
                async for item in items:
                    yield item
            finally:
                response.close()
            return

    async def _open_once(
        self, request: ChatRequest, deployment: Deployment, upstream: UpstreamRequest, timeout: float
    ) -> tuple[UpstreamResponse, AsyncIterator[StreamItem], list[StreamItem]]:
        codec, settings = deployment.codec, deployment.provider
        response = None
        try:
            async with asyncio.timeout(timeout):
                response = await self.transport.send(upstream)
                if response.status >= 400:
                    body = await response.read()
                    response.close()
                    raise codec.map_error(
                        response.status, response.headers, self.catalog.redactor.scrub_bytes(body), settings=settings
                    )
                relay_raw = request.passthrough is not None and request.passthrough.api == deployment.api
                decoder = codec.stream_decoder(settings=settings)
                items = _decode(response, decoder, deployment, relay_raw, self.catalog.redactor, upstream.framing)
                buffer = await _until_content(items)
        except TimeoutError:
            if response is not None:
                response.close()
            raise GatewayError(ErrorKind.TIMEOUT, f"no first token from {settings.name} within {timeout:g} s") from None
        except BaseException:
            if response is not None:
                response.close()
            raise
        return response, items, buffer


def _built(deployment: Deployment, request: ChatRequest, stream: bool) -> UpstreamRequest:
    """The upstream request; a body its format cannot hold (tool arguments nested deeper than the
    encoder allows: they arrive as a string from Chat clients) is the client's 400, not a 500."""
    try:
        return deployment.codec.build_request(
            request, upstream_model=deployment.upstream_model, settings=deployment.provider, stream=stream
        )
    except (TypeError, RecursionError) as exc:  # orjson.JSONEncodeError is a TypeError
        if isinstance(exc, RecursionError) or "Recursion limit" in str(exc):
            raise GatewayError.invalid("the request nests JSON deeper than the upstream's format allows") from None
        raise


def _guarded(decode: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A codec that trips over malformed upstream data must not take the request down with a
    500: what it could not read is a broken upstream response, retryable before commit."""
    try:
        return decode(*args, **kwargs)
    except GatewayError:
        raise
    except Exception as exc:
        raise GatewayError(
            ErrorKind.API_ERROR, f"the upstream sent a malformed response ({type(exc).__name__}: {exc})"
        ) from None


MAX_ERROR_TEXT = 1000
"""Characters of an upstream's error text a client and the log see (after secrets are scrubbed)."""


def attribute(error: GatewayError, deployment: Deployment, redactor: Redactor) -> GatewayError:
    """Name the hop that failed, once ("upstream <provider>: <what happened>"), with every
    configured secret scrubbed from the upstream's text before it is cut to length."""
    prefix = f"upstream {deployment.provider.name}: "
    error.provider = deployment.provider.name
    if not error.message.startswith(prefix):
        text = redactor.scrub(error.message)
        if len(text) > MAX_ERROR_TEXT:
            text = text[:MAX_ERROR_TEXT] + "…"
        error.message = prefix + text
    return error


def _accepts_prefill(outcome: Outcome, route: Route) -> bool:
    deployment = outcome.deployment
    if deployment is None:
        return False
    return capabilities_for(deployment.upstream_model, deployment.api, route.overrides).prefill


def _key(deployment: Deployment) -> str:
    return f"{deployment.provider.name}/{deployment.upstream_model}"


def _label(error: GatewayError) -> str:
    return str(error.upstream_status) if error.upstream_status else error.kind.value


def _exhausted(last: GatewayError | None, outcome: Outcome, route: Route) -> GatewayError:
    if last is None:
        error = GatewayError(
            ErrorKind.TIMEOUT, f"no attempt fit in the retry budget of {route.retry.budget_seconds:g} s"
        )
    elif len(outcome.attempts) <= 1:
        error = last
    else:
        elapsed = time.monotonic() - outcome.started
        trail = ", ".join(str(a) for a in outcome.attempts)
        error = GatewayError(
            last.kind,
            f"{last.message} (after {len(outcome.attempts)} attempts over {elapsed:.1f} s: {trail})",
            param=last.param,
            code=last.code,
            retryable=last.retryable,
            retry_after=last.retry_after,
            provider=last.provider,
            upstream_status=last.upstream_status,
            status=last.status,
        )
    error.outcome = outcome  # read by the pipeline for headers
    return error


async def _decode(
    response: UpstreamResponse,
    decoder: StreamDecoder,
    deployment: Deployment,
    relay_raw: bool,
    redactor: Redactor,
    framing: Callable[[], Deframer] | None = None,
) -> AsyncIterator[StreamItem]:
    """Upstream SSE → (raw, core events). A transport failure or a stream that ends without its
    terminal event becomes a `StreamError` item, so the client always gets a proper ending."""
    try:
        async for sse in response.events(deployment.idle_timeout, framing() if framing else None):
            events = _guarded(decoder.feed, sse)
            for event in events:
                if isinstance(event, StreamError):
                    attribute(event.error, deployment, redactor)
            yield (sse if relay_raw else None), events
    except GatewayError as error:
        yield None, [StreamError(attribute(error, deployment, redactor))]
        return
    events = decoder.close()
    for event in events:
        if isinstance(event, StreamError):
            attribute(event.error, deployment, redactor)
    yield None, events


async def _until_content(items: AsyncIterator[StreamItem]) -> list[StreamItem]:
    """Read until the first event past ResponseStart. An error before it is raised, so the
    caller retries; an error after it is the client's to see."""
    buffer = []
    async for raw, events in items:
        for event in events:
            if isinstance(event, StreamError):
                raise event.error
        buffer.append((raw, events))
        if any(not isinstance(e, ResponseStart) for e in events):
            return buffer
    raise GatewayError(ErrorKind.CONNECTION, "the upstream stream ended before any content")
