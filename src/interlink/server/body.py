"""Reading a model call's body without letting one request hurt the others.

Limits, each checked before the work it protects: the declared size before reading, the time the
body may take to arrive, the number of JSON objects before parsing, the nesting depth and the
message/tool counts before any object of the internal model is built. A big body (over
`OFF_LOOP_BYTES`) is parsed on a worker thread, so the event loop keeps serving other requests
(Python code there yields the GIL every few milliseconds).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request

from interlink.core import ChatRequest, ErrorKind, GatewayError
from interlink.protocols import ClientProtocol

MAX_BODY_BYTES = 32 * 1024 * 1024  # Anthropic's own limit for Messages requests
BODY_READ_SECONDS = 60.0
MAX_MESSAGES = 10_000
MAX_TOOLS = 1_000
MAX_OBJECTS = 200_000
"""JSON objects in one body; 10,000 messages with a few blocks each stay far below it."""
MAX_JSON_DEPTH = 128
"""Nesting depth of a body. The encoders (orjson: 255) and the repairs must be able to write back
whatever is accepted, with the levels an upstream's format adds around it."""
OFF_LOOP_BYTES = 1024 * 1024
MAX_MODEL_NAME = 256
LIST_FIELDS = {"messages": MAX_MESSAGES, "input": MAX_MESSAGES, "contents": MAX_MESSAGES, "tools": MAX_TOOLS}


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


def loads(body: bytes) -> Any:
    """JSON with the object-count and depth limits, as a 400 that says which."""
    if not body:
        raise GatewayError.invalid("request body is empty; expected a JSON object")
    objects = body.count(b"{")
    if objects > MAX_OBJECTS:
        raise GatewayError.invalid(f"request body has {objects} JSON objects (limit {MAX_OBJECTS})")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError.invalid(f"request body is not valid JSON: {exc}") from None
    # Brackets inside strings count too, so this only skips the walk when it cannot find anything.
    if objects + body.count(b"[") > MAX_JSON_DEPTH:
        check_depth(data)
    return data


def check_depth(data: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Iterative (a recursive walk would itself hit the limit it checks), stops at the first
    container past `limit`."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        children = value.values() if type(value) is dict else value
        for child in children:
            if type(child) is dict or type(child) is list:
                if depth >= limit:
                    raise GatewayError.invalid(f"request body nests JSON deeper than {limit} levels")
                push((child, depth + 1))


def check_counts(data: Any) -> None:
    """Message and tool counts, before the protocol builds an object for each."""
    if type(data) is not dict:
        return
    for field, limit in LIST_FIELDS.items():
        value = data.get(field)
        if type(value) is list and len(value) > limit:
            raise GatewayError.invalid(f"too many {field}: {len(value)} (limit {limit})", field)


def check_model_name(name: str) -> None:
    """Model names are chosen by clients and end up in logs, errors, the ledger and caches."""
    if len(name) > MAX_MODEL_NAME:
        raise GatewayError.invalid(f"model: at most {MAX_MODEL_NAME} characters (got {len(name)})", "model")


def _parse(protocol: ClientProtocol, body: bytes, headers: Mapping[str, str]) -> ChatRequest:
    data = loads(body)
    check_counts(data)
    chat = protocol.parse_request(data, headers)
    check_model_name(chat.model)
    return chat


async def parse_request(protocol: ClientProtocol, request: Request) -> ChatRequest:
    """The client's body as the internal request; big bodies are parsed off the event loop."""
    body = await read_body(request)
    if len(body) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(_parse, protocol, body, request.headers)
    return _parse(protocol, body, request.headers)


async def read_json(request: Request) -> Any:
    """A JSON body with the same limits, for endpoints that are not a model call."""
    data = loads(await read_body(request))
    check_counts(data)
    return data
