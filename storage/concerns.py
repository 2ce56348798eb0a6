"""Concerns: the intake drafts, submitted concerns with their threads, and message links."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from storage.audit import write_audit
from storage.db import Database, from_db_time, to_db_time, utc_now
from storage.outbox import enqueue

#: The statuses staff set.
STATUSES: tuple[str, ...] = ("new", "in_progress", "done", "rejected")
#: Only the resident sets this one (from the concern's page); staff may still reopen it.
WITHDRAWN = "withdrawn"
ALL_STATUSES: tuple[str, ...] = (*STATUSES, WITHDRAWN)
CLOSED_STATUSES: frozenset[str] = frozenset({"done", "rejected", WITHDRAWN})
DRAFT_STEPS: tuple[str, ...] = ("topic", "text", "contact", "consent", "summary", "change")


@dataclass(frozen=True)
class Voice:
    """A voice message kept by its Telegram file id: how to send it on, and how long it is."""

    file_id: str
    #: "voice" (a voice note), "audio" (an audio file) or "video_note" (a round video).
    kind: str
    seconds: int


VOICE_KINDS: tuple[str, ...] = ("voice", "audio", "video_note")


class DraftGone(Exception):
    """The draft was already submitted or cancelled (a double tap, an old button)."""


@dataclass(frozen=True)
class Draft:
    """A concern being written, one step at a time."""

    user_id: int
    step: str
    quarter_id: str
    topic_id: str | None
    text: str | None
    photo_file_id: str | None
    latitude: float | None
    longitude: float | None
    contact_allowed: bool | None
    editing: bool
    updated_at: datetime
    voice: Voice | None = None
    #: The text is the transcript of the voice message (not typed).
    transcribed: bool = False
    #: "concern", or "question": a resident's free message offered to the office.
    kind: str = "concern"

    @property
    def has_description(self) -> bool:
        """Text, a photo, a location or a voice message was given."""
        return (
            bool(self.text)
            or self.photo_file_id is not None
            or self.latitude is not None
            or self.voice is not None
        )


@dataclass(frozen=True)
class Concern:
    """A submitted concern."""

    id: int
    reference: str
    quarter_id: str
    number: int
    topic_id: str
    resident_id: int | None
    language: str | None
    text: str | None
    photo_file_id: str | None
    latitude: float | None
    longitude: float | None
    contact_allowed: bool
    status: str
    created_at: datetime
    status_changed_at: datetime
    closed_at: datetime | None
    anonymised_at: datetime | None
    posted_at: datetime | None
    voice: Voice | None = None
    #: The text is the transcript of the voice message (not typed).
    transcribed: bool = False
    #: "concern", or "question": a resident's free message offered to the office.
    kind: str = "concern"

    @property
    def anonymous(self) -> bool:
        """Staff may not contact the resident back."""
        return not self.contact_allowed

    @property
    def is_closed(self) -> bool:
        """Done, rejected or withdrawn."""
        return self.status in CLOSED_STATUSES


@dataclass(frozen=True)
class ConcernEvent:
    """One entry of a concern's thread."""

    id: int
    concern_id: int
    kind: str  # resident | reply | note | status
    author_id: int | None
    text: str | None
    status: str | None
    created_at: datetime
    voice: Voice | None = None
    #: The text is the transcript of the voice message (not typed).
    transcribed: bool = False
    #: A photo or a location the resident added later.
    photo_file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Link:
    """A Telegram message that belongs to a concern."""

    chat_id: int
    message_id: int
    concern_id: int
    kind: str


def _time(value: str | None) -> datetime | None:
    """Optional stored time."""
    return from_db_time(value) if value else None


def _voice(row: aiosqlite.Row) -> Voice | None:
    """The row's voice message, if it has one."""
    if row["voice_file_id"] is None:
        return None
    return Voice(row["voice_file_id"], row["voice_kind"] or "voice", row["voice_seconds"] or 0)


