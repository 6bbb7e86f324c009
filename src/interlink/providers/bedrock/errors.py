"""Bedrock errors before the first byte → GatewayError.

The error code is the `x-amzn-ErrorType` header (`Code[:suffix]`; botocore prefers it to the
body), the body `{"message": …}` (or `Message`). Bedrock sends no retry-after: retries follow the
gateway's backoff. A ValidationException names the offending field when its message does
(`messages.1.content: …`, `extraneous key [top_k] is not permitted`), so the client's 400 says
which field to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson

from interlink.core import ErrorKind, GatewayError
from interlink.core.errors import kind_for_status
from interlink.providers.retry_after import parse_retry_after

# code → (kind, retryable or None for the kind's default)
_CODES: dict[str, tuple[ErrorKind, bool | None]] = {
    "ThrottlingException": (ErrorKind.RATE_LIMIT, True),
    "ModelNotReadyException": (ErrorKind.UNAVAILABLE, True),
    "ServiceUnavailableException": (ErrorKind.UNAVAILABLE, True),
    "InternalServerException": (ErrorKind.API_ERROR, True),
    "ModelTimeoutException": (ErrorKind.TIMEOUT, True),
    "ValidationException": (ErrorKind.INVALID_REQUEST, False),
    "AccessDeniedException": (ErrorKind.PERMISSION, False),
    "ResourceNotFoundException": (ErrorKind.NOT_FOUND, False),
    "ServiceQuotaExceededException": (ErrorKind.QUOTA, False),
    "ModelErrorException": (ErrorKind.API_ERROR, False),
    "UnrecognizedClientException": (ErrorKind.AUTHENTICATION, False),
    "InvalidSignatureException": (ErrorKind.AUTHENTICATION, False),
    "IncompleteSignatureException": (ErrorKind.AUTHENTICATION, False),
    "ExpiredTokenException": (ErrorKind.AUTHENTICATION, False),
    "MissingAuthenticationTokenException": (ErrorKind.AUTHENTICATION, False),
}
_FIELD_PATTERNS = (
    re.compile(r"(?:extraneous|required) key \[([A-Za-z_]\w*)\]"),
    re.compile(r"#/([A-Za-z_][\w/]*)"),
    re.compile(r"(?:^|errors: |: )((?:messages|system|tools|tool_choice|thinking|max_tokens)(?:\.\w+)*)\s*:"),
)


def error_code(headers: Mapping[str, str], payload: object) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    code = lowered.get("x-amzn-errortype", "").split(":")[0].strip()
    if not code and isinstance(payload, dict):
        code = str(payload.get("__type") or payload.get("code") or "").rsplit("#", 1)[-1]
    return code


def field_of(message: str) -> str | None:
    """`messages.1.content` → `messages[1].content`, from a validation message that names one."""
    for pattern in _FIELD_PATTERNS:
        match = pattern.search(message)
        if match:
            parts = re.split(r"[./]", match.group(1))
            return "".join(f"[{p}]" if p.isdigit() else (f".{p}" if i else p) for i, p in enumerate(parts))
    return None


def map_error(status: int, headers: Mapping[str, str], body: bytes, *, provider: str | None) -> GatewayError:
    try:
        payload = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    code = error_code(headers, payload)
    message = ""
    if isinstance(payload, dict):
        message = str(payload.get("message") or payload.get("Message") or "")
    if not message:
        message = body.decode("utf-8", errors="replace").strip()[:500] or f"HTTP {status}"
    kind, retryable = _CODES.get(code, (kind_for_status(status), None))
    error = GatewayError(
        kind,
        f"{code}: {message}" if code else message,
        code=code or None,
        retryable=retryable,
        provider=provider,
        upstream_status=status,
        param=field_of(message) if kind is ErrorKind.INVALID_REQUEST else None,
    )
    error.retry_after = parse_retry_after(headers)
    return error
