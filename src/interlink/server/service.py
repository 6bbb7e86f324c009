"""Keys, limits, usage and metrics for one running gateway: opened at start-up, closed (ledger
flushed) at shutdown, and used by the pipeline at each step of a request.

`Service.begin` authenticates and admits a request; the returned `Ticket` carries what was
reserved for it and, once the request is over, records it (ledger, limits, metrics) exactly once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from starlette.requests import Request

from interlink.auth.audit import AuditLog
from interlink.auth.keys import KeyStore, Principal
from interlink.config.settings import Config
from interlink.core import ChatRequest, ErrorKind, GatewayError, Usage
from interlink.core.tokens import estimate_input_tokens
from interlink.limits import Limiter, Release, Reservation, create_limiter
from interlink.metrics import Metrics
from interlink.routing.dispatch import Outcome
from interlink.store import Database
from interlink.usage.budget import Budgets
from interlink.usage.ledger import Ledger
from interlink.usage.pricing import Pricing
from interlink.usage.record import UsageRecord

log = logging.getLogger("interlink")

OPEN = Principal(key_id="open", name="open", scopes=frozenset({"inference", "models", "admin"}))
"""Who calls a gateway that has no keys yet (it then only listens on 127.0.0.1 by default)."""


def presented_secret(request: Request) -> str | None:
    """The key from `x-api-key` or `Authorization: Bearer`, whichever the client sent."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(slots=True)
class Ticket:
    """One admitted request: its principal, what it reserved, and its record once done."""

    principal: Principal
    api: str
    started: float = field(default_factory=time.monotonic)
    reservation: Reservation | None = None
    release: Release | None = None
    recorded: bool = False


class Service:
    def __init__(self, config: Config) -> None:
        self.db = Database.from_config(config)
        self.keys = KeyStore(self.db)
        self.audit = AuditLog(self.db)
        self.ledger = Ledger(self.db)
        self.budgets = Budgets(self.ledger)
        self.limiter: Limiter = create_limiter(config)
        self.pricing = Pricing(config.pricing)
        self.metrics = Metrics(models=list(config.models), providers=list(config.providers))

    async def start(self) -> None:
        await self.db.start()
        await self.ledger.start()

    async def close(self) -> None:
        await self.ledger.close()
        await self.limiter.close()
        await self.db.close()

    async def authenticate(self, request: Request, scope: str) -> Principal:
        secret = presented_secret(request)
        if secret is None and not await self.keys.any_keys():
            return OPEN
        if secret is None:
            raise GatewayError(
                ErrorKind.AUTHENTICATION, "missing API key: send it as x-api-key or Authorization: Bearer"
            )
        principal = await self.keys.authenticate(secret)
        if principal is None:
            if not await self.keys.any_keys():
                return OPEN  # an open gateway ignores whatever key a client was configured with
            raise GatewayError(ErrorKind.AUTHENTICATION, "invalid API key (unknown, revoked or expired)")
        if scope not in principal.scopes:
            raise GatewayError(ErrorKind.PERMISSION, f"key '{principal.name}' lacks the '{scope}' scope")
        return principal

    async def admit(self, principal: Principal, api: str) -> Ticket:
        """Requests/minute and budget, before the body is even parsed."""
        if principal is not OPEN:
            await self.limiter.check_request(principal.key_id, principal.rpm, name=principal.name)
            await self.budgets.check(principal)
        return Ticket(principal, api)

    async def reserve(self, ticket: Ticket, chat: ChatRequest) -> None:
        """Model allowed, tokens/minute and concurrent streams, once the request is known."""
        principal = ticket.principal
        if not principal.allows_model(chat.model):
            raise GatewayError(
                ErrorKind.PERMISSION, f"key '{principal.name}' may not use model '{chat.model}'", param="model"
            )
        if principal is OPEN:
            return
        estimate = estimate_input_tokens(chat) + min(chat.max_tokens or 1024, 4096)
        ticket.reservation = await self.limiter.reserve_tokens(
            principal.key_id, principal.tpm, estimate, name=principal.name
        )
        if chat.stream:
            ticket.release = await self.limiter.open_stream(
                principal.key_id, principal.max_streams, name=principal.name
            )

    async def finish(
        self,
        ticket: Ticket,
        *,
        request_id: str,
        chat: ChatRequest | None,
        status: int,
        outcome: str,
        usage: Usage | None = None,
        error: GatewayError | None = None,
        dispatch: Outcome | None = None,
    ) -> None:
        """Record the request once: ledger row, limiter settlement, stream slot, metrics."""
        if ticket.recorded:
            return
        ticket.recorded = True
        usage = usage or Usage()
        latency = time.monotonic() - ticket.started
        deployment = getattr(dispatch, "deployment", None)
        ttft = None
        if dispatch is not None and dispatch.first_token is not None:
            ttft = dispatch.first_token - dispatch.started
        model = chat.model if chat is not None else ""
        names = [n for n in (deployment.upstream_model if deployment else None, model) if n]
        principal = ticket.principal
        record = UsageRecord(
            request_id=request_id,
            model=model,
            key_id=None if principal is OPEN else principal.key_id,
            key_name=None if principal is OPEN else principal.name,
            client_api=ticket.api,
            provider=deployment.provider.name if deployment else None,
            upstream_model=deployment.upstream_model if deployment else None,
            input_tokens=usage.prompt_tokens - usage.cache_read_tokens - usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens or 0,
            cost_usd=self.pricing.cost(names, usage) if names else 0.0,
            status=status,
            outcome=outcome,
            error_kind=error.kind.value if error is not None else None,
            attempts=",".join(str(a) for a in dispatch.attempts) if dispatch is not None else "",
            repairs=dispatch.repairs if dispatch is not None else "",
            latency_ms=round(latency * 1000, 1),
            ttft_ms=round(ttft * 1000, 1) if ttft is not None else None,
            stream=bool(chat and chat.stream),
        )
        self.ledger.record(record)
        self._measure(record, latency, ttft, error, dispatch, usage)
        if ticket.reservation is not None:
            await self.limiter.settle(ticket.reservation, usage.total_tokens)
        if ticket.release is not None:
            await ticket.release()

    def _measure(
        self,
        record: UsageRecord,
        latency: float,
        ttft: float | None,
        error: GatewayError | None,
        dispatch: Outcome | None,
        usage: Usage,
    ) -> None:
        m = self.metrics
        m.request(record.client_api, record.model, record.status, latency, ttft)
        if error is not None:
            m.error(error.kind.value)
        if dispatch is not None:
            for attempt in dispatch.attempts[:-1]:
                m.retry(attempt.provider)
        for kind, n in (
            ("input", record.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            m.tokens(record.model, kind, n)


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


async def open_gateway_problem(config: Config, host: str, allow_open: bool) -> str | None:
    """Why this gateway must not start: no keys (so anyone may call it) on a non-loopback address
    without an explicit `--allow-open`. None when it may start."""
    if host in LOOPBACK or allow_open:
        return None
    db = Database.from_config(config)
    try:
        await db.start()
        if await KeyStore(db).any_keys():
            return None
    finally:
        await db.close()
    return (
        f"refusing to serve on {host} without API keys: anyone who can reach it could spend your upstream "
        "credit. Create a key (`interlink keys create --name me`) or pass --allow-open."
    )
