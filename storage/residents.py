"""Residents: who talks to the bot, in which language, for which home quarter."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Literal

from storage.cache import ReadCache
from storage.concerns import ConcernSummary
from storage.db import Database, Refresher, to_db_time, utc_now

# last_seen is kept coarse on purpose: it serves statistics and retention, not tracking,
# and skipping the write on most updates keeps read-only requests read-only.
LAST_SEEN_RESOLUTION = timedelta(hours=1)
#: Residents kept as objects (least recently seen out first): those in a conversation right
#: now. Every resident is also kept packed (PackedRows), ≈ 10 µs to unpack.
CACHED_RESIDENTS = 1024
#: Newest concerns read with the row, the ones /myconcerns lists: one Telegram message holds
#: 4,096 characters, about 80 lines, and a cached row stays small for a prolific reporter.
LISTED_CONCERNS = 20
#: Rows per trip when every resident is read into memory at start-up (`preload`): each trip
#: holds the connection for a few milliseconds only.
PRELOAD_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Resident:
    """A resident's stored choices."""

    user_id: int
    language: str | None
    quarter_id: str | None
    first_seen: datetime
    last_seen: datetime
    #: When the resident agreed to the privacy notice for concerns (None: not yet).
    consent_at: datetime | None = None
    #: Since when Telegram refuses messages to them (blocked the bot); None: reachable.
    inactive_since: datetime | None = None
    #: Quarters whose news they follow (read with the row: /events needs both).
    followed: frozenset[str] = frozenset()
    #: Their newest concerns as /myconcerns lists them, newest first, at most LISTED_CONCERNS
    #: (read with the row as well: a resident who opens the chat often checks them, and a
    #: second trip costs more than the whole rest of that update).
    concerns: tuple[ConcernSummary, ...] = ()
    #: How many concerns they have in all (older ones are counted, not listed).
    concern_count: int = 0

    @property
    def onboarded(self) -> bool:
        """Both questions of the first /start are answered."""
        return self.language is not None and self.quarter_id is not None


def _resident(row: Sequence[Any]) -> Resident:
    """A row of `_COLUMNS` (from SQLite, or unpacked) → Resident."""
    user_id, language, quarter_id, first_seen, last_seen, consent_at, inactive_since = row[:7]
    followed, concerns, concern_count = row[7:10]
    return Resident(
        user_id=user_id,
        language=language,
        quarter_id=quarter_id,
        first_seen=_instant(first_seen),
        last_seen=_instant(last_seen),
        consent_at=_instant(consent_at) if consent_at else None,
        inactive_since=_instant(inactive_since) if inactive_since else None,
        followed=frozenset(followed.split(",")) if followed else frozenset(),
        concerns=_summaries(concerns),
        concern_count=int(concern_count),
    )


def _instant(epoch: int | str) -> datetime:
    """Seconds since 1970 (how `_COLUMNS` reads instants) → an aware UTC datetime."""
    return datetime.fromtimestamp(int(epoch), UTC)


# Control characters cannot occur in references, topic ids, statuses or timestamps.
_ROW_SEPARATOR = "\x1e"
_FIELD_SEPARATOR = "\x1f"


def _summaries(packed: str | None) -> tuple[ConcernSummary, ...]:
    """The packed `concerns` column → summaries, newest (highest id) first."""
    if not packed:
        return ()
    rows = [item.split(_FIELD_SEPARATOR) for item in packed.split(_ROW_SEPARATOR)]
    # group_concat's order is unspecified: sort here.
    rows.sort(key=lambda fields: int(fields[0]), reverse=True)
    return tuple(
        ConcernSummary(reference, topic_id, status, _instant(created_at))
        for _id, reference, topic_id, status, created_at in rows
    )


# Instants are stored as ISO text (storage.db.to_db_time); the row is read with seconds since
# 1970 instead, half as long in the packed rows kept in memory.
_COLUMNS = (  # The one value put in is LISTED_CONCERNS, a module constant.
    "user_id, language, quarter_id, "  # noqa: S608
    "CAST(strftime('%s', first_seen) AS INTEGER), CAST(strftime('%s', last_seen) AS INTEGER), "
    "CAST(strftime('%s', consent_at) AS INTEGER), "
    "CAST(strftime('%s', inactive_since) AS INTEGER), "
    "(SELECT group_concat(quarter_id) FROM subscriptions s "
    "WHERE s.user_id = residents.user_id) AS followed, "
    "(SELECT group_concat(c.id || char(31) || c.reference || char(31) || c.topic_id || char(31) "
    "|| c.status || char(31) || strftime('%s', c.created_at), char(30)) "
    "FROM (SELECT id, reference, topic_id, status, created_at FROM concerns n "
    "WHERE n.resident_id = residents.user_id ORDER BY n.id DESC "
    f"LIMIT {LISTED_CONCERNS}) AS c) AS concerns, "
    "(SELECT count(*) FROM concerns c WHERE c.resident_id = residents.user_id) AS concern_count"
)


