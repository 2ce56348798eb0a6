"""Events of the quarter offices: RSVPs with a waiting list, and reminders sent at most once."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import aiosqlite

from storage.audit import write_audit
from storage.db import Database, from_db_time, to_db_time, utc_now
from storage.outbox import enqueue

RsvpState = Literal["going", "waiting"]
EventErrorCode = Literal["not_found", "invalid", "cancelled", "closed", "capacity_below_rsvps"]


class EventError(Exception):
    """A refused event operation; `code` says why, for the caller to explain in its language."""

    def __init__(self, code: EventErrorCode, detail: str = "") -> None:
        self.code: EventErrorCode = code
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True)
class Event:
    """A stored event; every time is timezone-aware UTC."""

    id: int
    quarter_id: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str
    description: str
    capacity: int | None
    topic_id: str | None
    created_by: int
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None

    @property
    def is_cancelled(self) -> bool:
        """Staff called the event off."""
        return self.cancelled_at is not None


@dataclass(frozen=True)
class EventInput:
    """What staff enter for a new event or an edit."""

    quarter_id: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str
    description: str
    capacity: int | None
    topic_id: str | None


@dataclass(frozen=True)
class RsvpOutcome:
    """Where an RSVP landed, with the counts after it."""

    state: Literal["going", "waiting", "already_going", "already_waiting"]
    going: int
    waiting: int
    capacity: int | None


@dataclass(frozen=True)
class CancelOutcome:
    """What a withdrawn RSVP was, and who moved up from the waiting list in its place."""

    was: Literal["going", "waiting", "none"]
    promoted_user_id: int | None


@dataclass(frozen=True)
class EventCounts:
    """Residents coming and waiting."""

    going: int
    waiting: int


_COLUMNS = (
    "id, quarter_id, title, starts_at, ends_at, place, description, capacity, topic_id, "
    "created_by, created_at, updated_at, cancelled_at"
)


def _time(value: str | None) -> datetime | None:
    """Optional stored time."""
    return from_db_time(value) if value else None


def _event(row: aiosqlite.Row) -> Event:
    """Row → Event."""
    return Event(
        id=row["id"],
        quarter_id=row["quarter_id"],
        title=row["title"],
        starts_at=from_db_time(row["starts_at"]),
        ends_at=_time(row["ends_at"]),
        place=row["place"],
        description=row["description"],
        capacity=row["capacity"],
        topic_id=row["topic_id"],
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
        cancelled_at=_time(row["cancelled_at"]),
    )


def _check_input(data: EventInput) -> None:
    """Refuse input the schema would reject, with a code instead of an IntegrityError."""
    if data.starts_at.tzinfo is None or (data.ends_at is not None and data.ends_at.tzinfo is None):
        raise EventError("invalid", "times must be timezone-aware")
    if data.ends_at is not None and to_db_time(data.ends_at) <= to_db_time(data.starts_at):
        raise EventError("invalid", "the end is not after the start")
    if data.capacity is not None and data.capacity < 1:
        raise EventError("invalid", "capacity must be positive")


def _values(data: EventInput) -> tuple[object, ...]:
    """The editable columns in `_EDITABLE` order."""
    return (
        data.quarter_id,
        data.title,
        to_db_time(data.starts_at),
        to_db_time(data.ends_at) if data.ends_at else None,
        data.place,
        data.description,
        data.capacity,
        data.topic_id,
    )


_EDITABLE = (
    "quarter_id",
    "title",
    "starts_at",
    "ends_at",
    "place",
    "description",
    "capacity",
    "topic_id",
)


def _changed_fields(old: Event, data: EventInput) -> list[str]:
    """Names of the editable fields an edit changes (for the audit entry)."""
    before = _values(
        EventInput(
            old.quarter_id,
            old.title,
            old.starts_at,
            old.ends_at,
            old.place,
            old.description,
            old.capacity,
            old.topic_id,
        )
    )
    return [name for name, a, b in zip(_EDITABLE, before, _values(data), strict=True) if a != b]


async def _fetch_event(conn: aiosqlite.Connection, event_id: int) -> Event:
    """The event inside a transaction; EventError('not_found') if there is none."""
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE id = ?",  # noqa: S608 - constant columns
        (event_id,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise EventError("not_found", f"event {event_id}")
    return _event(row)


async def _count(conn: aiosqlite.Connection, event_id: int, state: RsvpState) -> int:
    """RSVPs of one state inside a transaction."""
    async with conn.execute(
        "SELECT count(*) FROM rsvps WHERE event_id = ? AND state = ?", (event_id, state)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _promote(
    conn: aiosqlite.Connection, event_id: int, places: int | None, now: datetime
) -> list[int]:
    """Move up to `places` (None: all) waiting residents to 'going', earliest first."""
    if places is not None and places <= 0:
        return []
    async with conn.execute(
        "SELECT user_id FROM rsvps WHERE event_id = ? AND state = 'waiting' ORDER BY rowid LIMIT ?",
        (event_id, -1 if places is None else places),
    ) as cursor:
        promoted = [int(row[0]) for row in await cursor.fetchall()]
    # created_at becomes the moment the place was won: reminders go only to those who were
    # coming when a reminder's moment passed, and a late promotion must not trigger a stale
    # "starts in 24 hours". The waiting order lives in rowid, which the UPDATE keeps.
    await conn.executemany(
        "UPDATE rsvps SET state = 'going', created_at = ? WHERE event_id = ? AND user_id = ?",
        [(to_db_time(now), event_id, user_id) for user_id in promoted],
    )
    for user_id in promoted:
        # Told with the promotion's commit, never about a promotion that was rolled back.
        await enqueue(conn, user_id, "promoted", event_id=event_id)
    return promoted


async def _forget_stale_reminders(
    conn: aiosqlite.Connection, event_id: int, starts_at: datetime
) -> None:
    """Drop reminder marks sent before their moment for the new start, so it is reminded anew."""
    async with conn.execute(
        "SELECT user_id, offset_minutes, sent_at FROM reminders_sent WHERE event_id = ?",
        (event_id,),
    ) as cursor:
        rows = await cursor.fetchall()
    stale = [
        (event_id, row["user_id"], row["offset_minutes"])
        for row in rows
        if from_db_time(row["sent_at"]) < starts_at - timedelta(minutes=row["offset_minutes"])
    ]
    await conn.executemany(
        "DELETE FROM reminders_sent WHERE event_id = ? AND user_id = ? AND offset_minutes = ?",
        stale,
    )


def _reminder_window(offset: int, offsets: Sequence[int]) -> tuple[int, int]:
    """(offset, next smaller offset or 0): a reminder is due only until the next one's moment."""
    smaller = [other for other in offsets if 0 <= other < offset]
    return offset, max(smaller, default=0)


