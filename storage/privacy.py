"""Erasure and retention: what remains of a concern is topic, quarter, dates and status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from storage.concerns import Link
from storage.db import Database, to_db_time, utc_now

# Everything that could identify or describe the resident goes; the statistics stay.
_ANONYMISE_CONCERNS = (
    "UPDATE concerns SET resident_id = NULL, language = NULL, text = NULL, photo_file_id = NULL, "
    "latitude = NULL, longitude = NULL, voice_file_id = NULL, voice_kind = NULL, "
    "voice_seconds = NULL, anonymised_at = ? WHERE id IN ({ids})"
)
# Staff voice replies go too: a resident's voice may be in an officer's quoted answer, and the
# thread of an anonymised concern keeps only who on staff did what, and when.
_ANONYMISE_EVENTS = (
    "UPDATE concern_events SET text = NULL, voice_file_id = NULL, voice_kind = NULL, "
    "voice_seconds = NULL, photo_file_id = NULL, latitude = NULL, longitude = NULL, "
    "author_id = CASE WHEN kind = 'resident' THEN NULL ELSE author_id END "
    "WHERE concern_id IN ({ids})"
)


# Rows that exist only because of this user: subscriptions, topic choices, event sign-ups,
# reminders and broadcast deliveries (chat id == user id in private chats).
_ERASE_USER_ROWS = (
    "DELETE FROM subscriptions WHERE user_id = ?",
    "DELETE FROM topic_filters WHERE user_id = ?",
    "DELETE FROM rsvps WHERE user_id = ?",
    "DELETE FROM reminders_sent WHERE user_id = ?",
    "DELETE FROM deliveries WHERE chat_id = ?",
    "DELETE FROM staff_drafts WHERE user_id = ?",
)


#: Every table with rows about one person, and the column naming them (their private chat's id is
#: their user id). A concern's thread is theirs through the concern (`rows_about`).
PERSONAL_TABLES: dict[str, str] = {
    "residents": "user_id",
    "subscriptions": "user_id",
    "topic_filters": "user_id",
    "rsvps": "user_id",
    "reminders_sent": "user_id",
    "deliveries": "chat_id",
    "concern_links": "chat_id",
    "concerns": "resident_id",
    "concern_drafts": "user_id",
    "staff_drafts": "user_id",
    "outbox": "chat_id",
    "officers": "user_id",
    "audit_log": "actor_id",
}


class PrivacyRepository:
    """The resident's rights of access and erasure, and the retention limit."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def rows_about(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every stored row about the person, table by table, as stored (for /mydata)."""
        records: dict[str, list[dict[str, Any]]] = {}
        async with self.db.reader() as conn:
            conn.row_factory = aiosqlite.Row
            for table, column in PERSONAL_TABLES.items():
                rows = await conn.execute_fetchall(
                    f"SELECT * FROM {table} WHERE {column} = ?",  # noqa: S608 - constant names
                    (user_id,),
                )
                records[table] = [dict(row) for row in rows]
            rows = await conn.execute_fetchall(
                "SELECT * FROM concern_events WHERE concern_id IN "
                "(SELECT id FROM concerns WHERE resident_id = ?) ORDER BY id",
                (user_id,),
            )
            records["concern_events"] = [dict(row) for row in rows]
            rows = await conn.execute_fetchall(
                "SELECT * FROM translations WHERE subject IN (SELECT 'concern:' || id FROM "
                "concerns WHERE resident_id = ? UNION SELECT 'entry:' || e.id FROM "
                "concern_events e JOIN concerns c ON c.id = e.concern_id WHERE c.resident_id = ?)",
                (user_id, user_id),
            )
            records["translations"] = [dict(row) for row in rows]
        return records

    async def erase_resident(self, user_id: int) -> list[Link]:
        """Erase all personal data of a resident; returns staff-group posts to redact."""
        async with self.db.transaction() as conn:
            ids = await _ids(conn, "SELECT id FROM concerns WHERE resident_id = ?", (user_id,))
            posts = await _anonymise(conn, ids, user_id)
            await conn.execute("DELETE FROM concern_drafts WHERE user_id = ?", (user_id,))
            await conn.execute("DELETE FROM concern_links WHERE chat_id = ?", (user_id,))
            await conn.execute("DELETE FROM outbox WHERE chat_id = ?", (user_id,))
            # Updates of theirs not yet marked handled (this very /deleteme among them) still
            # carry their name and username: the content goes now, the ids stay for redelivery.
            await conn.execute(
                "UPDATE inbox SET payload = NULL WHERE payload IS NOT NULL AND EXISTS "
                "(SELECT 1 FROM json_tree(inbox.payload) WHERE key = 'id' AND value = ?)",
                (user_id,),
            )
            for statement in _ERASE_USER_ROWS:
                await conn.execute(statement, (user_id,))
            await conn.execute("DELETE FROM residents WHERE user_id = ?", (user_id,))
        # The WAL still holds the old pages until a checkpoint: erase them now, not eventually.
        await self.db.checkpoint()
        return posts

    async def forgotten_residents(self, unused_since: datetime, limit: int = 500) -> list[int]:
        """Residents to delete: unused since then, no news followed or the bot blocked, and no
        concern the office is still working on."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM residents r WHERE last_seen < ? "
            "AND (inactive_since IS NOT NULL OR NOT EXISTS "
            "(SELECT 1 FROM subscriptions s WHERE s.user_id = r.user_id)) "
            "AND NOT EXISTS (SELECT 1 FROM concerns c WHERE c.resident_id = r.user_id "
            "AND c.status IN ('new', 'in_progress')) ORDER BY last_seen LIMIT ?",
            (to_db_time(unused_since), limit),
        )
        return [int(row[0]) for row in rows]

    async def anonymise_closed(self, closed_before: datetime) -> tuple[int, list[Link]]:
        """Anonymise concerns closed before the cut-off: how many, and staff posts to redact."""
        async with self.db.transaction() as conn:
            ids = await _ids(
                conn,
                "SELECT id FROM concerns WHERE anonymised_at IS NULL "
                "AND closed_at IS NOT NULL AND closed_at < ?",
                (to_db_time(closed_before),),
            )
            posts = await _anonymise(conn, ids, None)
        if ids:
            await self.db.checkpoint()
        return len(ids), posts


async def _ids(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[int]:
    """Ids selected by a query."""
    async with conn.execute(sql, params) as cursor:
        return [int(row[0]) for row in await cursor.fetchall()]


# SQLite's default limit of bound variables is 32,766; stay far below it per statement.
_CHUNK = 500


async def _anonymise(
    conn: aiosqlite.Connection, ids: list[int], resident_chat: int | None
) -> list[Link]:
    """Strip personal data from these concerns inside the caller's transaction."""
    posts: list[Link] = []
    for start in range(0, len(ids), _CHUNK):
        posts += await _anonymise_chunk(conn, ids[start : start + _CHUNK], resident_chat)
    return posts