_ONE_ROW = f"SELECT {_COLUMNS} FROM residents WHERE user_id = ?"  # noqa: S608 - constant


# -- every resident in memory, packed -------------------------------------------------------

# Between the fields of a packed row; like the separators above, it never occurs in a value.
_PACK_SEPARATOR = "\x1d"


class _Stale(Enum):
    """Marks a row that was written since it was read: read it from SQLite again."""

    STALE = 0


STALE: Literal[_Stale.STALE] = _Stale.STALE
Packed = str | Literal[_Stale.STALE]


def _pack(row: Sequence[Any]) -> Packed:
    """A row of `_COLUMNS` → one short string (the user id is the table's key)."""
    values = ["" if value is None else str(value) for value in row[1:]]
    if any(_PACK_SEPARATOR in value for value in values):
        return STALE  # cannot happen with the ids and timestamps stored; never guess
    return _PACK_SEPARATOR.join(values)


def _unpack(user_id: int, packed: str) -> Resident:
    """What `_pack` made → Resident (empty fields were NULL; no stored value is empty)."""
    return _resident([user_id, *(value or None for value in packed.split(_PACK_SEPARATOR))])


class PackedRows:
    """Every resident's row as one short string, kept complete from start-up on.

    The first update of a resident's session needed a trip to SQLite's thread for their row
    (≈ 0.15 ms, more than the whole rest of a read-only update). As objects, 50,000 residents
    with their concern lists took 56 MB; packed into one string each they take 13 MB
    (tracemalloc), and unpacking one takes ≈ 10 µs.
    Writes are reported like for every cache: the row is marked STALE and read from SQLite
    again on its next use. Once `complete`, a user id without a row is nobody's.
    """

    def __init__(self) -> None:
        self._rows: dict[int, Packed] = {}
        #: Every row was read (by `ResidentRepository.preload`) and kept up to date since.
        self.complete = False
        #: Bumped by every write report: a read that started before must not be kept.
        self.generation = 0
        #: Bumped when everything is dropped: a preload under way must not claim completeness.
        self.clears = 0

    def __len__(self) -> int:
        """How many rows (and STALE marks) are held."""
        return len(self._rows)

    def lookup(self, user_id: int) -> Packed | None:
        """The packed row, STALE, or None (no resident if `complete`, else not read yet)."""
        return self._rows.get(user_id)

    def store(self, user_id: int, packed: Packed | None, generation: int) -> None:
        """Keep a row read from SQLite (None: there is none) unless a write came in meanwhile."""
        if generation != self.generation:
            self._rows[user_id] = STALE
        elif packed is None:
            self._rows.pop(user_id, None)
        else:
            self._rows[user_id] = packed

    def fill(self, user_id: int, packed: Packed) -> None:
        """A row of the start-up read: anything held already (newer, or STALE) stays."""
        self._rows.setdefault(user_id, packed)

    def invalidate(self, key: object | None = None) -> None:
        """A write was reported: read that row again (None: every row; not complete any more)."""
        self.generation += 1
        if key is None:
            self._rows.clear()
            self.complete = False
            self.clears += 1
        elif isinstance(key, int):
            self._rows[key] = STALE


