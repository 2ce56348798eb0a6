"""The update inbox: at-least-once intake of Telegram updates.

An update is committed here before the next getUpdates call confirms it to Telegram, and it is
marked handled only after the handlers ran. A crash in between means it is handled again after the
restart; a redelivered update (same update_id) is recognised and not handled twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage.db import Database, to_db_time, utc_now


class InboxRepository:
    """Received updates and whether they were handled."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(self, updates: Sequence[tuple[int, str]]) -> int:
        """Commit fetched updates (id, JSON); already known ids are ignored. Returns new ones."""
        now = to_db_time(utc_now())
        async with self.db.transaction() as conn:
            before = conn.total_changes
            await conn.executemany(
                "INSERT OR IGNORE INTO inbox (update_id, payload, received_at) VALUES (?, ?, ?)",
                [(update_id, payload, now) for update_id, payload in updates],
            )
            return conn.total_changes - before

    async def pending(self, limit: int = 100) -> list[tuple[int, str]]:
        """Stored but not yet handled updates, oldest first."""
        rows = await self.db.fetchall(
            "SELECT update_id, payload FROM inbox WHERE handled_at IS NULL "
            "ORDER BY update_id LIMIT ?",
            (limit,),
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    async def mark_handled(self, update_id: int) -> None:
        """Handled: forget the content (it is personal data), keep the id against redelivery."""
        await self.db.execute(
            "UPDATE inbox SET handled_at = ?, payload = NULL WHERE update_id = ?",
            (to_db_time(utc_now()), update_id),
        )

    async def last_update_id(self) -> int | None:
        """The highest update id ever stored (the next getUpdates offset is one above)."""
        row = await self.db.fetchone("SELECT max(update_id) FROM inbox")
        return int(row[0]) if row and row[0] is not None else None

    async def purge(self, handled_before: datetime) -> int:
        """Drop handled ids older than any redelivery Telegram would still make (24 h)."""
        # The newest row stays: its id is the next offset after a restart.
        return await self.db.execute(
            "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ? "
            "AND update_id < (SELECT max(update_id) FROM inbox)",
            (to_db_time(handled_before),),
        )
