"""`GatewayError` -> OpenAI's error shape `{"error":{message,type,param,code}}` and its status.

Types and codes follow what api.openai.com sends (NOTES §2.6, §4.5), so the official SDKs raise
the matching exception class and clients that branch on `code` (insufficient_quota,
rate_limit_exceeded) keep working.
"""

from __future__ import annotations

from typing import Any

from interlink.core import ErrorKind, GatewayError

_TYPES: dict[ErrorKind, tuple[str, str | None]] = {
    ErrorKind.INVALID_REQUEST: ("invalid_request_error", None),
    ErrorKind.AUTHENTICATION: ("authentication_error", "invalid_api_key"),
    ErrorKind.PERMISSION: ("permission_error", "permission_denied"),
    ErrorKind.NOT_FOUND: ("invalid_request_error", "not_found"),
    ErrorKind.REQUEST_TOO_LARGE: ("invalid_request_error", "request_too_large"),
    ErrorKind.RATE_LIMIT: ("rate_limit_error", "rate_limit_exceeded"),
    ErrorKind.QUOTA: ("insufficient_quota", "insufficient_quota"),
    ErrorKind.API_ERROR: ("server_error", None),
    ErrorKind.OVERLOADED: ("server_error", "server_is_overloaded"),
    ErrorKind.UNAVAILABLE: ("server_error", "service_unavailable"),
    ErrorKind.TIMEOUT: ("timeout_error", "timeout"),
    ErrorKind.CONNECTION: ("server_error", "upstream_connection_error"),
}


def error_object(error: GatewayError) -> dict[str, Any]:
    """The inner `error` object, shared by HTTP bodies and in-stream error chunks."""
    kind_type, kind_code = _TYPES.get(error.kind, ("server_error", None))
    return {
        "message": error.message,
        "type": kind_type,
        "param": error.param,
        "code": error.code or kind_code,
    }


def render_error(error: GatewayError) -> tuple[int, dict[str, Any]]:
    return error.status, {"error": error_object(error)}