async def _anonymise_chunk(
    conn: aiosqlite.Connection, ids: list[int], resident_chat: int | None
) -> list[Link]:
    """One chunk of `_anonymise`."""
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    async with conn.execute(
        f"SELECT chat_id, message_id, concern_id, kind FROM concern_links "  # noqa: S608
        f"WHERE concern_id IN ({marks}) ORDER BY concern_id, message_id",
        ids,
    ) as cursor:
        rows = await cursor.fetchall()
    posts = [Link(r[0], r[1], r[2], r[3]) for r in rows if r[0] != resident_chat and r[0] < 0]
    await conn.execute(_ANONYMISE_CONCERNS.format(ids=marks), (to_db_time(utc_now()), *ids))
    await conn.execute(_ANONYMISE_EVENTS.format(ids=marks), ids)
    # Links into the resident's private chat identify them (chat id == user id).
    await conn.execute(
        f"DELETE FROM concern_links WHERE concern_id IN ({marks}) AND chat_id > 0",  # noqa: S608
        ids,
    )
    # Undelivered messages about these concerns have nothing left to say.
    await conn.execute(f"DELETE FROM outbox WHERE concern_id IN ({marks})", ids)  # noqa: S608
    # Translations of their texts go with the texts.
    await conn.execute(
        f"DELETE FROM translations WHERE subject IN (SELECT 'concern:' || id FROM concerns "  # noqa: S608
        f"WHERE id IN ({marks}) UNION SELECT 'entry:' || id FROM concern_events "
        f"WHERE concern_id IN ({marks}))",
        [*ids, *ids],
    )
    return posts
