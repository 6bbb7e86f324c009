"""The audit log: who changed who may call the gateway, and when.

Every change to the key table (a key created, a key revoked) writes one `audit_log` row in the
same transaction as the change, so a change without its record cannot happen, and one JSON log
line. Rows hold names, ids and settings — never a secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from interlink.store.schema import audit_log

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from interlink.store import Database

log = logging.getLogger("interlink.audit")

SOURCES = ("cli", "api", "console")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a key's name for the admin API and console, the OS user for the CLI."""

    name: str
    source: str = "cli"

    @classmethod
    def cli(cls) -> Actor:
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry in some containers
            user = "unknown"
        return cls(f"cli:{user}", "cli")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts: datetime
    actor: str
    source: str
    action: str
    target: str
    detail: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "actor": self.actor,
            "source": self.source,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


async def record(
    conn: AsyncConnection, actor: Actor, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """One audit row inside the caller's transaction, and its log line."""
    await conn.execute(
        sa.insert(audit_log).values(
            ts=datetime.now(UTC),
            actor=actor.name[:200],
            source=actor.source,
            action=action,
            target=target[:200],
            detail=detail,
        )
    )
    log.info(
        "audit", extra={"fields": {"actor": actor.name, "source": actor.source, "action": action, "target": target}}
    )


class AuditLog:
    """Reading the audit log (the CLI and the console list it; only `record` writes)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def recent(self, *, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Newest first; `before_id` pages back (keyset pagination, no OFFSET)."""
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(max(1, min(limit, 1000)))
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditEntry(
                id=row.id,
                ts=row.ts,
                actor=row.actor,
                source=row.source,
                action=row.action,
                target=row.target,
                detail=row.detail,
            )
            for row in rows
        ]
