"""Residents: who talks to the bot, in which language, for which home quarter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from storage.cache import ReadCache
from storage.concerns import ConcernSummary
from storage.db import Database, from_db_time, to_db_time, utc_now

# last_seen is kept coarse on purpose: it serves statistics and retention, not tracking,
# and skipping the write on most updates keeps read-only requests read-only.
LAST_SEEN_RESOLUTION = timedelta(hours=1)
#: Residents kept in memory (least recently seen out first): the active ones of a busy day.
CACHED_RESIDENTS = 4096
#: Newest concerns read with the row, the ones /myconcerns lists: one Telegram message holds
#: 4,096 characters, about 80 lines, and a cached row stays small for a prolific reporter.
LISTED_CONCERNS = 20


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


def _resident(row: aiosqlite.Row) -> Resident:
    """Row → Resident."""
    return Resident(
        user_id=row["user_id"],
        language=row["language"],
        quarter_id=row["quarter_id"],
        first_seen=from_db_time(row["first_seen"]),
        last_seen=from_db_time(row["last_seen"]),
        consent_at=from_db_time(row["consent_at"]) if row["consent_at"] else None,
        inactive_since=from_db_time(row["inactive_since"]) if row["inactive_since"] else None,
        followed=frozenset(row["followed"].split(",")) if row["followed"] else frozenset(),
        concerns=_summaries(row["concerns"]),
        concern_count=row["concern_count"],
    )


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
        ConcernSummary(reference, topic_id, status, from_db_time(created_at))
        for _id, reference, topic_id, status, created_at in rows
    )


_COLUMNS = (  # The one value put in is LISTED_CONCERNS, a module constant.
    "user_id, language, quarter_id, first_seen, last_seen, consent_at, inactive_since, "  # noqa: S608
    "(SELECT group_concat(quarter_id) FROM subscriptions s "
    "WHERE s.user_id = residents.user_id) AS followed, "
    "(SELECT group_concat(c.id || char(31) || c.reference || char(31) || c.topic_id || char(31) "
    "|| c.status || char(31) || c.created_at, char(30)) "
    "FROM (SELECT id, reference, topic_id, status, created_at FROM concerns n "
    "WHERE n.resident_id = residents.user_id ORDER BY n.id DESC "
    f"LIMIT {LISTED_CONCERNS}) AS c) AS concerns, "
    "(SELECT count(*) FROM concerns c WHERE c.resident_id = residents.user_id) AS concern_count"
)


class ResidentRepository:
    """Typed access to the residents table."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Every update of every user reads their row (identify); few updates change it.
        self._cache: ReadCache[int, Resident | None] = ReadCache(CACHED_RESIDENTS)
        db.watch("residents", self._cache.invalidate)
        db.watch("subscriptions", self._cache.invalidate)
        # Keyed by the concern's resident: new concerns, status changes, anonymisation.
        db.watch("concerns", self._cache.invalidate)

    async def get(self, user_id: int) -> Resident | None:
        """The resident, if they ever started the bot."""
        return await self._cache.get_or_load(user_id, lambda: self._load(user_id))

    async def _load(self, user_id: int) -> Resident | None:
        """Read the row from the database."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM residents WHERE user_id = ?",  # noqa: S608 - constant columns
            (user_id,),
        )
        return _resident(row) if row else None

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
                f"SELECT {_COLUMNS} FROM residents WHERE user_id = ?",  # noqa: S608
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
        changed = await self.db.execute(
            "UPDATE residents SET last_seen = ? WHERE user_id = ?",
            (to_db_time(now), resident.user_id),
            changes=[("residents", resident.user_id)],
        )
        return changed > 0

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

    async def give_consent(self, user_id: int) -> None:
        """Record agreement to the privacy notice for concerns (the cached row follows)."""

        async def write() -> Resident | None:
            """The update, returning the whole new row: submitting next needs no read."""
            rows = await self.db.execute_returning(
                f"UPDATE residents SET consent_at = ? WHERE user_id = ? RETURNING {_COLUMNS}",  # noqa: S608
                (to_db_time(utc_now()), user_id),
            )
            return _resident(rows[0]) if rows else None

        # Only this cache watches `residents`; it learns of the write from the returned row.
        await self._cache.write_through(user_id, write)

    async def count(self) -> int:
        """How many residents are stored."""
        row = await self.db.fetchone("SELECT count(*) FROM residents")
        return int(row[0]) if row else 0
