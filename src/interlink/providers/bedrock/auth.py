"""Bedrock auth: SigV4 from the standard AWS credential chain (botocore), or a Bedrock API key.

botocore resolves credentials the way every AWS tool does (environment, the shared config and
credentials files with `profile`, SSO, web identity, container and instance roles) and refreshes
temporary ones. Resolving and refreshing make blocking HTTP calls, so they run in a thread, once
at a time per provider (`asyncio.Lock`), and only when botocore says the cached set is due;
every request is then signed with a frozen copy, on the event loop, in microseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
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


def sigv4_headers(frozen: Any, region: str, request: UpstreamRequest) -> dict[str, str]:
    """Authorization, X-Amz-Date (and X-Amz-Security-Token) for exactly these bytes and headers."""
    aws = AWSRequest(method="POST", url=request.url, data=request.body, headers=dict(request.headers))
    SigV4Auth(frozen, SERVICE, region).add_auth(aws)
    signed = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
    return {name: str(aws.headers[name]) for name in signed if name in aws.headers}


def signer(credentials: AwsCredentials, region: str) -> Callable[[UpstreamRequest], Awaitable[dict[str, str]]]:
    async def sign(request: UpstreamRequest) -> dict[str, str]:
        return sigv4_headers(await credentials.frozen(), region, request)

    return sign
