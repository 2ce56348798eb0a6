"""Which quarters a resident follows, and which topics they want to hear about."""

from __future__ import annotations

from collections.abc import Collection

from storage.db import Database, to_db_time, utc_now


class SubscriptionRepository:
    """Subscriptions to quarters and the resident's topic filter (empty filter: all topics)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def quarters_of(self, user_id: int) -> frozenset[str]:
        """Quarter ids the resident follows."""
        rows = await self.db.fetchall(
            "SELECT quarter_id FROM subscriptions WHERE user_id = ?", (user_id,)
        )
        return frozenset(row[0] for row in rows)

    async def topics_of(self, user_id: int) -> frozenset[str]:
        """The resident's topic filter; empty means every topic."""
        rows = await self.db.fetchall(
            "SELECT topic_id FROM topic_filters WHERE user_id = ?", (user_id,)
        )
        return frozenset(row[0] for row in rows)

    async def subscribe(self, user_id: int, quarter_ids: Collection[str]) -> None:
        """Follow these quarters (already followed ones stay)."""
        if not quarter_ids:
            return
        now = to_db_time(utc_now())
        await self.db.executemany(
            "INSERT OR IGNORE INTO subscriptions (user_id, quarter_id, created_at) "
            "VALUES (?, ?, ?)",
            [(user_id, quarter_id, now) for quarter_id in sorted(quarter_ids)],
        )

    async def unsubscribe(self, user_id: int, quarter_ids: Collection[str]) -> None:
        """Stop following these quarters."""
        if not quarter_ids:
            return
        marks = ", ".join("?" for _ in quarter_ids)
        await self.db.execute(
            f"DELETE FROM subscriptions WHERE user_id = ? AND quarter_id IN ({marks})",  # noqa: S608
            [user_id, *sorted(quarter_ids)],
        )

    async def set_topics(self, user_id: int, topic_ids: Collection[str]) -> None:
        """Replace the topic filter (an empty collection means all topics)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM topic_filters WHERE user_id = ?", (user_id,))
            await conn.executemany(
                "INSERT INTO topic_filters (user_id, topic_id) VALUES (?, ?)",
                [(user_id, topic_id) for topic_id in sorted(topic_ids)],
            )

    async def stop(self, user_id: int) -> int:
        """Unsubscribe from everything in one step; returns how many quarters were followed."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                "DELETE FROM subscriptions WHERE user_id = ?", (user_id,)
            ) as cursor:
                removed = cursor.rowcount
            await conn.execute("DELETE FROM topic_filters WHERE user_id = ?", (user_id,))
        return removed

    async def subscribers_per_quarter(self) -> dict[str, int]:
        """How many residents follow each quarter."""
        rows = await self.db.fetchall(
            "SELECT quarter_id, count(*) FROM subscriptions GROUP BY quarter_id"
        )
        return {row[0]: int(row[1]) for row in rows}
