"""Staff conversations (a new event, an edit, a broadcast), written through on every step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, from_db_time, to_db_time, utc_now


@dataclass(frozen=True)
class StaffDraft:
    """One staff member's unfinished conversation."""

    user_id: int
    kind: str  # event | event_edit | broadcast
    step: str
    data: dict[str, Any]
    updated_at: datetime


class StaffDraftRepository:
    """At most one draft per staff member; a new one replaces the old."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: int) -> StaffDraft | None:
        """The staff member's draft, if any."""
        row = await self.db.fetchone(
            "SELECT user_id, kind, step, data, updated_at FROM staff_drafts WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return None
        return StaffDraft(
            user_id=int(row[0]),
            kind=str(row[1]),
            step=str(row[2]),
            data=json.loads(row[3]),
            updated_at=from_db_time(row[4]),
        )

    async def save(self, user_id: int, kind: str, step: str, data: dict[str, Any]) -> StaffDraft:
        """Create or replace the draft."""
        now = utc_now().replace(microsecond=0)
        await self.db.execute(
            "INSERT INTO staff_drafts (user_id, kind, step, data, updated_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET kind = excluded.kind, step = excluded.step, "
            "data = excluded.data, updated_at = excluded.updated_at",
            (user_id, kind, step, json.dumps(data, ensure_ascii=False), to_db_time(now)),
        )
        return StaffDraft(user_id, kind, step, dict(data), now)

    async def discard(self, user_id: int) -> bool:
        """Forget the draft; True if there was one."""
        deleted = await self.db.execute(
            "DELETE FROM staff_drafts WHERE user_id = ?",
            (user_id,),
        )
        return deleted > 0

    async def purge(self, older_than: datetime) -> int:
        """Forget drafts nobody touched since `older_than`."""
        return await self.db.execute(
            "DELETE FROM staff_drafts WHERE updated_at < ?",
            (to_db_time(older_than),),
        )
