"""Concerns for an export, streamed on the read-only connection so the bot keeps answering."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, from_db_time, to_db_time

#: Rows fetched from SQLite at a time: memory stays flat however many concerns there are.
FETCH_ROWS = 500


@dataclass(frozen=True)
class ExportRecord:
    """What one export row needs, straight from the database."""

    reference: str
    created_at: datetime
    quarter_id: str
    topic_id: str
    status: str
    language: str | None
    anonymous: bool
    text: str | None
    replies: int
    status_changed_at: datetime
    #: The stored machine translation of the text into the staff language, and its source.
    translation: str | None = None
    translated_from: str | None = None


class ExportRepository:
    """Reads concerns for exports; writes nothing."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def concerns(
        self,
        quarter_ids: Collection[str],
        created_from: datetime | None = None,
        created_before: datetime | None = None,
        translated_into: str = "",
    ) -> AsyncGenerator[ExportRecord, None]:
        """Concerns of these quarters created in [created_from, created_before), oldest first.

        With `translated_into`, each text's stored machine translation into that language.
        """
        marks = ", ".join("?" for _ in quarter_ids) or "NULL"
        # The unary + keeps SQLite off the quarter index: reading through it, SQLite would sort
        # every selected row, texts and all, for ORDER BY c.id instead of streaming in id order.
        where = [f"+c.quarter_id IN ({marks})"]
        params: list[Any] = [translated_into, *quarter_ids]
        if created_from is not None:
            where.append("c.created_at >= ?")
            params.append(to_db_time(created_from))
        if created_before is not None:
            where.append("c.created_at < ?")
            params.append(to_db_time(created_before))
        sql = (
            "SELECT c.reference, c.created_at, c.quarter_id, c.topic_id, c.status, c.language, "  # noqa: S608 - placeholders only
            "c.contact_allowed, c.text, c.status_changed_at, "
            "(SELECT count(*) FROM concern_events e WHERE e.concern_id = c.id "
            "AND e.kind = 'reply'), tr.text, tr.source_language "
            "FROM concerns c LEFT JOIN translations tr ON tr.subject = 'concern:' || c.id "
            "AND tr.target = ? AND tr.source_language != tr.target "
            f"WHERE {' AND '.join(where)} ORDER BY c.id"
        )
        async with self.db.reader() as conn, conn.execute(sql, params) as cursor:
            while rows := await cursor.fetchmany(FETCH_ROWS):
                for row in rows:
                    yield ExportRecord(
                        reference=row[0],
                        created_at=from_db_time(row[1]),
                        quarter_id=row[2],
                        topic_id=row[3],
                        status=row[4],
                        language=row[5],
                        anonymous=not row[6],
                        text=row[7],
                        status_changed_at=from_db_time(row[8]),
                        replies=int(row[9]),
                        translation=row[10],
                        translated_from=row[11],
                    )
