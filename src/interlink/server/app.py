"""The Starlette application: endpoints, start-up, config reload and shutdown.

`Gateway` holds everything that depends on the config (catalog, dispatcher, pipeline). A reload
(SIGHUP) builds a new set and swaps it in one assignment: requests in flight keep the objects
they started with, new ones get the new config, nothing is dropped. An invalid new config is
reported and the old one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interlink import __version__
from interlink.config import ConfigError, load_config
from interlink.config.settings import Config
from interlink.core import ErrorKind, GatewayError
from interlink.protocols import ClientProtocol
from interlink.protocols.anthropic import PROTOCOL as ANTHROPIC
from interlink.repair.reasoning_store import StoreLimits, create_store
from interlink.routing.catalog import Catalog
from interlink.routing.count import count_tokens
from interlink.routing.dispatch import Dispatcher
from interlink.routing.transport import Transport
from interlink.server.admin import admin_routes
from interlink.server.body import check_model_name, read_json
from interlink.server.openapi import openapi_document
from interlink.server.pipeline import JSONBytesResponse, Pipeline, error_response, new_request_id
from interlink.server.service import Service

log = logging.getLogger("interlink")
Endpoint = Callable[[Request], Awaitable[Response]]

# Client API → the paths it serves. A new protocol adds its package and one line here.
PROTOCOL_PATHS = {
    "anthropic": ["/v1/messages", "/messages"],
    "openai_chat": ["/v1/chat/completions", "/chat/completions"],
    "openai_responses": ["/v1/responses", "/responses"],
}


def load_protocol(package: str) -> ClientProtocol:
    return importlib.import_module(f"interlink.protocols.{package}").PROTOCOL


class Gateway:
    """The config-dependent state of a running server, swappable as a whole."""

    def __init__(self, config: Config, local: Any = None) -> None:
        self.local = local
        """The running built-in model (interlink.local), kept across config reloads."""
        self.service = Service(config)
        self.transport = Transport(connect_timeout=config.defaults.timeouts.connect)
        self.stopping = asyncio.Event()
        """Set when draining is over: open streams end with a terminal error event."""
        self.started_at = int(time.time())
        self._mode_task: asyncio.Task[None] | None = None
        limits = config.reasoning_store
        self.reasoning = create_store(
            config.redis_url, StoreLimits(limits.ttl_seconds, limits.max_entries, limits.max_entry_bytes)
        )
        """Kept reasoning (in Redis when `redis_url` is set, so every replica finds it); outlives reloads."""
        self.apply(config)

    def apply(self, config: Config) -> None:
        catalog = Catalog(config)
        dispatcher = Dispatcher(catalog, self.transport)
        previous = getattr(self, "pipeline", None)
        if previous is not None:
            # Learned state outlives a reload: breakers stay meaningful.
            dispatcher.breakers = previous.dispatcher.breakers
        dispatcher.store = self.reasoning
        self.config = config
        self.service.metrics.set_models(config.models)
        self.pipeline = Pipeline(
            catalog,
            dispatcher,
            self.service,
            keepalive_seconds=config.defaults.keepalive_seconds,
            stopping=self.stopping,
            max_streams=config.server.max_streams,
        )

    def reload(self) -> bool:
        """Re-read the config file; keep the running config when the new one is invalid."""
        source = self.config.source
        if not source or source in ("environment", "demo"):
            log.warning("config reload asked, but this server was not started from a config file")
            return False
        try:
            config = load_config(source)
        except ConfigError as error:
            log.error(
                "config reload failed; keeping the running config", extra={"fields": {"problems": error.problems}}
            )
            return False
        if self.local is not None:
            from interlink.local import add_to_config

            add_to_config(config, self.local)
        # The socket is already bound, and a reload never widens who may reach the gateway.
        running = self.config.server
        config.server.host, config.server.port, config.server.allow_open = (
            running.host,
            running.port,
            running.allow_open,
        )
        self.apply(config)
        self._mode_task = asyncio.get_running_loop().create_task(self._decide_mode(config))
        log.info("config reloaded", extra={"fields": {"config": source, "models": sorted(config.models)}})
        return True

    async def _decide_mode(self, config: Config) -> None:
        """Open or keyed again, as at start (the operator may have created the first key)."""
        try:
            await self.service.decide_mode(config)
        except Exception as exc:  # keep the running mode: a reload must never open a keyed gateway
            log.error("auth mode kept after reload: %s", exc)

    async def start(self) -> None:
        await self.service.start()

    async def close(self) -> None:
        await self.transport.close()
        await self.reasoning.close()
        await self.service.close()  # flushes the usage ledger: nothing accepted is lost


class Endpoints:
    """The HTTP handlers that are not a model call (those go to `Gateway.pipeline`)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.anthropic = ANTHROPIC
        self.openai_chat = load_protocol("openai_chat")
        self.known_methods: dict[str, list[str]] = {}

    def model_call(self, protocol: ClientProtocol) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return await self.gateway.pipeline.handle(request, protocol)

        return endpoint

    async def count_tokens(self, request: Request) -> Response:
        request_id = new_request_id()
        try:
            principal = await self.gateway.service.authenticate(request, "inference")
            chat = self.anthropic.parse_count_tokens(await read_json(request), request.headers)
            check_model_name(chat.model)
            self.gateway.service.check_model(principal, chat.model)
            chat.owner = principal.key_id  # the reasoning store's scope, as for a model call
            pipeline = self.gateway.pipeline
            route = pipeline.catalog.resolve(chat.model, visible=principal.allows_model)
            counted = await count_tokens(chat, route, pipeline.dispatcher)  # asks the upstream too
        except GatewayError as error:
            return error_response(self.anthropic, error, request_id)
        headers = {"request-id": request_id, "interlink-token-count": counted.method}
        return JSONBytesResponse(self.anthropic.render_count_tokens(counted.tokens), headers=headers)

    async def models(self, request: Request) -> Response:
        shape = self.anthropic if "anthropic-version" in request.headers else self.openai_chat
        try:
            principal = await self.gateway.service.authenticate(request, "models")
        except GatewayError as error:
            return error_response(shape, error, new_request_id())
        catalog = self.gateway.pipeline.catalog
        names = [n for n in catalog.public_models() if principal.allows_model(n)]
        data: list[dict[str, Any]]
        if shape is self.anthropic:
            # max_input_tokens / max_tokens: what Anthropic's Models API reports and Claude Code reads
            data = [
                {
                    "type": "model",
                    "id": n,
                    "display_name": n,
                    "created_at": "1970-01-01T00:00:00Z",
                    **_known({"max_input_tokens": window, "max_tokens": output}),
                }
                for n, (window, output) in ((n, catalog.limits(n)) for n in names)
            ]
            first, last = (names[0], names[-1]) if names else (None, None)
            return JSONBytesResponse({"data": data, "has_more": False, "first_id": first, "last_id": last})
        created = self.gateway.started_at
        # context_window (Codex's model info), context_length (OpenRouter's list, which OpenAI-format
        # model pickers read), max_output_tokens
        data = [
            {
                "id": n,
                "object": "model",
                "created": created,
                "owned_by": "interlink",
                **_known({"context_window": window, "context_length": window, "max_output_tokens": output}),
            }
            for n, (window, output) in ((n, catalog.limits(n)) for n in names)
        ]
        return JSONBytesResponse({"object": "list", "data": data})

    async def health(self, request: Request) -> Response:
        return JSONBytesResponse({"status": "ok", "version": __version__, "models": len(self.gateway.config.models)})

    async def ready(self, request: Request) -> Response:
        """Readiness: the database and (when configured) Redis answer. `/health` stays liveness."""
        service = self.gateway.service
        problems = {"database": await service.db.ready(), "redis": await service.limiter.ready()}
        failing = {k: v for k, v in problems.items() if v}
        checks = {k: v or "ok" for k, v in problems.items()}
        if not service.config.redis_url:
            checks["redis"] = "not used"
        body = {"status": "ok" if not failing else "unavailable", "checks": checks}
        return JSONBytesResponse(body, status_code=503 if failing else 200)

    async def root(self, request: Request) -> Response:
        return JSONBytesResponse({"name": "interlink", "version": __version__})

    async def metrics(self, request: Request) -> Response:
        body, content_type = self.gateway.service.metrics.render()
        return Response(body, media_type=content_type)

    async def openapi(self, request: Request) -> Response:
        return JSONBytesResponse(openapi_document())

    def admin_only(self, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            try:
                request.state.principal = await self.gateway.service.authenticate(request, "admin")
            except GatewayError as error:
                return error_response(self.openai_chat, error, new_request_id())
            return await endpoint(request)

        return guarded

    async def no_route(self, request: Request, exc: Exception) -> Response:
        """Unknown paths and wrong methods, in the error shape of the API the path belongs to."""
        path = request.url.path
        shape = self.anthropic if path.startswith(("/v1/messages", "/messages")) else self.openai_chat
        allowed = self.known_methods.get(path)
        if allowed:
            error = GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"{request.method} is not allowed on {path}; use {', '.join(allowed)}",
                status=405,
                code="method_not_allowed",
            )
            response = error_response(shape, error, new_request_id())
            response.headers["allow"] = ", ".join(allowed)
            return response
        return error_response(
            shape, GatewayError(ErrorKind.NOT_FOUND, f"no such endpoint: {request.method} {path}"), new_request_id()
        )

    def routes(self) -> list[Route]:
        routes = [
            Route("/", self.root, methods=["GET", "HEAD"]),
            Route("/health", self.health, methods=["GET", "HEAD"]),
            Route("/health/ready", self.ready, methods=["GET", "HEAD"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/models", self.models, methods=["GET"]),
            Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
        ]
        for package, paths in PROTOCOL_PATHS.items():
            protocol = load_protocol(package)
            routes += [Route(path, self.model_call(protocol), methods=["POST"]) for path in paths]
        service = self.gateway.service
        routes += [
            Route(r.path, self.admin_only(r.endpoint), methods=r.methods)
            for r in admin_routes(service.keys, service.ledger, service.audit)
        ]
        self.known_methods = {route.path: sorted(route.methods or ()) for route in routes}
        return routes


def _known(fields: dict[str, int | None]) -> dict[str, int]:
    return {k: v for k, v in fields.items() if v is not None}


def create_app(config: Config, *, local: Any = None) -> Starlette:
    gateway = Gateway(config, local)
    endpoints = Endpoints(gateway)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        # Everything loaded so far (modules, config, SQLAlchemy metadata) lives as long as the
        # process: moving it out of the collector's reach keeps full collections from scanning
        # it, which showed up as ~80 ms pauses in the p99 of requests in flight.
        gc.collect()
        gc.freeze()
        # A request allocates a few thousand containers, so the default threshold (700) ran a
        # young-generation collection several times per request; almost all of it is freed by
        # reference counting anyway. Measured: ~15% of the in-process CPU per request.
        gc.set_threshold(10_000, 20, 20)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, gateway.reload)
        yield
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGHUP)
        await gateway.close()

    handlers = {404: endpoints.no_route, 405: endpoints.no_route}
    app = Starlette(routes=endpoints.routes(), lifespan=lifespan, exception_handlers=handlers)
    app.state.gateway = gateway
    return app
