"""The Starlette application: endpoints, start-up and shutdown.

Model-call endpoints hand the request to `Pipeline` with the protocol of their path; the rest
(`/v1/models`, `/health`, `HEAD /`, count_tokens) are answered here.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interlink import __version__
from interlink.config.settings import Config
from interlink.core import ErrorKind, GatewayError
from interlink.core.tokens import estimate_input_tokens
from interlink.protocols import ClientProtocol
from interlink.routing.catalog import Catalog
from interlink.routing.dispatch import Dispatcher
from interlink.routing.transport import Transport
from interlink.server.pipeline import JSONBytesResponse, Pipeline, error_response, new_request_id, read_json

# Client API → the paths it serves. A new protocol adds its package and one line here.
PROTOCOL_PATHS = {
    "anthropic": ["/v1/messages", "/messages"],
    "openai_chat": ["/v1/chat/completions", "/chat/completions"],
    "openai_responses": ["/v1/responses", "/responses"],
}


def load_protocol(package: str) -> ClientProtocol:
    return importlib.import_module(f"interlink.protocols.{package}").PROTOCOL


def create_app(config: Config) -> Starlette:
    catalog = Catalog(config)
    transport = Transport(connect_timeout=config.defaults.timeouts.connect)
    dispatcher = Dispatcher(catalog, transport)
    pipeline = Pipeline(catalog, dispatcher, keepalive_seconds=config.defaults.keepalive_seconds)
    anthropic = load_protocol("anthropic")
    openai_chat = load_protocol("openai_chat")
    started_at = int(time.time())

    def model_endpoint(protocol: ClientProtocol):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> Response:
            return await pipeline.handle(request, protocol)

        return endpoint

    async def count_tokens(request: Request) -> Response:
        request_id = new_request_id()
        try:
            chat = anthropic.parse_count_tokens(await read_json(request), request.headers)
            catalog.resolve(chat.model)
        except GatewayError as error:
            return error_response(anthropic, error, request_id)
        count = estimate_input_tokens(chat)
        headers = {"request-id": request_id, "interlink-token-count": "estimated"}
        return JSONBytesResponse(anthropic.render_count_tokens(count), headers=headers)

    async def models(request: Request) -> Response:
        names = catalog.public_models()
        if "anthropic-version" in request.headers:
            data = [
                {"type": "model", "id": n, "display_name": n, "created_at": "1970-01-01T00:00:00Z"}
                for n in names
            ]
            return JSONBytesResponse(
                {"data": data, "has_more": False, "first_id": names[0] if names else None,
                 "last_id": names[-1] if names else None}
            )
        data = [{"id": n, "object": "model", "created": started_at, "owned_by": "interlink"} for n in names]
        return JSONBytesResponse({"object": "list", "data": data})

    async def health(request: Request) -> Response:
        return JSONBytesResponse({"status": "ok", "version": __version__, "models": len(config.models)})

    async def root(request: Request) -> Response:
        return JSONBytesResponse({"name": "interlink", "version": __version__})

    async def not_found(request: Request) -> Response:
        error = GatewayError(ErrorKind.NOT_FOUND, f"no such endpoint: {request.method} {request.url.path}")
        return error_response(openai_chat, error, new_request_id())

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    ]
    for package, paths in PROTOCOL_PATHS.items():
        protocol = load_protocol(package)
        routes += [Route(path, model_endpoint(protocol), methods=["POST"]) for path in paths]
    routes.append(Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await transport.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.catalog = catalog
    return app