def _draft(row: aiosqlite.Row) -> Draft:
    """Row → Draft."""
    contact = row["contact_allowed"]
    return Draft(
        user_id=row["user_id"],
        step=row["step"],
        quarter_id=row["quarter_id"],
        topic_id=row["topic_id"],
        text=row["text"],
        photo_file_id=row["photo_file_id"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        contact_allowed=None if contact is None else bool(contact),
        editing=bool(row["editing"]),
        updated_at=from_db_time(row["updated_at"]),
        voice=_voice(row),
        transcribed=bool(row["transcribed"]),
        kind=row["kind"],
    )


def _concern(row: aiosqlite.Row) -> Concern:
    """Row → Concern."""
    return Concern(
        id=row["id"],
        reference=row["reference"],
        quarter_id=row["quarter_id"],
        number=row["number"],
        topic_id=row["topic_id"],
        resident_id=row["resident_id"],
        language=row["language"],
        text=row["text"],
        photo_file_id=row["photo_file_id"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        contact_allowed=bool(row["contact_allowed"]),
        status=row["status"],
        created_at=from_db_time(row["created_at"]),
        status_changed_at=from_db_time(row["status_changed_at"]),
        closed_at=_time(row["closed_at"]),
        anonymised_at=_time(row["anonymised_at"]),
        posted_at=_time(row["posted_at"]),
        voice=_voice(row),
        transcribed=bool(row["transcribed"]),
        kind=row["kind"],
    )


def _event(row: aiosqlite.Row) -> ConcernEvent:
    """Row → ConcernEvent."""
    return ConcernEvent(
        id=row["id"],
        concern_id=row["concern_id"],
        kind=row["kind"],
        author_id=row["author_id"],
        text=row["text"],
        status=row["status"],
        created_at=from_db_time(row["created_at"]),
        voice=_voice(row),
        transcribed=bool(row["transcribed"]),
        photo_file_id=row["photo_file_id"],
        latitude=row["latitude"],
        longitude=row["longitude"],
    )


_DRAFT_FIELDS = frozenset(
    {
        "step",
        "topic_id",
        "text",
        "photo_file_id",
        "latitude",
        "longitude",
        "contact_allowed",
        "editing",
        "voice_file_id",
        "voice_kind",
        "voice_seconds",
        "transcribed",
        "kind",
    }
)
_CONCERN_COLUMNS = (
    "id, reference, quarter_id, number, topic_id, resident_id, language, text, photo_file_id, "
    "latitude, longitude, contact_allowed, status, created_at, status_changed_at, closed_at, "
    "anonymised_at, posted_at, voice_file_id, voice_kind, voice_seconds, transcribed, kind"
)


#: A reference as people type it: 'BV-0042', 'bv-42'.
_REFERENCE = re.compile(r"[A-Za-z]{1,4}-[0-9]{1,9}")


def format_reference(prefix: str, number: int) -> str:
    """'BV-0042': the quarter's prefix and its running number."""
    return f"{prefix}-{number:04d}"


@dataclass(frozen=True)
class ConcernSummary:
    """One line of a resident's /myconcerns."""

    reference: str
    topic_id: str
    status: str
    created_at: datetime


class ConcernRepository:
    """Typed access to drafts, concerns, their threads and links."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- drafts ---------------------------------------------------------------------------

    async def draft(self, user_id: int) -> Draft | None:
        """The resident's draft, if a concern is being written."""
        row = await self.db.fetchone("SELECT * FROM concern_drafts WHERE user_id = ?", (user_id,))
        return _draft(row) if row else None

    async def start_draft(self, user_id: int, quarter_id: str) -> Draft:
        """Begin a new draft (replacing an unfinished one), in one statement."""
        # REPLACE deletes an unfinished draft and inserts the new one atomically.
        draft = await self._write_draft(
            "INSERT OR REPLACE INTO concern_drafts (user_id, step, quarter_id, updated_at) "
            "VALUES (?, 'topic', ?, ?) RETURNING *",
            (user_id, quarter_id, to_db_time(utc_now())),
        )
        assert draft is not None
        return draft

    async def update_draft(self, user_id: int, **fields: Any) -> Draft:
        """Change draft fields; raises DraftGone when there is no draft any more."""
        unknown = set(fields) - _DRAFT_FIELDS
        if unknown:
            raise ValueError(f"unknown draft fields {sorted(unknown)}")
        if "step" in fields and fields["step"] not in DRAFT_STEPS:
            raise ValueError(f"unknown step {fields['step']!r}")
        names = sorted(fields)
        # Column names come from the fixed set above, never from input.
        assignments = ", ".join(f"{name} = ?" for name in names)
        values = [fields[name] for name in names]
        draft = await self._write_draft(
            f"UPDATE concern_drafts SET {assignments}, updated_at = ? "  # noqa: S608
            "WHERE user_id = ? RETURNING *",
            (*values, to_db_time(utc_now()), user_id),
        )
        if draft is None:
            raise DraftGone(user_id)
        return draft

    async def _write_draft(self, sql: str, params: Sequence[Any]) -> Draft | None:
        """One draft statement with RETURNING *, committed by SQLite itself; its row or None."""
        row = await self.db.fetchone(sql, params)
        return _draft(row) if row else None

    async def discard_draft(self, user_id: int) -> bool:
        """Throw the draft away; True if there was one."""
        deleted = await self.db.execute("DELETE FROM concern_drafts WHERE user_id = ?", (user_id,))
        return deleted > 0

    async def purge_drafts(self, older_than: datetime) -> int:
        """Forget drafts nobody touched since `older_than` (they hold personal data)."""
        return await self.db.execute(
            "DELETE FROM concern_drafts WHERE updated_at < ?",
            (to_db_time(older_than),),
        )

    # -- submitting -----------------------------------------------------------------------

    async def submit(
        self, user_id: int, prefix: str, language: str, staff_chat: int | None = None
    ) -> Concern:
        """Turn the draft into a concern with the next number of its quarter, in one transaction.

        With a staff chat, its post (and the photo and location under it) go into the outbox in
        the same transaction: the resident hears "received" at once, the staff group gets it as
        soon as Telegram allows.
        """
        now = to_db_time(utc_now())

        async with self.db.transaction() as conn:
            # Taking the draft out and reading it is one statement; a failure rolls it back.
            taken = list(
                await conn.execute_fetchall(
                    "DELETE FROM concern_drafts WHERE user_id = ? RETURNING *", (user_id,)
                )
            )
            if not taken:
                raise DraftGone(user_id)
            draft = _draft(taken[0])
            if draft.topic_id is None or not draft.has_description or draft.contact_allowed is None:
                raise ValueError("draft is incomplete")
            (counter,) = await conn.execute_fetchall(
                "INSERT INTO concern_counters (quarter_id, last_number) VALUES (?, 1) "
                "ON CONFLICT (quarter_id) DO UPDATE SET last_number = last_number + 1 "
                "RETURNING last_number",
                (draft.quarter_id,),
            )
            number = int(counter[0])
            (inserted,) = await conn.execute_fetchall(
                "INSERT INTO concerns (reference, quarter_id, number, topic_id, resident_id, "  # noqa: S608 - constant columns
                "language, text, photo_file_id, latitude, longitude, contact_allowed, status, "
                "created_at, status_changed_at, voice_file_id, voice_kind, voice_seconds, "
                "transcribed, kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {_CONCERN_COLUMNS}",
                (
                    format_reference(prefix, number),
                    draft.quarter_id,
                    number,
                    draft.topic_id,
                    user_id,
                    language,
                    draft.text,
                    draft.photo_file_id,
                    draft.latitude,
                    draft.longitude,
                    int(draft.contact_allowed),
                    now,
                    now,
                    draft.voice.file_id if draft.voice else None,
                    draft.voice.kind if draft.voice else None,
                    draft.voice.seconds if draft.voice else None,
                    int(draft.transcribed),
                    draft.kind,
                ),
            )
            concern = _concern(inserted)
            if staff_chat is not None:
                await _enqueue_post(conn, staff_chat, concern)
        return concern

    # -- reading --------------------------------------------------------------------------

    async def get(self, concern_id: int) -> Concern | None:
        """A concern by id."""
        row = await self.db.fetchone(
            f"SELECT {_CONCERN_COLUMNS} FROM concerns WHERE id = ?",  # noqa: S608
            (concern_id,),
        )
        return _concern(row) if row else None

    async def by_reference(self, reference: str) -> Concern | None:
        """A concern by its reference, ignoring case ('bv-42' finds 'BV-0042')."""
        if not _REFERENCE.fullmatch(reference.strip()):
            return None  # only ASCII letters and digits: "BV-²" is no reference
        prefix, _, number = reference.strip().upper().partition("-")
        row = await self.db.fetchone(
            f"SELECT {_CONCERN_COLUMNS} FROM concerns WHERE reference = ?",  # noqa: S608
            (format_reference(prefix, int(number)),),
        )
        return _concern(row) if row else None

    async def by_number(self, number: int, quarter_ids: Collection[str]) -> list[Concern]:
        """Concerns with this running number in these quarters ('1' may be BV-0001, HH-0001)."""
        if not quarter_ids:
            return []
        marks = ", ".join("?" for _ in quarter_ids)
        rows = await self.db.fetchall(
            f"SELECT {_CONCERN_COLUMNS} FROM concerns WHERE number = ? "  # noqa: S608
            f"AND quarter_id IN ({marks}) ORDER BY reference",
            (number, *quarter_ids),
        )
        return [_concern(row) for row in rows]

    async def summaries(self, user_id: int, limit: int) -> tuple[list[ConcernSummary], int]:
        """The resident's newest concerns (at most `limit`), and how many they have in all."""
        rows = await self.db.fetchall(
            "SELECT reference, topic_id, status, created_at, count(*) OVER () FROM concerns "
            "WHERE resident_id = ? ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
        summaries = [ConcernSummary(row[0], row[1], row[2], from_db_time(row[3])) for row in rows]
        return summaries, int(rows[0][4]) if rows else 0

    async def submitted_within(self, user_id: int, period: timedelta) -> int:
        """How many concerns the resident submitted in the last `period` (the fair limit)."""
        row = await self.db.fetchone(
            "SELECT count(*) FROM concerns WHERE resident_id = ? AND created_at >= ?",
            (user_id, to_db_time(utc_now() - period)),
        )
        return int(row[0]) if row else 0

    async def followups_within(self, user_id: int, period: timedelta) -> int:
        """How many follow-ups the resident sent in the last `period` (the fair limit)."""
        row = await self.db.fetchone(
            "SELECT count(*) FROM concern_events WHERE kind = 'resident' AND author_id = ? "
            "AND created_at >= ?",
            (user_id, to_db_time(utc_now() - period)),
        )
        return int(row[0]) if row else 0

    async def for_resident(self, user_id: int) -> list[Concern]:
        """The resident's concerns, newest first."""
        rows = await self.db.fetchall(
            f"SELECT {_CONCERN_COLUMNS} FROM concerns WHERE resident_id = ? "  # noqa: S608
            "ORDER BY id DESC",
            (user_id,),
        )
        return [_concern(row) for row in rows]

    async def listing(
        self, quarter_ids: Collection[str], open_only: bool, limit: int = 20
    ) -> tuple[list[Concern], int]:
        """Newest concerns of these quarters (open ones only, if asked) and the total count."""
        if not quarter_ids:
            return [], 0
        marks = ", ".join("?" for _ in quarter_ids)
        where = f"quarter_id IN ({marks})"
        if open_only:
            where += " AND status IN ('new', 'in_progress')"
        params: list[Any] = list(quarter_ids)
        total_row = await self.db.fetchone(
            f"SELECT count(*) FROM concerns WHERE {where}",  # noqa: S608 - placeholders only
            params,
        )
        rows = await self.db.fetchall(
            f"SELECT {_CONCERN_COLUMNS} FROM concerns WHERE {where} "  # noqa: S608
            "ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [_concern(row) for row in rows], int(total_row[0]) if total_row else 0

    async def events(self, concern_id: int) -> list[ConcernEvent]:
        """The concern's thread, oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM concern_events WHERE concern_id = ? ORDER BY id", (concern_id,)
        )
        return [_event(row) for row in rows]

    async def add_resident_message(
        self,
        concern_id: int,
        user_id: int,
        text: str | None,
        staff_chat: int | None = None,
        voice: Voice | None = None,
        transcribed: bool = False,
        photo_file_id: str | None = None,
        location: tuple[float, float] | None = None,
    ) -> None:
        """A resident's follow-up (text, a voice message, a photo or a location), added to the
        thread (and, with a staff chat, to the outbox). A location becomes the concern's: the
        staff's "send me the location" button sends the newest."""
        latitude, longitude = location if location is not None else (None, None)
        async with self.db.transaction() as conn:
            (row,) = await conn.execute_fetchall(
                "INSERT INTO concern_events (concern_id, kind, author_id, text, created_at, "
                "voice_file_id, voice_kind, voice_seconds, transcribed, photo_file_id, "
                "latitude, longitude) "
                "VALUES (?, 'resident', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    concern_id,
                    user_id,
                    text or None,
                    to_db_time(utc_now()),
                    *_voice_values(voice),
                    int(transcribed),
                    photo_file_id,
                    latitude,
                    longitude,
                ),
            )
            if location is not None:
                await conn.execute(
                    "UPDATE concerns SET latitude = ?, longitude = ? "
                    "WHERE id = ? AND anonymised_at IS NULL",
                    (latitude, longitude, concern_id),
                )
            if staff_chat is not None:
                entry_id = int(row[0])
                await enqueue(
                    conn, staff_chat, "followup", concern_id=concern_id, entry_id=entry_id
                )
                if voice is not None:
                    await enqueue(
                        conn, staff_chat, "followup_voice", concern_id=concern_id, entry_id=entry_id
                    )
                if photo_file_id is not None:
                    await enqueue(
                        conn, staff_chat, "followup_photo", concern_id=concern_id, entry_id=entry_id
                    )

    async def add_staff_entry(
        self,
        concern: Concern,
        kind: str,
        actor_id: int,
        text: str | None,
        voice: Voice | None = None,
        transcribed: bool = False,
    ) -> int | None:
        """A staff reply or internal note, audited in the same transaction (without its text).

        A reply to a resident who may be answered goes into the outbox with it; returns that
        outbox message's id (None for notes and anonymous concerns).
        """
        if kind not in ("reply", "note"):
            raise ValueError(kind)
        now = utc_now()
        outgoing = None
        async with self.db.transaction() as conn:
            (row,) = await conn.execute_fetchall(
                "INSERT INTO concern_events (concern_id, kind, author_id, text, created_at, "
                "voice_file_id, voice_kind, voice_seconds, transcribed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    concern.id,
                    kind,
                    actor_id,
                    text or None,
                    to_db_time(now),
                    *_voice_values(voice),
                    int(transcribed),
                ),
            )
            # The audit log cannot be erased, so it never holds what residents or staff wrote.
            await write_audit(conn, actor_id, f"concern.{kind}", concern.reference, {}, now)
            if kind == "reply" and concern.resident_id is not None and not concern.anonymous:
                outgoing = await enqueue(
                    conn, concern.resident_id, "reply", concern_id=concern.id, entry_id=int(row[0])
                )
                if voice is not None:
                    # The recording follows its text ("voice message below"), one send each.
                    await enqueue(
                        conn,
                        concern.resident_id,
                        "reply_voice",
                        concern_id=concern.id,
                        entry_id=int(row[0]),
                    )
        return outgoing

    async def set_status(
        self, concern: Concern, status: str, actor_id: int, note: str = ""
    ) -> Concern | None:
        """Change the status (audited); closing sets closed_at for the retention clock.

        Only from the status `concern` was read with: None, and nothing changed, when someone
        else (another officer, the resident withdrawing) changed it meanwhile.
        """
        if status not in STATUSES:
            raise ValueError(status)
        now = utc_now()
        stamp = to_db_time(now)
        closed_at = stamp if status in CLOSED_STATUSES else None
        async with self.db.transaction() as conn:
            changed = await conn.execute_fetchall(
                "UPDATE concerns SET status = ?, status_changed_at = ?, closed_at = ? "
                "WHERE id = ? AND status = ? AND status_changed_at = ? RETURNING id",
                (
                    status,
                    stamp,
                    closed_at,
                    concern.id,
                    concern.status,
                    to_db_time(concern.status_changed_at),
                ),
            )
            if not list(changed):
                return None
            (entry,) = await conn.execute_fetchall(
                "INSERT INTO concern_events (concern_id, kind, author_id, text, status, "
                "created_at) VALUES (?, 'status', ?, ?, ?, ?) RETURNING id",
                (concern.id, actor_id, note or None, status, stamp),
            )
            if concern.resident_id is not None:
                # The resident hears of it in their language (bot/outbox.py renders it).
                await enqueue(
                    conn,
                    concern.resident_id,
                    "status",
                    concern_id=concern.id,
                    entry_id=int(entry[0]),
                )
            await write_audit(
                conn,
                actor_id,
                "concern.status",
                concern.reference,
                {"from": concern.status, "to": status},
                now,
            )
        updated = await self.get(concern.id)
        assert updated is not None
        return updated

    async def withdraw(self, concern: Concern, user_id: int, staff_chat: int | None) -> bool:
        """The resident withdraws their open concern: closed (the retention clock starts), a
        status entry in the thread, and the staff group told. False when it is not theirs or
        no longer open (staff may have closed it meanwhile)."""
        stamp = to_db_time(utc_now())
        async with self.db.transaction() as conn:
            changed = await conn.execute_fetchall(
                "UPDATE concerns SET status = ?, status_changed_at = ?, closed_at = ? "
                "WHERE id = ? AND resident_id = ? AND status IN ('new', 'in_progress') "
                "RETURNING id",
                (WITHDRAWN, stamp, stamp, concern.id, user_id),
            )
            if not list(changed):
                return False
            # No author: the resident is the concern's, and anonymising it keeps staff ids only.
            (entry,) = await conn.execute_fetchall(
                "INSERT INTO concern_events (concern_id, kind, status, created_at) "
                "VALUES (?, 'status', ?, ?) RETURNING id",
                (concern.id, WITHDRAWN, stamp),
            )
            if staff_chat is not None:
                await enqueue(
                    conn, staff_chat, "withdrawn", concern_id=concern.id, entry_id=int(entry[0])
                )
        return True

    async def mark_posted(self, concern_id: int) -> None:
        """The staff group has seen the concern."""
        await self.db.execute(
            "UPDATE concerns SET posted_at = ? WHERE id = ?", (to_db_time(utc_now()), concern_id)
        )

    async def link(
        self, chat_id: int, message_id: int, concern_id: int, kind: str = "text"
    ) -> None:
        """Remember that this Telegram message belongs to the concern."""
        await self.db.execute(
            "INSERT OR REPLACE INTO concern_links (chat_id, message_id, concern_id, kind) "
            "VALUES (?, ?, ?, ?)",
            (chat_id, message_id, concern_id, kind),
        )

    async def linked(self, chat_id: int, message_id: int) -> Concern | None:
        """The concern a Telegram message belongs to."""
        row = await self.db.fetchone(
            "SELECT concern_id FROM concern_links WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return await self.get(int(row[0])) if row else None

    async def links(self, concern_id: int, chat_id: int) -> list[Link]:
        """The concern's messages in one chat (e.g. its staff group posts)."""
        rows = await self.db.fetchall(
            "SELECT chat_id, message_id, concern_id, kind FROM concern_links "
            "WHERE concern_id = ? AND chat_id = ? ORDER BY message_id",
            (concern_id, chat_id),
        )
        return [Link(r["chat_id"], r["message_id"], r["concern_id"], r["kind"]) for r in rows]


async def _enqueue_post(conn: aiosqlite.Connection, staff_chat: int, concern: Concern) -> None:
    """The staff-group post of a new concern, then its photo under it.

    Never the location: a whole group would read where someone lives. The post's button sends
    it privately to an officer of the quarter who asks.
    """
    await enqueue(conn, staff_chat, "concern_post", concern_id=concern.id)
    if concern.photo_file_id:
        await enqueue(conn, staff_chat, "concern_photo", concern_id=concern.id)
    if concern.voice:
        await enqueue(conn, staff_chat, "concern_voice", concern_id=concern.id)


def _voice_values(voice: Voice | None) -> tuple[str | None, str | None, int | None]:
    """The three voice columns of a row."""
    if voice is None:
        return None, None, None
    return voice.file_id, voice.kind, voice.seconds
