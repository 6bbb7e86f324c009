"""Azure OpenAI with Microsoft Entra ID instead of an api-key: `Authorization: Bearer <token>` for
the scope `https://cognitiveservices.azure.com/.default`, from azure-identity's async
`DefaultAzureCredential` (environment service principal, workload identity, managed identity,
Azure CLI…). Its token is kept and fetched again (asynchronously, one fetch at a time) five
minutes before it expires, so requests never wait on the identity endpoint in steady state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from interlink.core import ErrorKind, GatewayError
from interlink.providers import MissingExtra, UpstreamRequest

SCOPE = "https://cognitiveservices.azure.com/.default"
EARLY_SECONDS = 300.0


class EntraToken:
    def __init__(self) -> None:
        self._credential: Any = None
        self._token: Any = None  # azure.core.credentials.AccessToken
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._token is not None and self._token.expires_on - time.time() > EARLY_SECONDS

    async def header(self) -> dict[str, str]:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    self._token = await self._fetch()
        return {"authorization": f"Bearer {self._token.token}"}

    async def close(self) -> None:
        if self._credential is not None:
            await self._credential.close()
            self._credential = None

    async def _fetch(self) -> Any:
        try:
            from azure.core.exceptions import ClientAuthenticationError
            from azure.identity.aio import DefaultAzureCredential
        except ImportError:
            raise MissingExtra("azure-openai", "azure", "azure-identity") from None
        if self._credential is None:
            self._credential = DefaultAzureCredential()
        try:
            return await self._credential.get_token(SCOPE)
        except ClientAuthenticationError as exc:
            message = str(exc).splitlines()[0][:300]
            raise GatewayError(
                ErrorKind.AUTHENTICATION,
                f"no Entra ID token for Azure OpenAI ({message}): set api_key, or sign in (az login, a managed "
                "identity, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET)",
                retryable=False,
            ) from None


_TOKENS: dict[str, EntraToken] = {}


def signer(provider: str) -> Callable[[UpstreamRequest], Awaitable[dict[str, str]]]:
    token = _TOKENS.get(provider)
    if token is None:
        token = _TOKENS[provider] = EntraToken()

    async def sign(request: UpstreamRequest) -> dict[str, str]:
        return await token.header()

    return sign
