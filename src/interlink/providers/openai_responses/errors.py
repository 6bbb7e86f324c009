"""Upstream Responses errors -> `GatewayError`: HTTP error bodies, in-stream `error` events and
`response.failed` objects all go through `error_from_object`, so a code means the same kind
wherever it appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from interlink.core import ErrorKind, GatewayError
from interlink.core.errors import kind_for_status
from interlink.providers import ProviderSettings
from interlink.providers.retry_after import parse_retry_after

# error.code or error.type -> kind; checked before the HTTP status, which is less specific.
_KINDS = {
    "insufficient_quota": ErrorKind.QUOTA,
    "billing_hard_limit_reached": ErrorKind.QUOTA,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "requests": ErrorKind.RATE_LIMIT,
    "tokens": ErrorKind.RATE_LIMIT,
    "server_error": ErrorKind.API_ERROR,
    "api_error": ErrorKind.API_ERROR,
    "server_is_overloaded": ErrorKind.OVERLOADED,
    "overloaded_error": ErrorKind.OVERLOADED,
    "slow_down": ErrorKind.OVERLOADED,
    "service_unavailable": ErrorKind.UNAVAILABLE,
    "timeout": ErrorKind.TIMEOUT,
    "invalid_api_key": ErrorKind.AUTHENTICATION,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_denied": ErrorKind.PERMISSION,
    "permission_error": ErrorKind.PERMISSION,
    "model_not_found": ErrorKind.NOT_FOUND,
    "not_found_error": ErrorKind.NOT_FOUND,
    "context_length_exceeded": ErrorKind.INVALID_REQUEST,
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "invalid_prompt": ErrorKind.INVALID_REQUEST,
}

_GENERIC = {ErrorKind.INVALID_REQUEST, ErrorKind.API_ERROR}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def error_from_object(
    error: Mapping[str, Any], *, default: ErrorKind, provider: str | None = None, status: int | None = None
) -> GatewayError:
    """`{message, type, code, param}` (any subset) -> GatewayError of the most specific kind."""
    code = _text(error.get("code"))
    kind_name = _text(error.get("type"))
    # A specific HTTP status (413, 429, 503...) says more than a generic error type does.
    specific = default if default not in _GENERIC else None
    kind = _KINDS.get(code or "") or specific or _KINDS.get(kind_name or "") or default
    message = _text(error.get("message")) or code or kind_name or "upstream error"
    return GatewayError(
        kind,
        message,
        param=_text(error.get("param")),
        code=code or kind_name,
        provider=provider,
        upstream_status=status,
    )


def map_error(status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings) -> GatewayError:
    payload: Any = None
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    error_obj = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error_obj, dict):
        error = error_from_object(error_obj, default=kind_for_status(status), provider=settings.name, status=status)
    else:
        text = body.decode("utf-8", errors="replace").strip()[:500] or f"upstream returned HTTP {status}"
        if isinstance(error_obj, str):
            text = error_obj
        error = GatewayError(kind_for_status(status), text, provider=settings.name, upstream_status=status)
    error.retry_after = parse_retry_after(headers)
    should_retry = {k.lower(): v for k, v in headers.items()}.get("x-should-retry")
    if should_retry is not None:
        error.retryable = should_retry.strip().lower() == "true"
    return error
