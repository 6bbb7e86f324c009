"""Vertex AI errors → GatewayError. Two layers answer: the model (Anthropic's error shape, ids
`req_vrtx_…`) and Google's front end (`{"error": {code, message, status}}`, often wrapped in a
JSON array), e.g. 429 RESOURCE_EXHAUSTED for a quota, 400 FAILED_PRECONDITION for a model not
enabled in the project. Both are read; the google.rpc status decides the kind."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from interlink.core import ErrorKind, GatewayError
from interlink.core.errors import kind_for_status
from interlink.providers.anthropic import errors as anthropic_errors
from interlink.providers.retry_after import parse_retry_after

_STATUS = {
    "INVALID_ARGUMENT": ErrorKind.INVALID_REQUEST,
    "FAILED_PRECONDITION": ErrorKind.INVALID_REQUEST,
    "OUT_OF_RANGE": ErrorKind.INVALID_REQUEST,
    "UNAUTHENTICATED": ErrorKind.AUTHENTICATION,
    "PERMISSION_DENIED": ErrorKind.PERMISSION,
    "NOT_FOUND": ErrorKind.NOT_FOUND,
    "RESOURCE_EXHAUSTED": ErrorKind.RATE_LIMIT,
    "UNAVAILABLE": ErrorKind.UNAVAILABLE,
    "DEADLINE_EXCEEDED": ErrorKind.TIMEOUT,
    "INTERNAL": ErrorKind.API_ERROR,
}


def map_error(status: int, headers: Mapping[str, str], body: bytes, *, provider: str | None) -> GatewayError:
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, list) and payload:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and "type" in error:  # the model's own (Anthropic) error
        return anthropic_errors.map_error(status, headers, body, provider=provider)
    if isinstance(error, dict):
        rpc = str(error.get("status") or "")
        message = str(error.get("message") or rpc or f"HTTP {status}")
        kind = _STATUS.get(rpc, kind_for_status(status))
        text = f"{rpc}: {message}" if rpc else message
    else:
        kind = kind_for_status(status)
        text = body.decode("utf-8", errors="replace").strip()[:500] or f"HTTP {status}"
        rpc = ""
    result = GatewayError(kind, text, code=rpc or None, provider=provider, upstream_status=status)
    result.retry_after = parse_retry_after(headers)
    return result
