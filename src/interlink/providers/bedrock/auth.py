"""Bedrock auth: SigV4 with credentials from the standard AWS chain (botocore), or a Bedrock API key.

botocore resolves credentials the way every AWS tool does (environment, the shared config and
credentials files with `profile`, SSO, web identity, container and instance roles) and refreshes
temporary ones. Resolving and refreshing make blocking HTTP calls, so they run in a thread, once
at a time per provider (`asyncio.Lock`), and only when botocore says the cached set is due.

Each request is then signed on the event loop by `sigv4_headers`, AWS Signature Version 4 as
published, with the day's signing key cached: about 20 µs, where botocore's `SigV4Auth` (its
header objects, request preparation, key derivation per call) costs 250 µs a request, half of
the gateway's whole CPU per request. botocore's signer stays the judge: the tests and the
emulator recompute every signature with it.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from interlink.core import ErrorKind, GatewayError
from interlink.providers import UpstreamRequest

SERVICE = "bedrock"
NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE (or `profile:` "
    "in the provider), run `aws sso login`, or give the provider an api_key (a Bedrock API key)"
)


class AwsCredentials:
    """One provider's credentials: resolved on first use, refreshed when botocore says so."""

    def __init__(self, profile: str | None = None) -> None:
        self.profile = profile
        self._source: Any = None  # botocore Credentials or RefreshableCredentials
        self._frozen: Any = None  # botocore ReadOnlyCredentials
        self._lock = asyncio.Lock()

    def _due(self) -> bool:
        if self._frozen is None:
            return True
        refresh_needed = getattr(self._source, "refresh_needed", None)
        return bool(refresh_needed is not None and refresh_needed())

    async def frozen(self) -> Any:
        """A frozen credential set, valid for signing now."""
        if self._due():
            async with self._lock:
                if self._due():
                    self._frozen = await asyncio.to_thread(self._resolve)
        return self._frozen

    def _resolve(self) -> Any:
        try:
            if self._source is None:
                self._source = botocore.session.Session(profile=self.profile).get_credentials()
            if self._source is None:
                raise GatewayError(ErrorKind.AUTHENTICATION, NO_CREDENTIALS, retryable=False)
            frozen = self._source.get_frozen_credentials()
        except (BotoCoreError, ClientError) as exc:
            raise GatewayError(
                ErrorKind.AUTHENTICATION,
                f"AWS credentials could not be loaded ({exc}); {NO_CREDENTIALS}",
                retryable=False,
            ) from None
        if not frozen.access_key or not frozen.secret_key:
            raise GatewayError(ErrorKind.AUTHENTICATION, NO_CREDENTIALS, retryable=False)
        return frozen


_CREDENTIALS: dict[tuple[str, str | None], AwsCredentials] = {}


def credentials_for(provider: str, profile: str | None) -> AwsCredentials:
    """The one credential cache of a provider (kept across config reloads)."""
    key = (provider, profile)
    found = _CREDENTIALS.get(key)
    if found is None:
        found = _CREDENTIALS[key] = AwsCredentials(profile)
    return found


UNSIGNED = frozenset({"expect", "user-agent", "x-amzn-trace-id", "transfer-encoding", "connection"})


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def sigv4_headers(
    frozen: Any, region: str, request: UpstreamRequest, *, service: str = SERVICE, now: datetime.datetime | None = None
) -> dict[str, str]:
    """x-amz-date, x-amz-security-token (temporary credentials) and Authorization for exactly these
    bytes, this URL (as sent: `encoded=True`) and these headers plus the Host aiohttp adds."""
    amz_date = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    url = urlsplit(request.url)
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    host = url.hostname or ""
    if url.port is not None and url.port != default_port:
        host = f"{host}:{url.port}"
    out = {"x-amz-date": amz_date}
    if frozen.token:
        out["x-amz-security-token"] = frozen.token
    headers = {k.lower(): " ".join(str(v).split()) for k, v in request.headers.items() if k.lower() not in UNSIGNED}
    headers.update(out, host=host)
    names = sorted(headers)
    signed = ";".join(names)
    canonical = "\n".join(
        (
            "POST",
            quote(url.path or "/", safe="/~"),
            _canonical_query(url.query),
            "".join(f"{n}:{headers[n]}\n" for n in names),
            signed,
            hashlib.sha256(request.body).hexdigest(),
        )
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _signing_key(frozen.secret_key, day, region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={frozen.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return out


def signer(credentials: AwsCredentials, region: str) -> Callable[[UpstreamRequest], Awaitable[dict[str, str]]]:
    async def sign(request: UpstreamRequest) -> dict[str, str]:
        return sigv4_headers(await credentials.frozen(), region, request)

    return sign
