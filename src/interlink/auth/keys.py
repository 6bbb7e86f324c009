"""API keys: creating, listing, revoking, and turning a presented secret into a `Principal`.

A secret is `sk-il-` + 32 URL-safe random characters. It is returned once by `create()` and
never stored: the table holds its SHA-256 (a secret with 192 random bits needs no slow hash) and
a short display prefix. `authenticate()` caches results for at most `cache_ttl` (1 s), so a key
revoked on another replica stops working within a second, without a query per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from interlink.auth import audit
from interlink.auth.audit import Actor
from interlink.core.errors import GatewayError
from interlink.store.cached import Cached
from interlink.store.database import OUTAGE_GRACE_SECONDS, reachable
from interlink.store.schema import api_keys

if TYPE_CHECKING:
    from collections.abc import Iterable

    from interlink.store import Database

SECRET_PREFIX = "sk-il-"
SECRET_LENGTH = len(SECRET_PREFIX) + 32
DISPLAY_PREFIX_LENGTH = len(SECRET_PREFIX) + 4
SCOPES = frozenset({"inference", "models", "admin"})
DEFAULT_SCOPES = frozenset({"inference", "models"})
PERIODS = ("day", "week", "month", "total")
# What the audit row of a new key records: its settings, never its secret or hash.
_AUDITED = ("scopes", "models", "rpm", "tpm", "max_streams", "budget_usd", "budget_period", "expires_at")
Period = Literal["day", "week", "month", "total"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what they may do. Holds no secret, so it is safe to log."""

    key_id: str
    name: str
    scopes: frozenset[str]
    models: frozenset[str] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_streams: int | None = None
    budget_usd: float | None = None
    budget_period: Period | None = None
    expires_at: datetime | None = None

    def allows_model(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as `keys list` and `GET /admin/keys` show it: everything but the secret."""

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    models: tuple[str, ...] | None
    rpm: int | None
    tpm: int | None
    max_streams: int | None
    budget_usd: float | None
    budget_period: str | None
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        iso = lambda value: value.isoformat() if value else None  # noqa: E731
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "models": None if self.models is None else list(self.models),
            "rpm": self.rpm,
            "tpm": self.tpm,
            "max_streams": self.max_streams,
            "budget_usd": self.budget_usd,
            "budget_period": self.budget_period,
            "expires_at": iso(self.expires_at),
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
            "status": self.status,
        }


def _is_none(value: object) -> bool:
    return value is None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _looks_like_secret(secret: str) -> bool:
    return len(secret) == SECRET_LENGTH and secret.startswith(SECRET_PREFIX)


def expiry_from(value: datetime | date | str | None) -> datetime | None:
    """A datetime (UTC assumed when naive), or a date meaning "valid through that UTC day"."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value.strip()) == 10 else datetime.fromisoformat(value)
        except ValueError:
            raise GatewayError.invalid(
                f"expires must be YYYY-MM-DD or an ISO datetime, not {value!r}", "expires"
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)


def _clean_names(values: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = values.split(",")
    cleaned = tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    return cleaned or None


def _positive(name: str, value: int | float | None) -> None:
    if value is not None and value <= 0:
        raise GatewayError.invalid(f"{name} must be positive", name)


def _validate(
    name: str, scopes: tuple[str, ...], budget_usd: float | None, period: str | None, limits: dict[str, int | None]
) -> None:
    if not name or len(name) > 200 or name != name.strip():
        raise GatewayError.invalid("name must be 1-200 characters without surrounding spaces", "name")
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise GatewayError.invalid(
            f"unknown scope(s) {', '.join(unknown)} (known: {', '.join(sorted(SCOPES))})", "scopes"
        )
    if period is not None and period not in PERIODS:
        raise GatewayError.invalid(f"period must be one of {', '.join(PERIODS)}", "period")
    if period is not None and budget_usd is None:
        raise GatewayError.invalid("period needs a budget_usd", "period")
    _positive("budget_usd", budget_usd)
    for field, value in limits.items():
        _positive(field, value)


def _principal(row: Any) -> Principal:
    return Principal(
        key_id=row.id,
        name=row.name,
        scopes=frozenset(row.scopes),
        models=None if row.models is None else frozenset(row.models),
        rpm=row.rpm,
        tpm=row.tpm,
        max_streams=row.max_streams,
        budget_usd=row.budget_usd,
        budget_period=row.budget_period,
        expires_at=row.expires_at,
    )


def _info(row: Any) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(sorted(row.scopes)),
        models=None if row.models is None else tuple(row.models),
        rpm=row.rpm,
        tpm=row.tpm,
        max_streams=row.max_streams,
        budget_usd=row.budget_usd,
        budget_period=row.budget_period,
        expires_at=row.expires_at,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class KeyStore:
    """The `api_keys` table, with a short-lived authentication cache in front of it."""

    def __init__(self, db: Database, *, cache_ttl: float = 1.0, cache_size: int = 10_000) -> None:
        self.db = db
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        # secret hash -> the row's principal and revoked flag, or None when unknown
        self._principals: Cached[str, tuple[Principal, bool] | None] = Cached(
            self._fetch, ttl=cache_ttl, max_size=cache_size, stale_for=OUTAGE_GRACE_SECONDS, is_miss=_is_none
        )
        # (any active key, when the last of them expires): asked on every keyless request.
        self._any: Cached[None, tuple[bool, datetime | None]] = Cached(
            self._fetch_any, ttl=cache_ttl, stale_for=OUTAGE_GRACE_SECONDS
        )

    async def create(
        self,
        name: str,
        scopes: Iterable[str] | str | None = None,
        models: Iterable[str] | str | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        budget_usd: float | None = None,
        period: Period | None = None,
        expires: datetime | date | str | None = None,
        max_streams: int | None = None,
        actor: Actor | None = None,
    ) -> tuple[Principal, str]:
        """A new key and its secret (shown once). A budget without a period is per month.
        The change is audited as `actor`'s (the CLI's OS user when not given)."""
        scope_set = tuple(sorted(_clean_names(scopes) or DEFAULT_SCOPES))
        model_list = _clean_names(models)
        if budget_usd is not None and period is None:
            period = "month"
        _validate(name, scope_set, budget_usd, period, {"rpm": rpm, "tpm": tpm, "max_streams": max_streams})
        secret = SECRET_PREFIX + secrets.token_urlsafe(24)
        values = {
            "id": "key_" + secrets.token_hex(8),
            "name": name,
            "prefix": secret[:DISPLAY_PREFIX_LENGTH],
            "secret_hash": hash_secret(secret),
            "scopes": list(scope_set),
            "models": None if model_list is None else list(model_list),
            "rpm": rpm,
            "tpm": tpm,
            "max_streams": max_streams,
            "budget_usd": None if budget_usd is None else float(budget_usd),
            "budget_period": period,
            "expires_at": expiry_from(expires),
            "created_at": datetime.now(UTC),
            "revoked_at": None,
        }
        async with self.db.engine.begin() as conn:
            taken = await conn.scalar(sa.select(sa.func.count()).where(api_keys.c.name == name))
            if taken:
                raise GatewayError.invalid(f"a key named {name!r} already exists", "name")
            try:
                await conn.execute(sa.insert(api_keys).values(**values))
            except sa.exc.IntegrityError:
                # Two creates racing for one name: the unique constraint decides.
                raise GatewayError.invalid(f"a key named {name!r} already exists", "name") from None
            settings = {k: _plain(values[k]) for k in _AUDITED if values[k] is not None}
            await audit.record(conn, actor or Actor.cli(), "key.create", f"{name} ({values['id']})", settings)
        self._forget()  # a cached "unknown secret" or "no keys" must not outlive this
        return _principal(SimpleNamespace(**values)), secret

    async def list(self) -> list[KeyInfo]:
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.name))).all()
        return [_info(row) for row in rows]

    async def get(self, name_or_id: str) -> KeyInfo | None:
        query = sa.select(api_keys).where(sa.or_(api_keys.c.name == name_or_id, api_keys.c.id == name_or_id))
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _info(row)

    async def revoke(self, name_or_id: str, actor: Actor | None = None) -> bool:
        """Revoke one active key by id or name; False when there is no such active key. A
        value that is one key's id and another key's name is refused as ambiguous: a revoke
        must never take two keys."""
        match = sa.or_(api_keys.c.name == name_or_id, api_keys.c.id == name_or_id)
        async with self.db.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(api_keys.c.id, api_keys.c.name).where(match, api_keys.c.revoked_at.is_(None))
                )
            ).all()
            if len(rows) > 1:
                raise GatewayError.invalid(
                    f"{name_or_id!r} is one key's id and another key's name; revoke by id: "
                    + ", ".join(f"{row.id} ({row.name})" for row in rows),
                    "name",
                )
            if not rows:
                return False
            key_id, name = rows[0]
            query = sa.update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            result = await conn.execute(query.values(revoked_at=datetime.now(UTC)))
            if result.rowcount:
                await audit.record(conn, actor or Actor.cli(), "key.revoke", f"{name} ({key_id})")
        # This process sees its own revocation at once; other replicas within `cache_ttl`.
        self._forget()
        return result.rowcount > 0

    def _forget(self) -> None:
        self._principals.invalidate()
        self._any.invalidate()

    async def any_keys(self) -> bool:
        """Whether any key is active (not revoked, not expired). Cached like `authenticate`, so
        keyless or bad-key requests do not cost a query each."""
        found, last_expiry = await self._any.get(None)
        if last_expiry is not None and last_expiry <= datetime.now(UTC):
            # The last active key expired within the cache window: ask again now.
            self._any.invalidate()
            found, last_expiry = await self._any.get(None)
        return found

    async def ever_had_keys(self) -> bool:
        """Whether the store holds any key at all, active, revoked or expired (asked at start)."""
        async with self.db.engine.connect() as conn:
            return bool(await conn.scalar(sa.select(api_keys.c.id).limit(1)))

    async def _fetch_any(self, _: None) -> tuple[bool, datetime | None]:
        now = datetime.now(UTC)
        query = sa.select(api_keys.c.expires_at).where(
            api_keys.c.revoked_at.is_(None), sa.or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now)
        )
        async with reachable("API keys"), self.db.engine.connect() as conn:
            expiries = (await conn.execute(query.limit(1000))).scalars().all()
        return bool(expiries), None if not expiries or None in expiries else max(expiries)

    async def authenticate(self, secret: str | None) -> Principal | None:
        """The key's principal, or None for an unknown, revoked or expired secret."""
        if not secret or not _looks_like_secret(secret):
            return None
        found = await self._principals.get(hash_secret(secret))
        if found is None:
            return None
        principal, revoked = found
        # Checked on every call, not cached: a key may expire between two requests.
        if revoked or (principal.expires_at is not None and principal.expires_at <= datetime.now(UTC)):
            return None
        return principal

    async def _fetch(self, digest: str) -> tuple[Principal, bool] | None:
        async with reachable("API keys"), self.db.engine.connect() as conn:
            row = (await conn.execute(sa.select(api_keys).where(api_keys.c.secret_hash == digest))).first()
        # The index lookup already matched; the constant-time compare guards against a backend
        # whose comparison is looser (collation, trailing spaces) than byte equality.
        if row is None or not hmac.compare_digest(row.secret_hash.encode(), digest.encode()):
            return None
        return _principal(row), row.revoked_at is not None
