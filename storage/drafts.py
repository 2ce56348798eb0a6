"""Staff conversations (a new event, an edit, a broadcast), written through on every step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.cache import ReadCache
from storage.db import Database, from_db_time, to_db_time, utc_now

#: The stored columns of a draft (data still JSON text, so nothing cached can be mutated).
_Row = tuple[int, str, str, str, str]


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
        # Every text message in a private chat asks first whether it answers a staff draft.
        self._rows: ReadCache[int, _Row | None] = ReadCache(1024)
        db.watch("staff_drafts", self._rows.invalidate)

    async def get(self, user_id: int) -> StaffDraft | None:
        """The staff member's draft, if any."""
        row = await self._rows.get_or_load(user_id, lambda: self._load(user_id))
        if row is None:
            return None
        return StaffDraft(
            user_id=row[0],
            kind=row[1],
            step=row[2],
            data=json.loads(row[3]),
            updated_at=from_db_time(row[4]),
        )

    async def _load(self, user_id: int) -> _Row | None:
        """Read the draft's row."""
        row = await self.db.fetchone(
            "SELECT user_id, kind, step, data, updated_at FROM staff_drafts WHERE user_id = ?",
            (user_id,),
        )
        return (int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4])) if row else None

    async def save(self, user_id: int, kind: str, step: str, data: dict[str, Any]) -> StaffDraft:
        """Create or replace the draft."""
        now = utc_now().replace(microsecond=0)
        await self.db.write(
            "INSERT INTO staff_drafts (user_id, kind, step, data, updated_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET kind = excluded.kind, step = excluded.step, "
            "data = excluded.data, updated_at = excluded.updated_at",
            (user_id, kind, step, json.dumps(data, ensure_ascii=False), to_db_time(now)),
            changes=[("staff_drafts", user_id)],
        )
        return StaffDraft(user_id, kind, step, dict(data), now)

    async def discard(self, user_id: int) -> bool:
        """Forget the draft; True if there was one."""
        deleted = await self.db.execute(
            "DELETE FROM staff_drafts WHERE user_id = ?",
            (user_id,),
            changes=[("staff_drafts", user_id)],
        )
        return deleted > 0

    async def purge(self, older_than: datetime) -> int:
        """Forget drafts nobody touched since `older_than`."""
        return await self.db.execute(
            "DELETE FROM staff_drafts WHERE updated_at < ?",
            (to_db_time(older_than),),
            changes=[("staff_drafts", None)],
        )
