"""The append-only audit log of staff actions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.db import Database, from_db_time, to_db_time, utc_now


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when, to which subject."""

    id: int
    at: datetime
    actor_id: int
    action: str
    subject: str
    detail: dict[str, object]


async def write_audit(
    conn: aiosqlite.Connection,
    actor_id: int,
    action: str,
    subject: str = "",
    detail: Mapping[str, object] | None = None,
    at: datetime | None = None,
) -> None:
    """Insert an entry in the caller's transaction: the action and its record commit together."""
    await conn.execute(
        "INSERT INTO audit_log (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (
            to_db_time(at or utc_now()),
            actor_id,
            action,
            subject,
            json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True),
        ),
    )


class AuditRepository:
    """Reads and writes the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        actor_id: int,
        action: str,
        subject: str = "",
        detail: Mapping[str, object] | None = None,
    ) -> None:
        """Record an action that has no other write of its own (e.g. a refused attempt)."""
        async with self.db.transaction() as conn:
            await write_audit(conn, actor_id, action, subject, detail)

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        """The newest entries first."""
        rows = await self.db.fetchall(
            "SELECT id, at, actor_id, action, subject, detail FROM audit_log "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            AuditEntry(
                id=row["id"],
                at=from_db_time(row["at"]),
                actor_id=row["actor_id"],
                action=row["action"],
                subject=row["subject"],
                detail=json.loads(row["detail"] or "{}"),
            )
            for row in rows
        ]
