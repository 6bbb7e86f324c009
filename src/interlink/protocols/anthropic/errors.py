"""GatewayError → Anthropic error body `{"type":"error","error":{"type","message"}}` and status.

The same type names are used for the in-stream `event: error` frame (see `stream.py`).
"""

from __future__ import annotations

from typing import Any

from interlink.core import ErrorKind, GatewayError

_TYPES = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.REQUEST_TOO_LARGE: "request_too_large",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.QUOTA: "billing_error",
    ErrorKind.API_ERROR: "api_error",
    ErrorKind.OVERLOADED: "overloaded_error",
    ErrorKind.UNAVAILABLE: "api_error",
    ErrorKind.TIMEOUT: "timeout_error",
    ErrorKind.CONNECTION: "api_error",
}


def error_type(error: GatewayError) -> str:
    return _TYPES.get(error.kind, "api_error")


def error_body(error: GatewayError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(error), "message": error.message}}


def render_error(error: GatewayError) -> tuple[int, dict[str, Any]]:
    return error.status, error_body(error)
