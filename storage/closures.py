"""Office closures entered by staff (holidays come from the `holidays` package, not from here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from storage.audit import write_audit
from storage.db import Database, from_db_time, to_db_time, utc_now


@dataclass(frozen=True)
class Closure:
    """The office (of one quarter, or all when quarter_id is None) is closed first..last."""

    id: int
    quarter_id: str | None
    first_day: date
    last_day: date
    reason: str
    created_by: int
    created_at: datetime

    def applies_to(self, quarter_id: str) -> bool:
        """Whether this closure closes the office of `quarter_id`."""
        return self.quarter_id is None or self.quarter_id == quarter_id


def _closure(row: aiosqlite.Row) -> Closure:
    """Row → Closure."""
    return Closure(
        id=row["id"],
        quarter_id=row["quarter_id"],
        first_day=date.fromisoformat(row["first_day"]),
        last_day=date.fromisoformat(row["last_day"]),
        reason=row["reason"],
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
    )


_COLUMNS = "id, quarter_id, first_day, last_day, reason, created_by, created_at"


class ClosureRepository:
    """Typed access to closures; every change is audited in the same transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        actor_id: int,
        first_day: date,
        last_day: date,
        reason: str,
        quarter_id: str | None,
    ) -> Closure:
        """Store a closure and its audit entry together."""
        if last_day < first_day:
            raise ValueError("last_day before first_day")
        now = utc_now().replace(microsecond=0)  # as stored
        async with self.db.transaction() as conn:
            async with conn.execute(
                "INSERT INTO closures (quarter_id, first_day, last_day, reason, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    quarter_id,
                    first_day.isoformat(),
                    last_day.isoformat(),
                    reason,
                    actor_id,
                    to_db_time(now),
                ),
            ) as cursor:
                closure_id = cursor.lastrowid
            assert closure_id is not None
            await write_audit(
                conn,
                actor_id,
                "closure.add",
                f"closure:{closure_id}",
                {
                    "quarter": quarter_id,
                    "first_day": first_day.isoformat(),
                    "last_day": last_day.isoformat(),
                    "reason": reason,
                },
                now,
            )
        return Closure(closure_id, quarter_id, first_day, last_day, reason, actor_id, now)

    async def delete(self, actor_id: int, closure_id: int) -> Closure | None:
        """Remove a closure (audited); None if it did not exist."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                f"SELECT {_COLUMNS} FROM closures WHERE id = ?",  # noqa: S608 - constant columns
                (closure_id,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            closure = _closure(row)
            await conn.execute("DELETE FROM closures WHERE id = ?", (closure_id,))
            await write_audit(
                conn,
                actor_id,
                "closure.delete",
                f"closure:{closure_id}",
                {
                    "quarter": closure.quarter_id,
                    "first_day": closure.first_day.isoformat(),
                    "last_day": closure.last_day.isoformat(),
                },
            )
        return closure

    async def upcoming(self, today: date, quarter_id: str | None = None) -> list[Closure]:
        """Closures not yet over; for one quarter (including all-office ones) or all."""
        if quarter_id is None:
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM closures WHERE last_day >= ? "  # noqa: S608
                "ORDER BY first_day, id",
                (today.isoformat(),),
            )
        else:
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM closures WHERE last_day >= ? "  # noqa: S608
                "AND (quarter_id IS NULL OR quarter_id = ?) ORDER BY first_day, id",
                (today.isoformat(), quarter_id),
            )
        return [_closure(row) for row in rows]
