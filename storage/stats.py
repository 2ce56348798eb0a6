"""Figures for staff reports: residents, subscribers, concerns, broadcasts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, to_db_time


@dataclass(frozen=True)
class Figures:
    """Counts for /stats; keys are ids (quarter, language, topic, status)."""

    residents_by_quarter: dict[str, int]
    residents_by_language: dict[str, int]
    inactive_residents: int
    subscribers_by_quarter: dict[str, int]
    concerns_by_topic: dict[str, int]
    concerns_by_status: dict[str, int]
    broadcasts: int
    deliveries_by_state: dict[str, int]


class StatsRepository:
    """Aggregate queries only: no personal data leaves this module."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _grouped(self, sql: str, params: tuple[object, ...] = ()) -> dict[str, int]:
        """key → count from a two-column query."""
        return {str(row[0]): int(row[1]) for row in await self.db.fetchall(sql, params)}

    async def figures(self, quarter_ids: list[str], since: datetime) -> Figures:
        """Figures for these quarters; concerns and broadcasts since `since`."""
        marks = ", ".join("?" for _ in quarter_ids) or "NULL"
        quarters = tuple(quarter_ids)
        start = to_db_time(since)
        inactive = await self.db.fetchone(
            f"SELECT count(*) FROM residents WHERE inactive_since IS NOT NULL "  # noqa: S608
            f"AND quarter_id IN ({marks})",
            quarters,
        )
        broadcasts = await self.db.fetchone(
            "SELECT count(*) FROM broadcasts WHERE created_at >= ?", (start,)
        )
        return Figures(
            residents_by_quarter=await self._grouped(
                f"SELECT quarter_id, count(*) FROM residents WHERE quarter_id IN ({marks}) "  # noqa: S608
                "GROUP BY quarter_id",
                quarters,
            ),
            residents_by_language=await self._grouped(
                f"SELECT coalesce(language, '?'), count(*) FROM residents "  # noqa: S608
                f"WHERE quarter_id IN ({marks}) GROUP BY 1",
                quarters,
            ),
            inactive_residents=int(inactive[0]) if inactive else 0,
            subscribers_by_quarter=await self._grouped(
                f"SELECT quarter_id, count(*) FROM subscriptions "  # noqa: S608
                f"WHERE quarter_id IN ({marks}) GROUP BY quarter_id",
                quarters,
            ),
            concerns_by_topic=await self._grouped(
                f"SELECT topic_id, count(*) FROM concerns WHERE created_at >= ? "  # noqa: S608
                f"AND quarter_id IN ({marks}) GROUP BY topic_id",
                (start, *quarters),
            ),
            concerns_by_status=await self._grouped(
                f"SELECT status, count(*) FROM concerns WHERE created_at >= ? "  # noqa: S608
                f"AND quarter_id IN ({marks}) GROUP BY status",
                (start, *quarters),
            ),
            broadcasts=int(broadcasts[0]) if broadcasts else 0,
            deliveries_by_state=await self._grouped(
                "SELECT d.state, count(*) FROM deliveries d JOIN broadcasts b "
                "ON b.id = d.broadcast_id WHERE b.created_at >= ? GROUP BY d.state",
                (start,),
            ),
        )