class EventRepository:
    """Typed access to events, RSVPs and sent reminders; staff changes are audited."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, actor_id: int, data: EventInput) -> Event:
        """Store a new event and its audit entry together."""
        _check_input(data)
        now = utc_now().replace(microsecond=0)  # as stored
        async with self.db.transaction() as conn:
            async with conn.execute(
                "INSERT INTO events (quarter_id, title, starts_at, ends_at, place, description, "
                "capacity, topic_id, created_by, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*_values(data), actor_id, to_db_time(now), to_db_time(now)),
            ) as cursor:
                event_id = cursor.lastrowid
            assert event_id is not None
            event = await _fetch_event(conn, event_id)
            await write_audit(
                conn,
                actor_id,
                "event.create",
                f"event:{event_id}",
                {
                    "quarter": data.quarter_id,
                    "title": data.title,
                    "starts_at": to_db_time(data.starts_at),
                    "capacity": data.capacity,
                },
                now,
            )
        return event

    async def update(
        self, actor_id: int, event_id: int, data: EventInput
    ) -> tuple[Event, list[int]]:
        """Apply an edit; returns the event and the residents moved up by a larger capacity."""
        _check_input(data)
        now = utc_now().replace(microsecond=0)
        async with self.db.transaction() as conn:
            old = await _fetch_event(conn, event_id)
            if old.is_cancelled:
                raise EventError("cancelled", f"event {event_id}")
            going = await _count(conn, event_id, "going")
            if data.capacity is not None and data.capacity < going:
                # Nobody who was promised a place loses it by an edit: staff must ask people
                # to withdraw first, or keep the capacity.
                raise EventError("capacity_below_rsvps", f"{going} going, capacity {data.capacity}")
            changed = _changed_fields(old, data)
            await conn.execute(
                "UPDATE events SET quarter_id = ?, title = ?, starts_at = ?, ends_at = ?, "
                "place = ?, description = ?, capacity = ?, topic_id = ?, updated_at = ? "
                "WHERE id = ?",
                (*_values(data), to_db_time(now), event_id),
            )
            if to_db_time(data.starts_at) != to_db_time(old.starts_at):
                await _forget_stale_reminders(conn, event_id, data.starts_at)
            places = None if data.capacity is None else data.capacity - going
            promoted = await _promote(conn, event_id, places, now)
            if {"starts_at", "ends_at", "place"} & set(changed):
                # Who plans to come (or waits) hears of the new time or place, with a calendar
                # file that updates theirs; the newly promoted hear of their place instead.
                async with conn.execute(
                    "SELECT user_id FROM rsvps WHERE event_id = ? ORDER BY rowid", (event_id,)
                ) as cursor:
                    told = [int(row[0]) for row in await cursor.fetchall()]
                for user_id in told:
                    if user_id not in promoted:
                        await enqueue(conn, user_id, "event_changed", event_id=event_id)
            event = await _fetch_event(conn, event_id)
            await write_audit(
                conn,
                actor_id,
                "event.update",
                f"event:{event_id}",
                {"changed": changed, "capacity": data.capacity, "promoted": len(promoted)},
                now,
            )
        return event, promoted

    async def cancel(self, actor_id: int, event_id: int) -> list[int]:
        """Call the event off; returns everyone who RSVP'd (to tell them), [] if already done."""
        now = utc_now().replace(microsecond=0)
        async with self.db.transaction() as conn:
            event = await _fetch_event(conn, event_id)
            if event.is_cancelled:
                return []
            await conn.execute(
                "UPDATE events SET cancelled_at = ?, updated_at = ? WHERE id = ?",
                (to_db_time(now), to_db_time(now), event_id),
            )
            # The RSVPs stay: they record who was told, and cancelled events accept no new ones.
            async with conn.execute(
                "SELECT user_id FROM rsvps WHERE event_id = ? ORDER BY rowid", (event_id,)
            ) as cursor:
                users = [int(row[0]) for row in await cursor.fetchall()]
            for user_id in users:
                await enqueue(conn, user_id, "event_cancelled", event_id=event_id)
            await write_audit(
                conn,
                actor_id,
                "event.cancel",
                f"event:{event_id}",
                {"title": event.title, "notified": len(users)},
                now,
            )
        return users

    async def get(self, event_id: int) -> Event | None:
        """The event, cancelled or not; None if there is no such id."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM events WHERE id = ?",  # noqa: S608 - constant columns
            (event_id,),
        )
        return _event(row) if row else None

    async def upcoming(
        self, quarter_ids: Collection[str], now: datetime, limit: int = 10
    ) -> list[Event]:
        """Not cancelled, not yet started events of these quarters, soonest first."""
        return [event for event, _, _ in await self.upcoming_for(0, quarter_ids, now, limit)]

    async def upcoming_for(
        self, user_id: int, quarter_ids: Collection[str], now: datetime, limit: int = 10
    ) -> list[tuple[Event, EventCounts, str | None]]:
        """Upcoming events with their counts and this resident's RSVP, in one query (no N+1)."""
        if not quarter_ids:
            return []
        marks = ", ".join("?" for _ in quarter_ids)
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS}, "  # noqa: S608 - constant columns and placeholders
            "(SELECT count(*) FROM rsvps r WHERE r.event_id = e.id AND r.state = 'going'), "
            "(SELECT count(*) FROM rsvps r WHERE r.event_id = e.id AND r.state = 'waiting'), "
            "(SELECT state FROM rsvps r WHERE r.event_id = e.id AND r.user_id = ?) "
            "FROM events e WHERE cancelled_at IS NULL AND starts_at > ? "
            f"AND quarter_id IN ({marks}) ORDER BY starts_at, id LIMIT ?",
            (user_id, to_db_time(now), *sorted(quarter_ids), limit),
        )
        return [(_event(row), EventCounts(int(row[13]), int(row[14])), row[15]) for row in rows]

    async def counts(self, event_id: int) -> EventCounts:
        """How many are coming and waiting."""
        rows = await self.db.fetchall(
            "SELECT state, count(*) AS n FROM rsvps WHERE event_id = ? GROUP BY state",
            (event_id,),
        )
        by_state = {row["state"]: int(row["n"]) for row in rows}
        return EventCounts(by_state.get("going", 0), by_state.get("waiting", 0))

    async def rsvp_state(self, event_id: int, user_id: int) -> str | None:
        """'going', 'waiting' or None."""
        row = await self.db.fetchone(
            "SELECT state FROM rsvps WHERE event_id = ? AND user_id = ?", (event_id, user_id)
        )
        return str(row["state"]) if row else None

    async def forget_past(self, started_before: datetime) -> int:
        """Retention: sign-ups and sent reminders of events that started before then."""
        async with self.db.transaction() as conn:
            removed = 0
            for table in ("rsvps", "reminders_sent"):
                async with conn.execute(
                    f"DELETE FROM {table} WHERE event_id IN "  # noqa: S608 - constant names
                    "(SELECT id FROM events WHERE starts_at < ?)",
                    (to_db_time(started_before),),
                ) as cursor:
                    removed += cursor.rowcount
        return removed

    async def rsvps_of(self, user_id: int) -> list[tuple[int, str]]:
        """(event id, state) of every RSVP of one resident (for their data and erasure)."""
        rows = await self.db.fetchall(
            "SELECT event_id, state FROM rsvps WHERE user_id = ? ORDER BY event_id", (user_id,)
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    async def attendees(self, event_id: int, state: RsvpState = "going") -> list[int]:
        """User ids with this RSVP state, in sign-up (waiting-list) order."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM rsvps WHERE event_id = ? AND state = ? ORDER BY rowid",
            (event_id, state),
        )
        return [int(row["user_id"]) for row in rows]

    async def rsvp(self, event_id: int, user_id: int, now: datetime) -> RsvpOutcome:
        """Sign up: a place while there is one, else the waiting list; repeats change nothing."""
        async with self.db.transaction() as conn:
            event = await _fetch_event(conn, event_id)
            if event.is_cancelled or event.starts_at <= now:
                raise EventError("closed", f"event {event_id}")
            async with conn.execute(
                "SELECT state FROM rsvps WHERE event_id = ? AND user_id = ?", (event_id, user_id)
            ) as cursor:
                existing = await cursor.fetchone()
            going = await _count(conn, event_id, "going")
            waiting = await _count(conn, event_id, "waiting")
            if existing is not None:
                if existing["state"] == "going":
                    return RsvpOutcome("already_going", going, waiting, event.capacity)
                return RsvpOutcome("already_waiting", going, waiting, event.capacity)
            full = event.capacity is not None and going >= event.capacity
            state: RsvpState = "waiting" if full else "going"
            await conn.execute(
                "INSERT INTO rsvps (event_id, user_id, state, created_at) VALUES (?, ?, ?, ?)",
                (event_id, user_id, state, to_db_time(now)),
            )
        if state == "going":
            return RsvpOutcome("going", going + 1, waiting, event.capacity)
        return RsvpOutcome("waiting", going, waiting + 1, event.capacity)

    async def cancel_rsvp(
        self, event_id: int, user_id: int, now: datetime | None = None
    ) -> CancelOutcome:
        """Withdraw; a freed place goes to the earliest waiting resident (returned to notify)."""
        now = now or utc_now()
        async with self.db.transaction() as conn:
            async with conn.execute(
                "DELETE FROM rsvps WHERE event_id = ? AND user_id = ? RETURNING state",
                (event_id, user_id),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return CancelOutcome("none", None)
            if row["state"] == "waiting":
                return CancelOutcome("waiting", None)
            event = await _fetch_event(conn, event_id)
            # A place freed after the start or in a called-off event is worth no message.
            if event.is_cancelled or event.starts_at <= now:
                return CancelOutcome("going", None)
            going = await _count(conn, event_id, "going")
            free = 1 if event.capacity is None else event.capacity - going
            promoted = await _promote(conn, event_id, min(free, 1), now)
        return CancelOutcome("going", promoted[0] if promoted else None)

    async def due_reminders(
        self, now: datetime, offsets_minutes: Sequence[int]
    ) -> list[tuple[Event, int, int]]:
        """(event, user, offset) whose reminder moment has passed and that were not reminded yet.

        A reminder is due from `starts_at - offset` until the next smaller offset's moment:
        after downtime a resident gets the 2-hour reminder, not a stale "24 hours" one as well.
        """
        due: list[tuple[Event, int, int]] = []
        for offset in sorted(set(offsets_minutes), reverse=True):
            due += await self._due_for_offset(now, *_reminder_window(offset, offsets_minutes))
        due.sort(key=lambda item: (item[0].starts_at, item[0].id, item[2]))
        return due

    async def _due_for_offset(
        self, now: datetime, offset: int, next_offset: int
    ) -> list[tuple[Event, int, int]]:
        """Due reminders of one offset, in sign-up order per event."""
        columns = ", ".join(f"e.{column.strip()}" for column in _COLUMNS.split(","))
        rows = await self.db.fetchall(
            f"SELECT {columns}, r.user_id AS rsvp_user, r.created_at AS rsvp_at "  # noqa: S608
            "FROM events e JOIN rsvps r ON r.event_id = e.id AND r.state = 'going' "
            "WHERE e.cancelled_at IS NULL AND e.starts_at <= ? AND e.starts_at > ? "
            "AND NOT EXISTS (SELECT 1 FROM reminders_sent s WHERE s.event_id = e.id "
            "AND s.user_id = r.user_id AND s.offset_minutes = ?) "
            "ORDER BY e.starts_at, e.id, r.rowid",
            (
                to_db_time(now + timedelta(minutes=offset)),
                to_db_time(now + timedelta(minutes=next_offset)),
                offset,
            ),
        )
        due = []
        for row in rows:
            event = _event(row)
            # Who signed up after this reminder's moment knew the date already.
            if from_db_time(row["rsvp_at"]) < event.starts_at - timedelta(minutes=offset):
                due.append((event, int(row["rsvp_user"]), offset))
        return due

    async def mark_reminded(
        self, event_id: int, user_id: int, offset_minutes: int, now: datetime
    ) -> bool:
        """Claim a reminder before sending it; False if it was claimed already (never repeat)."""
        changed = await self.db.execute(
            "INSERT OR IGNORE INTO reminders_sent (event_id, user_id, offset_minutes, sent_at) "
            "VALUES (?, ?, ?, ?)",
            (event_id, user_id, offset_minutes, to_db_time(now)),
        )
        return changed == 1

    async def next_reminder_at(
        self, now: datetime, offsets_minutes: Sequence[int]
    ) -> datetime | None:
        """The earliest future reminder moment of an event someone is coming to."""
        moments: list[datetime] = []
        for offset in set(offsets_minutes):
            # Stored times have whole seconds, so "> truncated(now + offset)" means the moment
            # `starts_at - offset` lies strictly after `now`.
            row = await self.db.fetchone(
                "SELECT min(starts_at) FROM events e WHERE e.cancelled_at IS NULL "
                "AND e.starts_at > ? AND EXISTS "
                "(SELECT 1 FROM rsvps r WHERE r.event_id = e.id AND r.state = 'going')",
                (to_db_time(now + timedelta(minutes=offset)),),
            )
            if row is not None and row[0] is not None:
                moments.append(from_db_time(row[0]) - timedelta(minutes=offset))
        return min(moments, default=None)
