"""`GatewayError` -> the OpenAI error shape a Responses client reads, over HTTP and in-stream.

HTTP errors are `{"error": {message, type, param, code}}` with the kind's status. In a stream the
same fields go into the `error` event, and `response.failed` carries `response.error{code,
message}` with a code from the Responses `ResponseError` vocabulary.
"""

from __future__ import annotations

from typing import Any

from interlink.core import ErrorKind, GatewayError

# kind -> (error.type, default error.code), following OpenAI's own bodies.
_TYPES: dict[ErrorKind, tuple[str, str | None]] = {
    ErrorKind.INVALID_REQUEST: ("invalid_request_error", None),
    ErrorKind.AUTHENTICATION: ("authentication_error", "invalid_api_key"),
    ErrorKind.PERMISSION: ("permission_error", "permission_denied"),
    ErrorKind.NOT_FOUND: ("not_found_error", "not_found"),
    ErrorKind.REQUEST_TOO_LARGE: ("invalid_request_error", "request_too_large"),
    ErrorKind.RATE_LIMIT: ("rate_limit_error", "rate_limit_exceeded"),
    ErrorKind.QUOTA: ("insufficient_quota", "insufficient_quota"),
    ErrorKind.API_ERROR: ("server_error", "server_error"),
    ErrorKind.OVERLOADED: ("server_error", "server_is_overloaded"),
    ErrorKind.UNAVAILABLE: ("server_error", "service_unavailable"),
    ErrorKind.TIMEOUT: ("timeout_error", "timeout"),
    ErrorKind.CONNECTION: ("server_error", "upstream_connection_error"),
}

# `response.error.code` is an enum in the SDKs; these are the closest members.
_RESPONSE_CODES = {
    ErrorKind.RATE_LIMIT: "rate_limit_exceeded",
    ErrorKind.QUOTA: "insufficient_quota",
    ErrorKind.INVALID_REQUEST: "invalid_prompt",
}


def error_object(error: GatewayError) -> dict[str, Any]:
    kind_type, default_code = _TYPES.get(error.kind, ("server_error", "server_error"))
    return {
        "message": error.message,
        "type": kind_type,
        "param": error.param,
        "code": error.code or default_code,
    }


def render_error(error: GatewayError) -> tuple[int, dict[str, Any]]:
    return error.status, {"error": error_object(error)}


def response_error(error: GatewayError) -> dict[str, Any]:
    """The `response.error` object of a failed response."""
    return {"code": _RESPONSE_CODES.get(error.kind, "server_error"), "message": error.message}
