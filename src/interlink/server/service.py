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
from interlink.core import ChatRequest, ErrorKind, GatewayError, Usage, quoted
from interlink.core.tokens import estimate_input_tokens
from interlink.limits import Limiter, Release, Reservation, create_limiter
from interlink.metrics import Metrics
from interlink.routing.catalog import Route
from interlink.routing.dispatch import Outcome
from interlink.server.access import OPEN, HostCheck, decide_open, no_key_error, open_refusal, presented_secret
from interlink.store import Database
from interlink.usage.budget import Budgets
from interlink.usage.ledger import Ledger
from interlink.usage.pricing import Pricing
from interlink.usage.record import UsageRecord

log = logging.getLogger("interlink")


@dataclass(slots=True)
class Ticket:
    """One admitted request: its principal, what it reserved, and its record once done."""

    principal: Principal
    api: str
    started: float = field(default_factory=time.monotonic)
    reservation: Reservation | None = None
    release: Release | None = None
    recorded: bool = False


@dataclass(slots=True)
class StreamCount:
    """Streams this process is sending now; kept across config reloads (the cap is per process)."""

    open: int = 0


class Service:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.db = Database.from_config(config)
        self.open = False
        """Decided by `start` (and a reload), never per request: see `server.access`."""
        self.hosts = HostCheck(config.server.host, config.server.hosts)
        self.streams = StreamCount()
        self.keys = KeyStore(self.db)
        self.audit = AuditLog(self.db)
        self.ledger = Ledger(self.db)
        self.budgets = Budgets(self.ledger)
        self.limiter: Limiter = create_limiter(config)
        self.pricing = Pricing(config.pricing)
        self.metrics = Metrics(models=list(config.models), providers=list(config.providers))
        self.ledger.on_set_aside = self.metrics.row_set_aside

    async def start(self) -> None:
        await self.db.start()
        await self.decide_mode(self.config)
        await self.ledger.start()

    async def decide_mode(self, config: Config) -> None:
        """Open or keyed, from `server.auth` and what the store holds; refuses to run open where
        the start-up check would have refused to start (a key deleted behind its back)."""
        is_open = decide_open(config.server.auth, await self.keys.ever_had_keys())
        problem = open_refusal(config.server.host, config.server.allow_open) if is_open else None
        if problem:
            raise RuntimeError(problem)
        self.config, self.open = config, is_open
        self.hosts = HostCheck(config.server.host, config.server.hosts)
        if is_open:
            log.warning(
                "no API keys: the gateway is open to anyone who can reach it (model calls only; the admin API "
                "needs a key); create one with `interlink keys create`, then restart or send SIGHUP"
            )

    async def close(self) -> None:
        await self.ledger.close()
        await self.limiter.close()
        await self.db.close()

    async def authenticate(self, request: Request, scope: str) -> Principal:
        """The caller, allowed `scope`, or the API's 401/403. The open or keyed mode was decided at
        start; an open gateway ignores an unknown key (a client configured with a placeholder)."""
        self.hosts.check(request)
        secret = presented_secret(request)
        principal = await self.keys.authenticate(secret) if secret is not None else None
        if principal is None:
            if self.open and scope in OPEN.scopes:
                return OPEN
            if secret is not None and not self.open:
                hint = "" if await self.keys.any_keys() else f"; {no_key_error(False, False, scope).message}"
                raise GatewayError(ErrorKind.AUTHENTICATION, f"invalid API key (unknown, revoked or expired){hint}")
            raise no_key_error(self.open, self.open or await self.keys.any_keys(), scope)
        if scope not in principal.scopes:
            raise GatewayError(ErrorKind.PERMISSION, f"key '{principal.name}' lacks the '{scope}' scope")
        return principal

    async def admit(self, principal: Principal, api: str) -> Ticket:
        """Requests/minute and budget, before the body is even parsed."""
        if principal is not OPEN:
            await self.limiter.check_request(principal.key_id, principal.rpm, name=principal.name)
            await self.budgets.check(principal)
        return Ticket(principal, api)

    def check_model(self, principal: Principal, model: str) -> None:
        if not principal.allows_model(model):
            raise GatewayError(
                ErrorKind.PERMISSION, f"key '{principal.name}' may not use model {quoted(model)}", param="model"
            )

    def check_price(self, principal: Principal, route: Route) -> None:
        """A key with a budget may only call models with a price: an unpriced model costs $0 in
        the ledger, so it would spend the upstream's credit past any budget."""
        if principal.budget_usd is None:
            return
        for deployment in route.deployments:
            if self.pricing.price([route.public_name, deployment.upstream_model]) is None:
                raise GatewayError(
                    ErrorKind.PERMISSION,
                    f"key '{principal.name}' has a budget, and model {quoted(route.public_name)} has no price "
                    "(add it under `pricing:` in the config)",
                    param="model",
                    code="model_not_priced",
                )

    async def reserve(self, ticket: Ticket, chat: ChatRequest) -> None:
        """Model allowed, tokens/minute and concurrent streams, once the request is known."""
        principal = ticket.principal
        self.check_model(principal, chat.model)
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


async def open_gateway_problem(config: Config) -> str | None:
    """Why this gateway must not start (it would run open on a non-loopback address without
    `allow_open`); None when it may. The same decision `Service.start` makes, asked before the
    server binds its port so the error is a clear message, not a failed start-up."""
    if open_refusal(config.server.host, config.server.allow_open) is None:
        return None
    db = Database.from_config(config)
    try:
        await db.start()
        is_open = decide_open(config.server.auth, await KeyStore(db).ever_had_keys())
    finally:
        await db.close()
    return open_refusal(config.server.host, config.server.allow_open) if is_open else None
