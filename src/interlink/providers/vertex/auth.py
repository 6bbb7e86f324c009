"""Vertex AI auth: OAuth access tokens from Google Application Default Credentials (google-auth).

ADC finds credentials the way every Google tool does: `GOOGLE_APPLICATION_CREDENTIALS` (a service
account key, workload identity federation, an authorized user), the gcloud user of `gcloud auth
application-default login`, or the metadata server (GCE, GKE workload identity, Cloud Run).
Loading and refreshing make blocking HTTP calls, so they run in a thread, one at a time per
provider. A token is refreshed in the background once it is within `EARLY` of its expiry while
requests go on using it, and waited for only when it is no longer valid (google-auth's own
margin, 3 min 45 s before the real expiry), so the event loop never blocks on a refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Awaitable, Callable
from typing import Any

import google.auth
import google.auth.exceptions
import google.auth.transport.requests

from interlink.core import ErrorKind, GatewayError
from interlink.providers import UpstreamRequest

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
EARLY = datetime.timedelta(minutes=10)
NO_CREDENTIALS = (
    "no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, "
    "run `gcloud auth application-default login`, or run where a metadata server gives an identity"
)


def _utcnow() -> datetime.datetime:
    # google-auth keeps `expiry` as a naive UTC datetime
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class GoogleCredentials:
    """One provider's ADC credentials and its current token."""

    def __init__(self, loader: Callable[[], Any] | None = None) -> None:
        self._loader = loader or (lambda: google.auth.default(scopes=list(SCOPES))[0])
        self._credentials: Any = None
        self._transport: Any = None
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        self.refreshes = 0

    async def headers(self) -> dict[str, str]:
        """`Authorization: Bearer …` (and `x-goog-user-project` when the credentials name one)."""
        credentials = self._credentials
        if credentials is None or not credentials.valid:
            async with self._lock:
                if self._credentials is None or not self._credentials.valid:
                    await asyncio.to_thread(self._refresh)
            credentials = self._credentials
        elif self._due_soon(credentials) and self._background is None:
            self._background = asyncio.create_task(self._refresh_in_background())
        headers: dict[str, str] = {}
        credentials.apply(headers)
        return headers

    @staticmethod
    def _due_soon(credentials: Any) -> bool:
        expiry = credentials.expiry
        return expiry is not None and expiry - _utcnow() < EARLY

    async def _refresh_in_background(self) -> None:
        try:
            async with self._lock:
                if self._credentials is not None and self._due_soon(self._credentials):
                    with contextlib.suppress(GatewayError):  # the token in hand still works; retried later
                        await asyncio.to_thread(self._refresh)
        finally:
            self._background = None

    def _refresh(self) -> None:
        """Blocking: load ADC once, then refresh the token (run in a thread)."""
        try:
            if self._credentials is None:
                self._credentials = self._loader()
                self._transport = google.auth.transport.requests.Request()
            self._credentials.refresh(self._transport)
            self.refreshes += 1
        except google.auth.exceptions.DefaultCredentialsError:
            raise GatewayError(ErrorKind.AUTHENTICATION, NO_CREDENTIALS, retryable=False) from None
        except google.auth.exceptions.TransportError as exc:
            raise GatewayError(ErrorKind.CONNECTION, f"Google token endpoint unreachable: {exc}") from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise GatewayError(
                ErrorKind.AUTHENTICATION, f"Google credentials were refused: {exc}", retryable=False
            ) from None


_CREDENTIALS: dict[str, GoogleCredentials] = {}


def credentials_for(provider: str) -> GoogleCredentials:
    """The one token cache of a provider (kept across config reloads)."""
    found = _CREDENTIALS.get(provider)
    if found is None:
        found = _CREDENTIALS[provider] = GoogleCredentials()
    return found


def signer(credentials: GoogleCredentials) -> Callable[[UpstreamRequest], Awaitable[dict[str, str]]]:
    async def sign(request: UpstreamRequest) -> dict[str, str]:
        return await credentials.headers()

    return sign