class ResidentRepository:
    """Typed access to the residents table."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Every update of every user reads their row (identify); few updates change it. The
        # recently active ones as objects, every resident packed (once preloaded).
        self._cache: ReadCache[int, Resident | None] = ReadCache(CACHED_RESIDENTS)
        self.packed = PackedRows()
        # Subscriptions and concerns are part of the row (followed, the concern list); concern
        # reports are keyed by the concern's resident.
        tables = ("residents", "subscriptions", "concerns")
        for table in tables:
            db.watch(table, self._cache.invalidate)
            db.watch(table, self.packed.invalidate)
        # Writes through Database.run bring the new row along (no trip on the next update).
        db.refresh(tables, Refresher(self._read_in_transaction, self._keep))

    async def get(self, user_id: int) -> Resident | None:
        """The resident, if they ever started the bot."""
        return await self._cache.get_or_load(user_id, lambda: self._load(user_id))

    async def _load(self, user_id: int) -> Resident | None:
        """From the packed rows when they hold it, else from SQLite (and kept packed)."""
        packed = self.packed.lookup(user_id)
        if isinstance(packed, str):
            return _unpack(user_id, packed)
        if packed is None and self.packed.complete:
            return None
        generation = self.packed.generation
        row = await self._read(user_id)
        self.packed.store(user_id, _pack(row) if row else None, generation)
        return _resident(row) if row else None

    @staticmethod
    def _read_in_transaction(conn: sqlite3.Connection, user_id: int) -> Sequence[Any] | None:
        """The row, in SQLite's thread (Refresher.read)."""
        row: Sequence[Any] | None = conn.execute(_ONE_ROW, (user_id,)).fetchone()
        return row

    def _keep(self, user_id: int, row: Sequence[Any] | None) -> None:
        """Keep a row a write just reported (Refresher.keep): packed, as the preload does."""
        self.packed.store(user_id, _pack(row) if row else None, self.packed.generation)

    async def _read(self, user_id: int) -> Sequence[Any] | None:
        """The row from SQLite."""
        return await self.db.fetchone(_ONE_ROW, (user_id,))

    async def preload(self, chunk: int = PRELOAD_CHUNK) -> int:
        """Read every resident into the packed rows, `chunk` per trip; returns how many.

        Run once after start-up (a job): from then on a resident's first update of a session
        reads nothing from SQLite.
        """
        clears = self.packed.clears
        after = -1  # Telegram user ids are positive
        count = 0
        while True:
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM residents WHERE user_id > ? "  # noqa: S608
                "ORDER BY user_id LIMIT ?",
                (after, chunk),
            )
            if self.packed.clears != clears:
                return count  # everything was dropped meanwhile: stay incomplete
            for row in rows:
                self.packed.fill(row[0], _pack(row))
            count += len(rows)
            if len(rows) < chunk:
                break
            after = rows[-1][0]
        self.packed.complete = True
        return count

    async def register(self, user_id: int, quarter_id: str | None = None) -> Resident:
        """Create the resident on first /start (keeping an existing row); returns the row."""
        now = to_db_time(utc_now())
        async with self.db.transaction([("residents", user_id)]) as conn:
            await conn.execute(
                "INSERT INTO residents (user_id, quarter_id, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET "
                "quarter_id = coalesce(excluded.quarter_id, residents.quarter_id), "
                "last_seen = excluded.last_seen",
                (user_id, quarter_id, now, now),
            )
            async with conn.execute(
                _ONE_ROW,
                (user_id,),
            ) as cursor:
                row = await cursor.fetchone()
        assert row is not None  # just written in the same transaction
        return _resident(row)

    async def set_language(self, user_id: int, language: str) -> None:
        """Store the chosen language (creating the resident if needed)."""
        await self._upsert(user_id, "language", language)

    async def set_quarter(self, user_id: int, quarter_id: str) -> None:
        """Store the home quarter (creating the resident if needed)."""
        await self._upsert(user_id, "quarter_id", quarter_id)

    async def _upsert(self, user_id: int, column: str, value: str) -> None:
        """Insert or update one choice column."""
        assert column in {"language", "quarter_id"}  # never user input: keeps the SQL constant
        now = to_db_time(utc_now())
        await self.db.write(
            f"INSERT INTO residents (user_id, {column}, first_seen, last_seen) "  # noqa: S608
            f"VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            f"{column} = excluded.{column}, last_seen = excluded.last_seen",
            (user_id, value, now, now),
            changes=[("residents", user_id)],
        )

    async def touch(self, resident: Resident, now: datetime | None = None) -> bool:
        """Refresh last_seen when it is older than the resolution; True if it wrote."""
        now = now or utc_now()
        if now - resident.last_seen < LAST_SEEN_RESOLUTION:
            return False
        user_id = resident.user_id

        def work(conn: sqlite3.Connection) -> bool:
            """The update; False if the row is gone."""
            cursor = conn.execute(
                "UPDATE residents SET last_seen = ? WHERE user_id = ?", (to_db_time(now), user_id)
            )
            return cursor.rowcount > 0

        # One trip, and the new row comes along with it (Refresher): no reread on the next update.
        return await self.db.run(work, [("residents", user_id)])

    async def mark_inactive(self, user_id: int) -> None:
        """Telegram refuses messages to them (blocked the bot, account gone)."""
        await self.db.write(
            "UPDATE residents SET inactive_since = coalesce(inactive_since, ?) WHERE user_id = ?",
            (to_db_time(utc_now()), user_id),
            changes=[("residents", user_id)],
        )

    async def reactivate(self, user_id: int) -> bool:
        """They wrote to the bot again, so news reach them again; True if they were inactive."""
        changed = await self.db.execute(
            "UPDATE residents SET inactive_since = NULL "
            "WHERE user_id = ? AND inactive_since IS NOT NULL",
            (user_id,),
            changes=[("residents", user_id)],
        )
        return changed > 0

    async def count(self) -> int:
        """How many residents are stored."""
        row = await self.db.fetchone("SELECT count(*) FROM residents")
        return int(row[0]) if row else 0
