"""Which quarters a resident follows, and which topics they want to hear about."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from storage.cache import ReadCache
from storage.db import Database, to_db_time, utc_now

#: Residents whose followed quarters are kept in memory (/events reads them every time).
CACHED_FOLLOWERS = 4096

_FOLLOWED = "SELECT quarter_id FROM subscriptions WHERE user_id = ?"
_TOPICS = "SELECT topic_id FROM topic_filters WHERE user_id = ?"


def _followed(conn: sqlite3.Connection, user_id: int) -> frozenset[str]:
    """Followed quarter ids, read in SQLite's thread."""
    return frozenset(row[0] for row in conn.execute(_FOLLOWED, (user_id,)))


def _topics(conn: sqlite3.Connection, user_id: int) -> frozenset[str]:
    """The topic filter, read in SQLite's thread."""
    return frozenset(row[0] for row in conn.execute(_TOPICS, (user_id,)))


class SubscriptionRepository:
    """Subscriptions to quarters and the resident's topic filter (empty filter: all topics)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._quarters: ReadCache[int, frozenset[str]] = ReadCache(CACHED_FOLLOWERS)
        self._topics: ReadCache[int, frozenset[str]] = ReadCache(CACHED_FOLLOWERS)
        db.watch("subscriptions", self._quarters.invalidate)
        db.watch("topic_filters", self._topics.invalidate)

    async def quarters_of(self, user_id: int) -> frozenset[str]:
        """Quarter ids the resident follows."""
        return await self._quarters.get_or_load(user_id, lambda: self._load_quarters(user_id))

    async def _load_quarters(self, user_id: int) -> frozenset[str]:
        """Read them from the database."""
        rows = await self.db.fetchall(_FOLLOWED, (user_id,))
        return frozenset(row[0] for row in rows)

    async def topics_of(self, user_id: int) -> frozenset[str]:
        """The resident's topic filter; empty means every topic."""
        return await self._topics.get_or_load(user_id, lambda: self._load_topics(user_id))

    async def _load_topics(self, user_id: int) -> frozenset[str]:
        """Read the filter from the database."""
        rows = await self.db.fetchall(_TOPICS, (user_id,))
        return frozenset(row[0] for row in rows)

    async def subscribe(self, user_id: int, quarter_ids: Collection[str]) -> None:
        """Follow these quarters (already followed ones stay)."""
        if not quarter_ids:
            return
        now = to_db_time(utc_now())
        rows = ", ".join("(?, ?, ?)" for _ in quarter_ids)

        def work(conn: sqlite3.Connection) -> tuple[frozenset[str], frozenset[str]]:
            """Insert, then read what the answer shows (followed quarters, topics): one trip."""
            conn.execute(
                "INSERT OR IGNORE INTO subscriptions (user_id, quarter_id, created_at) "  # noqa: S608
                f"VALUES {rows}",
                [value for q in sorted(quarter_ids) for value in (user_id, q, now)],
            )
            return _followed(conn, user_id), _topics(conn, user_id)

        quarters, topics = await self.db.run(work, [("subscriptions", user_id)])
        # Reported by run(), nothing awaited since: these are the newest values.
        self._quarters.put(user_id, quarters)
        self._topics.put(user_id, topics)

    async def unsubscribe(self, user_id: int, quarter_ids: Collection[str]) -> None:
        """Stop following these quarters."""
        if not quarter_ids:
            return
        marks = ", ".join("?" for _ in quarter_ids)
        await self.db.write(
            f"DELETE FROM subscriptions WHERE user_id = ? AND quarter_id IN ({marks})",  # noqa: S608
            [user_id, *sorted(quarter_ids)],
            changes=[("subscriptions", user_id)],
        )

    async def set_topics(self, user_id: int, topic_ids: Collection[str]) -> None:
        """Replace the topic filter (an empty collection means all topics)."""
        async with self.db.transaction([("topic_filters", user_id)]) as conn:
            await conn.execute("DELETE FROM topic_filters WHERE user_id = ?", (user_id,))
            await conn.executemany(
                "INSERT INTO topic_filters (user_id, topic_id) VALUES (?, ?)",
                [(user_id, topic_id) for topic_id in sorted(topic_ids)],
            )

    async def stop(self, user_id: int) -> int:
        """Unsubscribe from everything in one step; returns how many quarters were followed."""
        stopped = [("subscriptions", user_id), ("topic_filters", user_id)]
        async with self.db.transaction(stopped) as conn:
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
