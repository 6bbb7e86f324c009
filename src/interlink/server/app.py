"""The Starlette application: endpoints, start-up, config reload and shutdown.

`Gateway` holds everything that depends on the config (catalog, dispatcher, pipeline). A reload
(SIGHUP) builds a new set and swaps it in one assignment: requests in flight keep the objects
they started with, new ones get the new config, nothing is dropped. An invalid new config is
reported and the old one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interlink import __version__
from interlink.config import ConfigError, load_config
from interlink.config.settings import Config
from interlink.core import ErrorKind, GatewayError
from interlink.core.tokens import estimate_input_tokens
from interlink.protocols import ClientProtocol
from interlink.routing.catalog import Catalog
from interlink.routing.dispatch import Dispatcher
from interlink.routing.transport import Transport
from interlink.server.admin import admin_routes
from interlink.server.openapi import openapi_document
from interlink.server.service import Service
from interlink.server.pipeline import JSONBytesResponse, Pipeline, error_response, new_request_id, read_json

log = logging.getLogger("interlink")

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

    def __init__(self, config: Config) -> None:
        self.service = Service(config)
        self.transport = Transport(connect_timeout=config.defaults.timeouts.connect)
        self.stopping = asyncio.Event()
        """Set when draining is over: open streams end with a terminal error event."""
        self.started_at = int(time.time())
        self.apply(config)

    def apply(self, config: Config) -> None:
        catalog = Catalog(config)
        dispatcher = Dispatcher(catalog, self.transport)
        previous = getattr(self, "pipeline", None)
        if previous is not None:
            # Learned state outlives a reload: breakers and stored reasoning stay meaningful.
            dispatcher.breakers = previous.dispatcher.breakers
            dispatcher.store = previous.dispatcher.store
        self.config = config
        self.pipeline = Pipeline(
            catalog, dispatcher, self.service, keepalive_seconds=config.defaults.keepalive_seconds,
            stopping=self.stopping, max_streams=config.server.max_streams,
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
            log.error("config reload failed; keeping the running config", extra={"fields": {"problems": error.problems}})
            return False
        self.apply(config)
        log.info("config reloaded", extra={"fields": {"config": source, "models": sorted(config.models)}})
        return True

    async def start(self) -> None:
        await self.service.start()
        if not await self.service.keys.any_keys():
            log.warning("no API keys exist: the gateway is open to anyone who can reach it; create one with `interlink keys create`")

    async def close(self) -> None:
        await self.transport.close()
        await self.service.close()  # flushes the usage ledger: nothing accepted is lost


def create_app(config: Config) -> Starlette:
    gateway = Gateway(config)
    anthropic = load_protocol("anthropic")
    openai_chat = load_protocol("openai_chat")

    def model_endpoint(protocol: ClientProtocol):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> Response:
            return await gateway.pipeline.handle(request, protocol)

        return endpoint

    async def count_tokens(request: Request) -> Response:
        request_id = new_request_id()
        try:
            await gateway.service.authenticate(request, "inference")
            chat = anthropic.parse_count_tokens(await read_json(request), request.headers)
            gateway.pipeline.catalog.resolve(chat.model)
        except GatewayError as error:
            return error_response(anthropic, error, request_id)
        headers = {"request-id": request_id, "interlink-token-count": "estimated"}
        return JSONBytesResponse(anthropic.render_count_tokens(estimate_input_tokens(chat)), headers=headers)

    async def models(request: Request) -> Response:
        shape = anthropic if "anthropic-version" in request.headers else openai_chat
        try:
            principal = await gateway.service.authenticate(request, "models")
        except GatewayError as error:
            return error_response(shape, error, new_request_id())
        names = [n for n in gateway.pipeline.catalog.public_models() if principal.allows_model(n)]
        if shape is anthropic:
            data = [{"type": "model", "id": n, "display_name": n, "created_at": "1970-01-01T00:00:00Z"} for n in names]
            first, last = (names[0], names[-1]) if names else (None, None)
            return JSONBytesResponse({"data": data, "has_more": False, "first_id": first, "last_id": last})
        created = gateway.started_at
        return JSONBytesResponse(
            {"object": "list", "data": [{"id": n, "object": "model", "created": created, "owned_by": "interlink"} for n in names]}
        )

    async def health(request: Request) -> Response:
        return JSONBytesResponse({"status": "ok", "version": __version__, "models": len(gateway.config.models)})

    async def root(request: Request) -> Response:
        return JSONBytesResponse({"name": "interlink", "version": __version__})

    async def metrics(request: Request) -> Response:
        body, content_type = gateway.service.metrics.render()
        return Response(body, media_type=content_type)

    def admin_only(endpoint):  # type: ignore[no-untyped-def]
        async def guarded(request: Request) -> Response:
            try:
                await gateway.service.authenticate(request, "admin")
            except GatewayError as error:
                return error_response(openai_chat, error, new_request_id())
            return await endpoint(request)

        return guarded

    async def openapi(request: Request) -> Response:
        return JSONBytesResponse(openapi_document())

    async def no_route(request: Request, exc: Exception) -> Response:
        """Unknown paths and wrong methods, in the error shape of the API the path belongs to."""
        path = request.url.path
        shape = anthropic if path.startswith(("/v1/messages", "/messages")) else openai_chat
        allowed = known_methods.get(path)
        if allowed:
            error = GatewayError(ErrorKind.INVALID_REQUEST, f"{request.method} is not allowed on {path}; use {', '.join(allowed)}",
                                 status=405, code="method_not_allowed")
            response = error_response(shape, error, new_request_id())
            response.headers["allow"] = ", ".join(allowed)
            return response
        error = GatewayError(ErrorKind.NOT_FOUND, f"no such endpoint: {request.method} {path}")
        return error_response(shape, error, new_request_id())

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    ]
    for package, paths in PROTOCOL_PATHS.items():
        protocol = load_protocol(package)
        routes += [Route(path, model_endpoint(protocol), methods=["POST"]) for path in paths]
    service = gateway.service
    routes += [Route(r.path, admin_only(r.endpoint), methods=r.methods) for r in admin_routes(service.keys, service.ledger)]
    known_methods = {route.path: sorted(route.methods or ()) for route in routes}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, gateway.reload)
        yield
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGHUP)
        await gateway.close()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: no_route, 405: no_route})
    app.state.gateway = gateway
    return app
