"""Figures for staff reports: residents, subscribers, concerns, broadcasts."""

from __future__ import annotations

import json
import statistics
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, from_db_time, to_db_time


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
    #: Events that took or take place in the period, and their sign-ups.
    events: int = 0
    attending: int = 0
    waiting: int = 0
    questions: int = 0
    #: Median hours from a concern to the office's first reply, and to "done" (None: none).
    hours_to_first_reply: float | None = None
    hours_to_done: float | None = None


class StatsRepository:
    """Aggregate queries only: no personal data leaves this module."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _grouped(self, sql: str, params: tuple[object, ...] = ()) -> dict[str, int]:
        """key → count from a two-column query."""
        return {str(row[0]): int(row[1]) for row in await self.db.fetchall(sql, params)}

    async def figures(
        self,
        quarter_ids: list[str],
        since: datetime,
        until: datetime | None = None,
        staff_ids: Collection[int] = (),
    ) -> Figures:
        """Figures for these quarters (residents without staff); what happened in the period."""
        marks = ", ".join("?" for _ in quarter_ids) or "NULL"
        quarters = tuple(quarter_ids)
        start = to_db_time(since)
        end = to_db_time(until) if until is not None else "9999"
        # Staff are people too, but they are not the residents a funding report counts.
        staff = tuple(staff_ids)
        not_staff = f"user_id NOT IN ({', '.join('?' for _ in staff)})" if staff else "1"
        inactive = await self.db.fetchone(
            f"SELECT count(*) FROM residents WHERE inactive_since IS NOT NULL "  # noqa: S608
            f"AND quarter_id IN ({marks}) AND {not_staff}",
            (*quarters, *staff),
        )
        period = "created_at >= ? AND created_at < ?"
        broadcast_ids = await self._broadcasts(quarters, start, end)
        id_marks = ", ".join("?" for _ in broadcast_ids) or "NULL"
        events = await self.db.fetchone(
            "SELECT count(*), coalesce(sum((SELECT count(*) FROM rsvps r WHERE r.event_id = e.id "  # noqa: S608
            "AND r.state = 'going')), 0), coalesce(sum((SELECT count(*) FROM rsvps r "
            "WHERE r.event_id = e.id AND r.state = 'waiting')), 0) FROM events e "
            f"WHERE cancelled_at IS NULL AND starts_at >= ? AND starts_at < ? "
            f"AND quarter_id IN ({marks})",
            (start, end, *quarters),
        )
        questions = await self.db.fetchone(
            f"SELECT count(*) FROM concerns WHERE kind = 'question' AND {period} "  # noqa: S608
            f"AND quarter_id IN ({marks})",
            (start, end, *quarters),
        )
        return Figures(
            residents_by_quarter=await self._grouped(
                f"SELECT quarter_id, count(*) FROM residents WHERE quarter_id IN ({marks}) "  # noqa: S608
                f"AND {not_staff} GROUP BY quarter_id",
                (*quarters, *staff),
            ),
            residents_by_language=await self._grouped(
                f"SELECT coalesce(language, '?'), count(*) FROM residents "  # noqa: S608
                f"WHERE quarter_id IN ({marks}) AND {not_staff} GROUP BY 1",
                (*quarters, *staff),
            ),
            inactive_residents=int(inactive[0]) if inactive else 0,
            subscribers_by_quarter=await self._grouped(
                f"SELECT quarter_id, count(*) FROM subscriptions "  # noqa: S608
                f"WHERE quarter_id IN ({marks}) AND {not_staff} GROUP BY quarter_id",
                (*quarters, *staff),
            ),
            concerns_by_topic=await self._grouped(
                f"SELECT topic_id, count(*) FROM concerns WHERE {period} "  # noqa: S608
                f"AND kind = 'concern' AND quarter_id IN ({marks}) GROUP BY topic_id",
                (start, end, *quarters),
            ),
            concerns_by_status=await self._grouped(
                f"SELECT status, count(*) FROM concerns WHERE {period} "  # noqa: S608
                f"AND kind = 'concern' AND quarter_id IN ({marks}) GROUP BY status",
                (start, end, *quarters),
            ),
            broadcasts=len(broadcast_ids),
            deliveries_by_state=await self._grouped(
                f"SELECT state, count(*) FROM deliveries WHERE broadcast_id IN ({id_marks}) "  # noqa: S608
                "GROUP BY state",
                tuple(broadcast_ids),
            ),
            events=int(events[0]) if events else 0,
            attending=int(events[1]) if events else 0,
            waiting=int(events[2]) if events else 0,
            questions=int(questions[0]) if questions else 0,
            hours_to_first_reply=await self._median_hours(
                "SELECT c.created_at, min(e.created_at) FROM concerns c JOIN concern_events e "  # noqa: S608
                "ON e.concern_id = c.id AND e.kind = 'reply' WHERE c.created_at >= ? "
                "AND c.created_at < ? AND c.kind = 'concern' "
                f"AND c.quarter_id IN ({marks}) GROUP BY c.id",
                (start, end, *quarters),
            ),
            hours_to_done=await self._median_hours(
                f"SELECT created_at, closed_at FROM concerns WHERE {period} "  # noqa: S608
                f"AND status = 'done' AND kind = 'concern' AND quarter_id IN ({marks})",
                (start, end, *quarters),
            ),
        )

    async def _broadcasts(self, quarters: tuple[str, ...], start: str, end: str) -> list[int]:
        """Broadcasts created in the period to these quarters only (one also sent elsewhere
        would count deliveries in quarters the report is not about)."""
        rows = await self.db.fetchall(
            "SELECT id, quarters FROM broadcasts WHERE created_at >= ? AND created_at < ? "
            "AND status != 'cancelled'",
            (start, end),
        )
        return [int(row[0]) for row in rows if set(json.loads(row[1])) <= set(quarters)]

    async def _median_hours(self, sql: str, params: tuple[object, ...]) -> float | None:
        """The median of (second − first) in hours over the rows; None without rows."""
        spans = [
            (from_db_time(row[1]) - from_db_time(row[0])).total_seconds() / 3600
            for row in await self.db.fetchall(sql, params)
            if row[0] and row[1]
        ]
        return statistics.median(spans) if spans else None
