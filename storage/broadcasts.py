"""Broadcasts to subscribed residents and their durable per-chat deliveries.

Every delivery is a row that moves pending → sending → sent | failed | blocked. 'sending' is
written before the message goes out and the outcome after it, so a crash in between leaves
'sending' rows: `recover_in_flight` sends those again. The guarantee is therefore *at least
once* for every recipient, and a repeat is possible only for the messages in flight at the
moment of the crash.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import aiosqlite

from storage.db import Database, from_db_time, to_db_time, utc_now

BROADCAST_STATUSES: tuple[str, ...] = ("scheduled", "sending", "done", "cancelled")
DELIVERY_STATES: tuple[str, ...] = ("pending", "sending", "sent", "failed", "blocked")

#: Delivery rows written per transaction when a broadcast starts (see `start`).
START_CHUNK = 2_000

#: A "send now" broadcast is started by its creator right away; one still unstarted after this
#: long was lost to a crash between creating and starting, so the scheduler picks it up.
SEND_NOW_GRACE = timedelta(minutes=1)

Outcome = Literal["sent", "retry", "failed", "blocked"]


@dataclass(frozen=True)
class Broadcast:
    """A message to the residents of some quarters, sent now or at a scheduled time."""

    id: int
    created_by: int
    quarters: tuple[str, ...]
    topic_id: str | None
    language: str | None
    text: str  # HTML
    photo_file_id: str | None
    event_id: int | None
    status: str
    scheduled_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    report_chat_id: int | None
    progress_message_id: int | None


@dataclass(frozen=True)
class Delivery:
    """One recipient of a broadcast."""

    broadcast_id: int
    chat_id: int
    state: str
    attempts: int  # unsuccessful tries so far (a flood-control wait does not count)
    next_attempt_at: datetime | None
    message_id: int | None
    last_error: str | None


@dataclass(frozen=True)
class DeliveryResult:
    """What happened when one delivery was sent."""

    chat_id: int
    outcome: Outcome
    message_id: int | None = None
    error: str | None = None
    retry_at: datetime | None = None
    #: False for a flood-control wait (Telegram 429): the message was never refused.
    count_attempt: bool = True


@dataclass(frozen=True)
class BroadcastCounts:
    """Deliveries of one broadcast per state."""

    total: int
    pending: int
    sending: int
    sent: int
    failed: int
    blocked: int

    @property
    def open(self) -> int:
        """Deliveries without a final outcome yet."""
        return self.pending + self.sending


_COLUMNS = (
    "id, created_by, quarters, topic_id, language, text, photo_file_id, event_id, status, "
    "scheduled_at, created_at, started_at, finished_at, report_chat_id, progress_message_id"
)
_DELIVERY_COLUMNS = (
    "broadcast_id, chat_id, state, attempts, next_attempt_at, message_id, last_error"
)


def _time(value: str | None) -> datetime | None:
    """Optional stored time."""
    return from_db_time(value) if value else None


def _retry_time(value: datetime | None) -> str | None:
    """Stored times have whole seconds: round a retry time up, so it is never early."""
    if value is None:
        return None
    whole = value.replace(microsecond=0)
    return to_db_time(whole if whole == value else whole + timedelta(seconds=1))


def _broadcast(row: aiosqlite.Row) -> Broadcast:
    """Row → Broadcast."""
    return Broadcast(
        id=row["id"],
        created_by=row["created_by"],
        quarters=tuple(json.loads(row["quarters"])),
        topic_id=row["topic_id"],
        language=row["language"],
        text=row["text"],
        photo_file_id=row["photo_file_id"],
        event_id=row["event_id"],
        status=row["status"],
        scheduled_at=_time(row["scheduled_at"]),
        created_at=from_db_time(row["created_at"]),
        started_at=_time(row["started_at"]),
        finished_at=_time(row["finished_at"]),
        report_chat_id=row["report_chat_id"],
        progress_message_id=row["progress_message_id"],
    )


def _delivery(row: aiosqlite.Row) -> Delivery:
    """Row → Delivery."""
    return Delivery(
        broadcast_id=row["broadcast_id"],
        chat_id=row["chat_id"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=_time(row["next_attempt_at"]),
        message_id=row["message_id"],
        last_error=row["last_error"],
    )


def _recipients_sql(
    quarters: Collection[str], topic_id: str | None, language: str | None
) -> tuple[str, list[Any]]:
    """SELECT of the recipients' user ids (placeholders only) and its parameters.

    Active residents subscribed to any of the quarters; with a topic, only those who chose it
    or chose no topics at all (no rows = all topics); with a language, only its speakers.
    """
    marks = ", ".join("?" for _ in quarters) or "NULL"
    sql = (
        "SELECT DISTINCT s.user_id FROM subscriptions s "  # noqa: S608 - placeholders only
        "JOIN residents r ON r.user_id = s.user_id "
        f"WHERE s.quarter_id IN ({marks}) AND r.inactive_since IS NULL "
        "AND (? IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM topic_filters f WHERE f.user_id = s.user_id) "
        "OR EXISTS (SELECT 1 FROM topic_filters f WHERE f.user_id = s.user_id "
        "AND f.topic_id = ?)) "
        "AND (? IS NULL OR r.language = ?)"
    )
    return sql, [*quarters, topic_id, topic_id, language, language]


async def _fetchone(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    """First row of a query inside a transaction."""
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


class BroadcastRepository:
    """Typed access to broadcasts and their deliveries."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- creating and targeting -----------------------------------------------------------

    async def create(
        self,
        created_by: int,
        quarters: Sequence[str],
        topic_id: str | None,
        language: str | None,
        text: str,
        photo_file_id: str | None,
        event_id: int | None = None,
        scheduled_at: datetime | None = None,
    ) -> Broadcast:
        """Store a new broadcast ('scheduled'; without a time the caller starts it right away)."""
        async with self.db.transaction() as conn:
            row = await _fetchone(
                conn,
                "INSERT INTO broadcasts (created_by, quarters, topic_id, language, text, "
                "photo_file_id, event_id, status, scheduled_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?) RETURNING id",
                (
                    created_by,
                    json.dumps(list(quarters)),
                    topic_id,
                    language,
                    text,
                    photo_file_id,
                    event_id,
                    to_db_time(scheduled_at) if scheduled_at else None,
                    to_db_time(utc_now()),
                ),
            )
        assert row is not None
        broadcast = await self.get(int(row[0]))
        assert broadcast is not None
        return broadcast

    async def count_recipients(
        self, quarters: Collection[str], topic_id: str | None, language: str | None
    ) -> int:
        """How many residents a broadcast with this targeting would reach now."""
        sql, params = _recipients_sql(quarters, topic_id, language)
        row = await self.db.fetchone(f"SELECT count(*) FROM ({sql})", params)  # noqa: S608
        return int(row[0]) if row else 0

    async def recipients_by_language(
        self, quarters: Collection[str], topic_id: str | None, language: str | None
    ) -> dict[str, int]:
        """How many residents a broadcast would reach now, per chosen language ('' unknown)."""
        sql, params = _recipients_sql(quarters, topic_id, language)
        rows = await self.db.fetchall(
            f"SELECT coalesce(r.language, ''), count(*) FROM ({sql}) t "  # noqa: S608
            "JOIN residents r ON r.user_id = t.user_id GROUP BY 1 ORDER BY 2 DESC",
            params,
        )
        return {str(row[0]): int(row[1]) for row in rows}

    # -- the delivery cycle ---------------------------------------------------------------

    async def start(self, broadcast_id: int) -> int:
        """Write a delivery row per recipient, then mark the broadcast 'sending'; returns the rows.

        The recipients are read once on the separate read-only connection and written in chunks of
        START_CHUNK rows, each its own short transaction: a million recipients never hold the
        shared connection (and residents' answers) for seconds. A start cut short by a crash is
        repeated in full (the broadcast is still 'scheduled'); rows already written are kept. A
        broadcast already 'sending' (resumed after a crash) keeps its deliveries as they are.
        """
        broadcast = await self.get(broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status == "scheduled":
            await self._write_deliveries(broadcast)
            now = to_db_time(utc_now())
            await self.db.execute(
                "UPDATE broadcasts SET status = 'sending', started_at = ? "
                "WHERE id = ? AND status = 'scheduled'",
                (now, broadcast_id),
            )
        row = await self.db.fetchone(
            "SELECT count(*) FROM deliveries WHERE broadcast_id = ?", (broadcast_id,)
        )
        return int(row[0]) if row else 0

    async def _write_deliveries(self, broadcast: Broadcast) -> None:
        """A 'pending' row per recipient, chunk by chunk, while the broadcast is 'scheduled'."""
        sql, params = _recipients_sql(broadcast.quarters, broadcast.topic_id, broadcast.language)
        now = to_db_time(utc_now())
        async with self.db.reader() as reader, reader.execute(sql, params) as cursor:
            while chunk := await cursor.fetchmany(START_CHUNK):
                async with self.db.transaction() as conn:
                    # Cancelled meanwhile: a cancelled broadcast gets no new pending rows.
                    status = await _fetchone(
                        conn, "SELECT status FROM broadcasts WHERE id = ?", (broadcast.id,)
                    )
                    if status is None or status[0] != "scheduled":
                        return
                    # OR IGNORE: UNIQUE (broadcast_id, chat_id) makes a repeated start a no-op.
                    await conn.executemany(
                        "INSERT OR IGNORE INTO deliveries (broadcast_id, chat_id, state, "
                        "updated_at) VALUES (?, ?, 'pending', ?)",
                        [(broadcast.id, row[0], now) for row in chunk],
                    )

    async def recover_in_flight(self, broadcast_id: int) -> int:
        """Put deliveries a crash left in 'sending' back to 'pending'; returns how many.

        They may have reached their chat already: these few are the only possible repeats.
        """
        return await self.db.execute(
            "UPDATE deliveries SET state = 'pending', updated_at = ? "
            "WHERE broadcast_id = ? AND state = 'sending'",
            (to_db_time(utc_now()), broadcast_id),
        )

    async def claim(self, broadcast_id: int, now: datetime) -> Delivery | None:
        """Mark one due pending delivery 'sending' (before sending it) and return it.

        None when nothing is due, or the broadcast is not 'sending' (cancelled, say).
        """
        # No ORDER BY: rows come in index order (first tries, then retries by due time), and
        # sorting a million pending rows for every claim would cost far more than it is worth.
        async with self.db.transaction() as conn:
            row = await _fetchone(
                conn,
                "UPDATE deliveries SET state = 'sending', updated_at = ? "  # noqa: S608
                "WHERE rowid = (SELECT rowid FROM deliveries WHERE broadcast_id = ? "
                "AND state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
                "LIMIT 1) "
                "AND EXISTS (SELECT 1 FROM broadcasts WHERE id = ? AND status = 'sending') "
                f"RETURNING {_DELIVERY_COLUMNS}",
                (to_db_time(utc_now()), broadcast_id, to_db_time(now), broadcast_id),
            )
        return _delivery(row) if row else None

    async def record(self, broadcast_id: int, result: DeliveryResult) -> None:
        """Write the outcome of one sent delivery (after sending it)."""
        now = to_db_time(utc_now())
        key = (broadcast_id, result.chat_id)
        async with self.db.transaction() as conn:
            if result.outcome == "sent":
                await conn.execute(
                    "UPDATE deliveries SET state = 'sent', message_id = ?, next_attempt_at = NULL, "
                    "last_error = NULL, updated_at = ? WHERE broadcast_id = ? AND chat_id = ?",
                    (result.message_id, now, *key),
                )
            elif result.outcome == "retry":
                await conn.execute(
                    "UPDATE deliveries SET state = 'pending', attempts = attempts + ?, "
                    "next_attempt_at = ?, last_error = ?, updated_at = ? "
                    "WHERE broadcast_id = ? AND chat_id = ?",
                    (
                        int(result.count_attempt),
                        _retry_time(result.retry_at),
                        result.error,
                        now,
                        *key,
                    ),
                )
                # A retry recorded after a cancel would revive a delivery the cancel ended.
                await conn.execute(
                    "UPDATE deliveries SET state = 'failed', last_error = 'cancelled', "
                    "next_attempt_at = NULL WHERE broadcast_id = ? AND chat_id = ? "
                    "AND EXISTS (SELECT 1 FROM broadcasts WHERE id = ? AND status = 'cancelled')",
                    (*key, broadcast_id),
                )
            else:
                await conn.execute(
                    "UPDATE deliveries SET state = ?, attempts = attempts + 1, "
                    "next_attempt_at = NULL, last_error = ?, updated_at = ? "
                    "WHERE broadcast_id = ? AND chat_id = ?",
                    (result.outcome, result.error, now, *key),
                )

    async def next_attempt(self, broadcast_id: int) -> datetime | None:
        """When the earliest waiting retry is due; None if something is due now or nothing waits."""
        row = await self.db.fetchone(
            "SELECT count(*), count(next_attempt_at), min(next_attempt_at) FROM deliveries "
            "WHERE broadcast_id = ? AND state = 'pending'",
            (broadcast_id,),
        )
        if row is None or row[0] == 0 or row[0] != row[1]:
            return None
        return from_db_time(row[2])

    async def counts(self, broadcast_id: int) -> BroadcastCounts:
        """Deliveries per state."""
        rows = await self.db.fetchall(
            "SELECT state, count(*) FROM deliveries WHERE broadcast_id = ? GROUP BY state",
            (broadcast_id,),
        )
        per_state = {state: 0 for state in DELIVERY_STATES} | {r[0]: int(r[1]) for r in rows}
        return BroadcastCounts(total=sum(per_state.values()), **per_state)

    async def finish(self, broadcast_id: int) -> None:
        """Mark a sending broadcast 'done' (a cancelled one stays cancelled)."""
        await self.db.execute(
            "UPDATE broadcasts SET status = 'done', finished_at = ? "
            "WHERE id = ? AND status = 'sending'",
            (to_db_time(utc_now()), broadcast_id),
        )

    async def forget_deliveries(self, finished_before: datetime) -> int:
        """Retention: who received which broadcast, for broadcasts that ended before then."""
        return await self.db.execute(
            "DELETE FROM deliveries WHERE broadcast_id IN "
            "(SELECT id FROM broadcasts WHERE finished_at IS NOT NULL AND finished_at < ?)",
            (to_db_time(finished_before),),
        )

    async def cancel(self, broadcast_id: int) -> bool:
        """Cancel a scheduled or sending broadcast; its pending deliveries will not be sent."""
        now = to_db_time(utc_now())
        async with self.db.transaction() as conn:
            async with conn.execute(
                "UPDATE broadcasts SET status = 'cancelled', finished_at = ? "
                "WHERE id = ? AND status IN ('scheduled', 'sending')",
                (now, broadcast_id),
            ) as cursor:
                cancelled = cursor.rowcount > 0
            if cancelled:
                # Deliveries already 'sending' are on their way; their outcome is still recorded.
                await conn.execute(
                    "UPDATE deliveries SET state = 'failed', last_error = 'cancelled', "
                    "next_attempt_at = NULL, updated_at = ? "
                    "WHERE broadcast_id = ? AND state = 'pending'",
                    (now, broadcast_id),
                )
        return cancelled

    # -- reading --------------------------------------------------------------------------

    async def get(self, broadcast_id: int) -> Broadcast | None:
        """A broadcast by id."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM broadcasts WHERE id = ?",  # noqa: S608 - constant columns
            (broadcast_id,),
        )
        return _broadcast(row) if row else None

    async def deliveries(self, broadcast_id: int) -> list[Delivery]:
        """All deliveries of a broadcast, in chat order."""
        rows = await self.db.fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries "  # noqa: S608 - constant columns
            "WHERE broadcast_id = ? ORDER BY chat_id",
            (broadcast_id,),
        )
        return [_delivery(row) for row in rows]

    async def list_recent(self, created_by: int | None, limit: int = 10) -> list[Broadcast]:
        """Newest broadcasts first, of one author or (None) of everybody."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM broadcasts "  # noqa: S608 - constant columns
            "WHERE ? IS NULL OR created_by = ? ORDER BY id DESC LIMIT ?",
            (created_by, created_by, limit),
        )
        return [_broadcast(row) for row in rows]

    async def due_scheduled(self, now: datetime) -> list[Broadcast]:
        """Scheduled broadcasts whose time has come (and "send now" ones a crash left behind)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM broadcasts WHERE status = 'scheduled' "  # noqa: S608
            "AND (scheduled_at <= ? OR (scheduled_at IS NULL AND created_at <= ?)) "
            "ORDER BY coalesce(scheduled_at, created_at), id",
            (to_db_time(now), to_db_time(now - SEND_NOW_GRACE)),
        )
        return [_broadcast(row) for row in rows]

    async def in_progress(self) -> list[Broadcast]:
        """Broadcasts that were sending when the bot stopped: resume them at start-up."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM broadcasts WHERE status = 'sending' ORDER BY id",  # noqa: S608
        )
        return [_broadcast(row) for row in rows]

    # -- small updates --------------------------------------------------------------------

    async def set_progress_message(
        self, broadcast_id: int, chat_id: int, message_id: int | None
    ) -> None:
        """Remember the staff message that shows the broadcast's progress."""
        await self.db.execute(
            "UPDATE broadcasts SET report_chat_id = ?, progress_message_id = ? WHERE id = ?",
            (chat_id, message_id, broadcast_id),
        )
