"""Machine translations, stored once per text and target language and reused.

A subject names the text a translation belongs to: `concern:<id>` for a concern's description,
`entry:<id>` for an entry of its thread, `broadcast:<id>` for a broadcast's versions (machine
ones, or an officer's own, stored with the target as its source language). Erasure and
anonymisation delete a concern's translations with its texts (storage/privacy.py).

Staff texts meant for everyone (broadcasts, event titles and descriptions) are stored by their
content, `text:<hash>`: an edited event simply has new texts, so nothing goes stale, and a
second identical broadcast needs no service. Retention forgets them after a while.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, to_db_time, utc_now


@dataclass(frozen=True)
class StoredTranslation:
    """A text in another language, and the language it came from."""

    text: str
    source_language: str


def concern_subject(concern_id: int) -> str:
    """The subject of a concern's description."""
    return f"concern:{concern_id}"


def broadcast_subject(broadcast_id: int) -> str:
    """The subject of a broadcast's text (versions per language, machine or the officer's)."""
    return f"broadcast:{broadcast_id}"


def text_subject(text: str, html: bool = False) -> str:
    """The subject of a staff text by its content (HTML and plain text translate differently)."""
    digest = hashlib.sha256(("html\0" if html else "text\0").encode() + text.encode()).hexdigest()
    return f"text:{digest}"


def entry_subject(entry_id: int) -> str:
    """The subject of one entry of a concern's thread."""
    return f"entry:{entry_id}"


class TranslationRepository:
    """Typed access to the translations table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, subject: str, target: str) -> StoredTranslation | None:
        """The stored translation, if there is one."""
        row = await self.db.fetchone(
            "SELECT text, source_language FROM translations WHERE subject = ? AND target = ?",
            (subject, target),
        )
        return StoredTranslation(str(row[0]), str(row[1])) if row else None

    async def put(self, subject: str, target: str, translation: StoredTranslation) -> None:
        """Keep a translation (a newer one replaces it).

        A concern's or entry's translation is kept only while its text is: the service may
        answer after /deleteme or retention erased the text, and must not bring it back.
        """
        kind, _, raw_id = subject.partition(":")
        still_there = {
            "concern": "SELECT 1 FROM concerns WHERE id = ? AND text IS NOT NULL "
            "AND anonymised_at IS NULL",
            "entry": "SELECT 1 FROM concern_events WHERE id = ? AND text IS NOT NULL",
        }.get(kind)
        row = (
            subject,
            target,
            translation.source_language,
            translation.text,
            to_db_time(utc_now()),
        )
        sql = (
            "INSERT OR REPLACE INTO translations (subject, target, source_language, text, "
            "created_at) SELECT ?, ?, ?, ?, ?"
        )
        if still_there is None:
            await self.db.execute(sql, row)
        else:
            await self.db.execute(f"{sql} WHERE EXISTS ({still_there})", (*row, int(raw_id)))

    async def forget_texts(self, stored_before: datetime) -> int:
        """Retention: translations of staff texts (`text:` subjects) stored before then."""
        return await self.db.execute(
            "DELETE FROM translations WHERE subject LIKE 'text:%' AND created_at < ?",
            (to_db_time(stored_before),),
        )
