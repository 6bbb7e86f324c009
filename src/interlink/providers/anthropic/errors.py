"""Anthropic upstream errors → GatewayError: HTTP status + `error.type` + retry headers.

The error `type` is more specific than the status (a 429 may be a spend limit, a 200 stream may
carry `overloaded_error`), so it decides the kind when known. `x-should-retry` from the upstream
overrides retryability, as it does in the official SDKs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from interlink.core import ErrorKind, GatewayError
from interlink.core.errors import kind_for_status
from interlink.providers.retry_after import parse_retry_after

_KINDS = {
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "request_too_large": ErrorKind.REQUEST_TOO_LARGE,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "billing_error": ErrorKind.QUOTA,
    "api_error": ErrorKind.API_ERROR,
    "overloaded_error": ErrorKind.OVERLOADED,
    "timeout_error": ErrorKind.TIMEOUT,
}
_SPEND_CODES = {"enforced_spend_limit_reached", "spend_limit_reached", "billing_error"}


def kind_for_type(error_type: str | None, status: int | None = None) -> ErrorKind:
    if error_type is not None and error_type in _KINDS:
        return _KINDS[error_type]
    if status is not None:
        return kind_for_status(status)
    return ErrorKind.API_ERROR


def _is_spend_limit(error: dict[str, Any]) -> bool:
    details = error.get("details")
    code = details.get("error_code") if isinstance(details, dict) else None
    return code in _SPEND_CODES or error.get("type") == "billing_error"


def error_from_payload(payload: Any, *, provider: str | None, status: int | None = None) -> GatewayError:
    """An Anthropic error object (`{"type":"error","error":{...}}`) as a GatewayError."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        error = {}
    error_type = error.get("type") if isinstance(error.get("type"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else None
    kind = kind_for_type(error_type, status)
    if kind is ErrorKind.RATE_LIMIT and _is_spend_limit(error):
        kind = ErrorKind.QUOTA
    return GatewayError(
        kind,
        message or f"upstream error {error_type or status or 'unknown'}",
        code=error_type,
        provider=provider,
        upstream_status=status,
    )


def map_error(status: int, headers: Mapping[str, str], body: bytes, *, provider: str | None) -> GatewayError:
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = error_from_payload(payload, provider=provider, status=status)
    else:
        text = body.decode("utf-8", errors="replace").strip()[:500]
        error = GatewayError(
            kind_for_status(status),
            text or f"upstream returned HTTP {status}",
            provider=provider,
            upstream_status=status,
        )
    error.retry_after = parse_retry_after(headers)
    should_retry = {k.lower(): v for k, v in headers.items()}.get("x-should-retry", "").strip().lower()
    if should_retry == "false" or error.kind is ErrorKind.QUOTA:
        error.retryable = False
    elif should_retry == "true":
        error.retryable = True
    return error
