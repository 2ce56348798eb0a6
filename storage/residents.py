"""Residents: who talks to the bot, in which language, for which home quarter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from storage.db import Database, from_db_time, to_db_time, utc_now

# last_seen is kept coarse on purpose: it serves statistics and retention, not tracking,
# and skipping the write on most updates keeps read-only requests read-only.
LAST_SEEN_RESOLUTION = timedelta(hours=1)


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

    @property
    def onboarded(self) -> bool:
        """Both questions of the first /start are answered."""
        return self.language is not None and self.quarter_id is not None


_COLUMNS = "user_id, language, quarter_id, first_seen, last_seen, consent_at, inactive_since"
_ONE_ROW = f"SELECT {_COLUMNS} FROM residents WHERE user_id = ?"  # noqa: S608 - constant


def _resident(row: aiosqlite.Row) -> Resident:
    """A row of `_COLUMNS` → Resident."""
    return Resident(
        user_id=row["user_id"],
        language=row["language"],
        quarter_id=row["quarter_id"],
        first_seen=from_db_time(row["first_seen"]),
        last_seen=from_db_time(row["last_seen"]),
        consent_at=from_db_time(row["consent_at"]) if row["consent_at"] else None,
        inactive_since=from_db_time(row["inactive_since"]) if row["inactive_since"] else None,
    )


class ResidentRepository:
    """Typed access to the residents table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: int) -> Resident | None:
        """The resident, if they ever started the bot (one indexed read)."""
        row = await self.db.fetchone(_ONE_ROW, (user_id,))
        return _resident(row) if row else None

    async def register(self, user_id: int, quarter_id: str | None = None) -> Resident:
        """Create the resident on first /start (keeping an existing row); returns the row."""
        now = to_db_time(utc_now())
        row = await self.db.fetchone(
            "INSERT INTO residents (user_id, quarter_id, first_seen, last_seen) "  # noqa: S608
            "VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET "
            "quarter_id = coalesce(excluded.quarter_id, residents.quarter_id), "
            f"last_seen = excluded.last_seen RETURNING {_COLUMNS}",
            (user_id, quarter_id, now, now),
        )
        assert row is not None  # an upsert always returns its row
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
        await self.db.execute(
            f"INSERT INTO residents (user_id, {column}, first_seen, last_seen) "  # noqa: S608
            f"VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            f"{column} = excluded.{column}, last_seen = excluded.last_seen",
            (user_id, value, now, now),
        )

    async def give_consent(self, user_id: int) -> None:
        """The resident agreed to the privacy notice for concerns."""
        await self.db.execute(
            # The first agreement counts; a repeated tap does not move it.
            "UPDATE residents SET consent_at = coalesce(consent_at, ?) WHERE user_id = ?",
            (to_db_time(utc_now()), user_id),
        )

    async def touch(self, resident: Resident, now: datetime | None = None) -> bool:
        """Refresh last_seen when it is older than the resolution; True if it wrote."""
        now = now or utc_now()
        if now - resident.last_seen < LAST_SEEN_RESOLUTION:
            return False
        changed = await self.db.execute(
            "UPDATE residents SET last_seen = ? WHERE user_id = ?",
            (to_db_time(now), resident.user_id),
        )
        return changed > 0

    async def mark_inactive(self, user_id: int) -> None:
        """Telegram refuses messages to them (blocked the bot, account gone)."""
        await self.db.execute(
            "UPDATE residents SET inactive_since = coalesce(inactive_since, ?) WHERE user_id = ?",
            (to_db_time(utc_now()), user_id),
        )

    async def reactivate(self, user_id: int) -> bool:
        """They wrote to the bot again, so news reach them again; True if they were inactive."""
        changed = await self.db.execute(
            "UPDATE residents SET inactive_since = NULL "
            "WHERE user_id = ? AND inactive_since IS NOT NULL",
            (user_id,),
        )
        return changed > 0

    async def count(self) -> int:
        """How many residents are stored."""
        row = await self.db.fetchone("SELECT count(*) FROM residents")
        return int(row[0]) if row else 0
