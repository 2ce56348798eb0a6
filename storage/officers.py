"""Quarter officers added by admins (officers from the config file live in the config)."""

from __future__ import annotations

from collections.abc import Collection

from storage.audit import write_audit
from storage.db import Database, to_db_time, utc_now


class OfficerRepository:
    """Who serves which quarters; every change audited."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def quarters_of(self, user_id: int) -> frozenset[str]:
        """Quarter ids this user serves as an officer."""
        rows = await self.db.fetchall(
            "SELECT quarter_id FROM officers WHERE user_id = ?", (user_id,)
        )
        return frozenset(row[0] for row in rows)

    async def all(self) -> dict[int, frozenset[str]]:
        """Every officer with their quarters."""
        rows = await self.db.fetchall("SELECT user_id, quarter_id FROM officers ORDER BY user_id")
        result: dict[int, set[str]] = {}
        for row in rows:
            result.setdefault(int(row[0]), set()).add(row[1])
        return {user_id: frozenset(quarters) for user_id, quarters in result.items()}

    async def assign(self, actor_id: int, user_id: int, quarter_ids: Collection[str]) -> None:
        """Make the user an officer of exactly these quarters."""
        now = utc_now()
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM officers WHERE user_id = ?", (user_id,))
            await conn.executemany(
                "INSERT INTO officers (user_id, quarter_id, added_by, added_at) "
                "VALUES (?, ?, ?, ?)",
                [(user_id, q, actor_id, to_db_time(now)) for q in sorted(quarter_ids)],
            )
            await write_audit(
                conn,
                actor_id,
                "staff.add",
                f"user:{user_id}",
                {"quarters": sorted(quarter_ids)},
                now,
            )

    async def remove(self, actor_id: int, user_id: int) -> bool:
        """Remove an officer; False if they were none."""
        async with self.db.transaction() as conn:
            async with conn.execute("DELETE FROM officers WHERE user_id = ?", (user_id,)) as cur:
                removed = cur.rowcount > 0
            if removed:
                await write_audit(conn, actor_id, "staff.remove", f"user:{user_id}")
        return removed
