"""The outbox: messages to someone other than the update's sender, delivered in the background.

A row is written in the same transaction as the change it reports (`enqueue`, like the audit
log's `write_audit`), so a committed reply, status change or new concern always reaches its
recipient, and nothing reaches anyone about a change that was rolled back. A row names what to
send (a concern, an entry of its thread, an event); the text is rendered at delivery in the
recipient's language, so the outbox holds no copy of what residents or staff wrote. A delivered
row is deleted; one Telegram refused for good stays as 'failed' (counted in /stats) until the
retention job removes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.db import Database, from_db_time, to_db_time, utc_now

#: What a row sends (bot/outbox.py renders each kind).
OUTBOX_KINDS: frozenset[str] = frozenset(
    {
        "concern_post",  # a new concern to the staff group
        "concern_photo",  # its photo, under the post
        "concern_voice",  # its voice message, under the post
        "followup",  # a resident's follow-up to the staff group
        "followup_voice",  # the voice message of a follow-up, under the post
        "followup_photo",  # a photo a resident added later, under the post
        "reply",  # a staff reply to the resident
        "reply_voice",  # the voice message of a staff reply, after its text
        "status",  # a status change (with its note) to the resident
        "withdrawn",  # the resident withdrew a concern: the staff group hears of it
        "promoted",  # a waiting resident got a place
        "event_cancelled",  # an event a resident registered for was called off
        "event_changed",  # its time or place changed (with a new calendar file)
    }
)


@dataclass(frozen=True)
class OutboxMessage:
    """One message waiting for delivery."""

    id: int
    chat_id: int
    kind: str
    concern_id: int | None
    entry_id: int | None
    event_id: int | None
    attempts: int
    not_before: datetime
    created_at: datetime


_COLUMNS = "id, chat_id, kind, concern_id, entry_id, event_id, attempts, not_before, created_at"


def _message(row: Sequence[object]) -> OutboxMessage:
    """Row → OutboxMessage."""
    (id_, chat_id, kind, concern_id, entry_id, event_id, attempts, not_before, created) = row
    return OutboxMessage(
        id=int(str(id_)),
        chat_id=int(str(chat_id)),
        kind=str(kind),
        concern_id=int(str(concern_id)) if concern_id is not None else None,
        entry_id=int(str(entry_id)) if entry_id is not None else None,
        event_id=int(str(event_id)) if event_id is not None else None,
        attempts=int(str(attempts)),
        not_before=from_db_time(str(not_before)),
        created_at=from_db_time(str(created)),
    )


async def enqueue(
    conn: aiosqlite.Connection,
    chat_id: int,
    kind: str,
    *,
    concern_id: int | None = None,
    entry_id: int | None = None,
    event_id: int | None = None,
) -> int:
    """Add a message inside the caller's transaction; returns its id."""
    if kind not in OUTBOX_KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    now = to_db_time(utc_now())
    (row,) = await conn.execute_fetchall(
        "INSERT INTO outbox (chat_id, kind, concern_id, entry_id, event_id, not_before, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (chat_id, kind, concern_id, entry_id, event_id, now, now),
    )
    return int(row[0])


@dataclass(frozen=True)
class OutboxCounts:
    """What /stats shows of the outbox."""

    waiting: int
    failed: int


class OutboxRepository:
    """Typed access to the outbox table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def due(self, now: datetime, limit: int = 100) -> list[OutboxMessage]:
        """Waiting messages whose time has come, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = 'waiting' AND not_before <= ? "  # noqa: S608
            "ORDER BY id LIMIT ?",
            (to_db_time(now), limit),
        )
        return [_message(row) for row in rows]

    async def behind_its_text(self, message: OutboxMessage) -> bool:
        """A recording whose text (the post, the follow-up, the reply that announces it) is
        still in the outbox, say waiting to be tried again: the recording must not go first."""
        row = await self.db.fetchone(
            "SELECT 1 FROM outbox WHERE chat_id = ? AND concern_id IS ? AND id < ? "
            "AND state != 'failed' LIMIT 1",
            (message.chat_id, message.concern_id, message.id),
        )
        return row is not None

    async def next_due(self) -> datetime | None:
        """When the earliest waiting message may go (None: nothing waits)."""
        row = await self.db.fetchone("SELECT min(not_before) FROM outbox WHERE state = 'waiting'")
        return from_db_time(row[0]) if row and row[0] else None

    async def claim(self, message_id: int) -> bool:
        """Mark it as on its way (a crash from here on repeats it once); False if gone."""
        changed = await self.db.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1 "
            "WHERE id = ? AND state = 'waiting'",
            (message_id,),
        )
        return changed == 1

    async def delivered(self, message_id: int) -> None:
        """Telegram has it: forget the row."""
        await self.db.execute("DELETE FROM outbox WHERE id = ?", (message_id,))

    async def retry_at(self, message_id: int, when: datetime) -> None:
        """Not delivered this time (flood limit, Telegram down): try again then."""
        await self.db.execute(
            "UPDATE outbox SET state = 'waiting', not_before = ? WHERE id = ?",
            (to_db_time(when), message_id),
        )

    async def failed(self, message_id: int) -> None:
        """Telegram refused it for good (blocked, chat gone): kept only to be counted."""
        await self.db.execute("UPDATE outbox SET state = 'failed' WHERE id = ?", (message_id,))

    async def requeue_interrupted(self) -> int:
        """At start: messages that were on their way when the bot stopped go out again."""
        return await self.db.execute("UPDATE outbox SET state = 'waiting' WHERE state = 'sending'")

    async def state_of(self, message_id: int) -> str | None:
        """'waiting', 'sending', 'failed', or None once delivered."""
        row = await self.db.fetchone("SELECT state FROM outbox WHERE id = ?", (message_id,))
        return str(row[0]) if row else None

    async def counts(self) -> OutboxCounts:
        """Waiting (including on their way) and failed messages."""
        rows = await self.db.fetchall(
            "SELECT state = 'failed', count(*) FROM outbox GROUP BY state = 'failed'"
        )
        by_state = {bool(row[0]): int(row[1]) for row in rows}
        return OutboxCounts(waiting=by_state.get(False, 0), failed=by_state.get(True, 0))

    async def for_chat(self, chat_id: int) -> list[OutboxMessage]:
        """Messages still to be delivered to one chat (for the resident's /mydata)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM outbox WHERE chat_id = ? ORDER BY id",  # noqa: S608
            (chat_id,),
        )
        return [_message(row) for row in rows]

    async def purge_failed(self, before: datetime) -> int:
        """Retention: failed messages older than `before` are dropped."""
        return await self.db.execute(
            "DELETE FROM outbox WHERE state = 'failed' AND created_at < ?",
            (to_db_time(before),),
        )
