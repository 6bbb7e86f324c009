"""Chat Completions upstream errors -> `GatewayError`: HTTP error bodies and in-stream error chunks.

OpenAI's shape is `{"error":{message,type,param,code}}`; compatible servers vary (a bare string,
vLLM's flat `{"object":"error","message",...}`, OpenRouter's numeric `code`, Groq's
`status_code`), so every reading is defensive. The kind comes from the status, refined by
`type`/`code` where they say more (insufficient_quota is a 429 that retrying will not fix).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from interlink.core import ErrorKind, GatewayError
from interlink.core.errors import kind_for_status
from interlink.providers import ProviderSettings
from interlink.providers.retry_after import parse_retry_after

_BY_NAME = {
    "insufficient_quota": ErrorKind.QUOTA,
    "billing_hard_limit_reached": ErrorKind.QUOTA,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "server_is_overloaded": ErrorKind.OVERLOADED,
    "overloaded_error": ErrorKind.OVERLOADED,
    "slow_down": ErrorKind.RATE_LIMIT,
    "service_unavailable_error": ErrorKind.UNAVAILABLE,
    "invalid_api_key": ErrorKind.AUTHENTICATION,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_error": ErrorKind.PERMISSION,
    "model_not_found": ErrorKind.NOT_FOUND,
    "not_found_error": ErrorKind.NOT_FOUND,
    "context_length_exceeded": ErrorKind.INVALID_REQUEST,
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    # Groq: the model produced a tool call that failed validation; the same request fails again.
    "tool_use_failed": ErrorKind.INVALID_REQUEST,
    "server_error": ErrorKind.API_ERROR,
    "api_error": ErrorKind.API_ERROR,
}

# Names that override whatever the status says (a 429 may be a spend limit, a 503 overload).
_OVERRIDING = {ErrorKind.QUOTA, ErrorKind.OVERLOADED}


def _error_fields(payload: Any) -> dict[str, Any]:
    """The error object inside `payload`, whatever the server's dialect."""
    if isinstance(payload, dict):
        inner = payload.get("error")
        if isinstance(inner, dict):
            return inner
        if isinstance(inner, str):
            return {"message": inner}
        if "message" in payload or "detail" in payload:
            return payload
    if isinstance(payload, str):
        return {"message": payload}
    return {}


def _message(fields: dict[str, Any], fallback: str) -> str:
    message = fields.get("message") or fields.get("detail")
    if isinstance(message, str) and message:
        return message
    return fallback if message is None else orjson.dumps(message).decode()


def _kind(fields: dict[str, Any], status: int | None) -> ErrorKind:
    named = None
    for key in ("code", "type"):
        value = fields.get(key)
        if isinstance(value, str) and value in _BY_NAME:
            named = _BY_NAME[value]
            break
    if named in _OVERRIDING:
        return named
    if status is not None and status >= 400:
        return kind_for_status(status)
    return named or ErrorKind.API_ERROR


def error_from_payload(
    payload: Any,
    settings: ProviderSettings,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> GatewayError:
    """A `GatewayError` from a decoded error body or in-stream error chunk."""
    fields = _error_fields(payload)
    if status is None:
        # In-stream errors carry their status in the body, if anywhere.
        for key in ("status_code", "status", "code"):
            value = fields.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
                status = value
                break
    code = fields.get("code")
    kind = _kind(fields, status)
    retryable = None
    headers = headers or {}
    should_retry = {k.lower(): v for k, v in headers.items()}.get("x-should-retry")
    if should_retry in ("true", "false"):
        retryable = should_retry == "true"
    if kind == ErrorKind.QUOTA:
        retryable = False
    param = fields.get("param")
    return GatewayError(
        kind,
        _message(fields, f"upstream error (status {status})" if status else "upstream error"),
        param=param if isinstance(param, str) else None,
        code=code if isinstance(code, str) else None,
        retryable=retryable,
        retry_after=parse_retry_after(headers),
        provider=settings.name,
        upstream_status=status,
    )


def map_error(status: int, headers: Mapping[str, str], body: bytes, *, settings: ProviderSettings) -> GatewayError:
    try:
        payload: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = body.decode("utf-8", errors="replace").strip()[:2000] or None
    return error_from_payload(payload, settings, status=status, headers=headers)
