"""One error taxonomy for the whole gateway.

Every failure, whether a client's bad request, an upstream's 529 or a dropped connection, becomes
a `GatewayError` with a `kind`. The kind fixes the HTTP status and the wire error type of each
client API; `retryable` and `retry_after` are data the routing layer reads, never guessed from
message text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    REQUEST_TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    """Spend limit or billing: retrying will not help."""
    API_ERROR = "api_error"
    OVERLOADED = "overloaded"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    """No usable response from the upstream (refused, reset, closed, malformed)."""


_STATUS = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.PERMISSION: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.REQUEST_TOO_LARGE: 413,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.QUOTA: 429,
    ErrorKind.API_ERROR: 500,
    ErrorKind.OVERLOADED: 529,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TIMEOUT: 504,
    ErrorKind.CONNECTION: 502,
}

_RETRYABLE = {
    ErrorKind.RATE_LIMIT,
    ErrorKind.API_ERROR,
    ErrorKind.OVERLOADED,
    ErrorKind.UNAVAILABLE,
    ErrorKind.TIMEOUT,
    ErrorKind.CONNECTION,
}

_BY_STATUS = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    402: ErrorKind.QUOTA,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    408: ErrorKind.TIMEOUT,
    409: ErrorKind.API_ERROR,
    413: ErrorKind.REQUEST_TOO_LARGE,
    422: ErrorKind.INVALID_REQUEST,
    425: ErrorKind.UNAVAILABLE,
    429: ErrorKind.RATE_LIMIT,
    500: ErrorKind.API_ERROR,
    502: ErrorKind.CONNECTION,
    503: ErrorKind.UNAVAILABLE,
    504: ErrorKind.TIMEOUT,
    529: ErrorKind.OVERLOADED,
}


def quoted(text: str, limit: int = 64) -> str:
    """A client-chosen string as an error text quotes it: its repr, cut to `limit` characters,
    so a megabyte model name never comes back in a response or a log line."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text)} characters)"


def kind_for_status(status: int) -> ErrorKind:
    """The kind an upstream HTTP status means when its body says nothing more specific."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ErrorKind.API_ERROR
    return ErrorKind.INVALID_REQUEST


class GatewayError(Exception):
    """A failure with everything a client, a log line and the retry loop need.

    `param` names the offending request field (a JSON path like `messages[2].content`);
    `provider` the upstream it came from; `upstream_status` the status the upstream sent.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
        upstream_status: int | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        self.code = code
        self.retryable = kind in _RETRYABLE if retryable is None else retryable
        self.retry_after = retry_after
        self.provider = provider
        self.upstream_status = upstream_status
        self.status = status if status is not None else _STATUS[kind]
        self.outcome: Any = None
        """Set by the routing layer: its record of the attempts (`routing.dispatch.Outcome`),
        which the server turns into response headers and the ledger row."""

    def __repr__(self) -> str:
        return f"GatewayError({self.kind.value}, {self.message!r}, status={self.status})"

    @classmethod
    def invalid(cls, message: str, param: str | None = None) -> GatewayError:
        """A client request the gateway itself rejects (400)."""
        return cls(ErrorKind.INVALID_REQUEST, message, param=param)
