"""The data layer against a real SQLite file: pragmas, migrations, repositories, audit log."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from storage.audit import AuditRepository
from storage.closures import ClosureRepository
from storage.db import Database, StorageError
from storage.migrations import MIGRATIONS, SCHEMA_VERSION
from storage.residents import ResidentRepository


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """An open database in a temp dir."""
    database = Database(tmp_path / "test.sqlite3")
    await database.open()
    yield database
    await database.close()


async def test_pragmas_and_schema_version(db: Database) -> None:
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
    assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
    assert (await db.fetchone("PRAGMA synchronous"))[0] == 2  # type: ignore[index]  # FULL
    assert (await db.fetchone("PRAGMA busy_timeout"))[0] == 5000  # type: ignore[index]
    assert (await db.fetchone("PRAGMA user_version"))[0] == SCHEMA_VERSION  # type: ignore[index]


async def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "again.sqlite3"
    first = Database(path)
    await first.open()
    await ResidentRepository(first).set_language(1, "de")
    await first.close()
    second = Database(path)
    await second.open()
    resident = await ResidentRepository(second).get(1)
    await second.close()
    assert resident is not None and resident.language == "de"


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="upgrade quartierbot"):
        await Database(path).open()


async def test_failed_transaction_rolls_back(db: Database) -> None:
    residents = ResidentRepository(db)
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO residents (user_id, first_seen, last_seen) VALUES (5, 'x', 'x')"
            )
            raise RuntimeError("boom")
    assert await residents.get(5) is None


async def test_every_commit_waits_for_the_disk_and_is_visible_at_once(db: Database) -> None:
    from storage.concerns import ConcernRepository

    concerns = ConcernRepository(db)
    residents = ResidentRepository(db)
    await residents.set_quarter(51, "bahnhofsvorstadt")
    await concerns.start_draft(51, "bahnhofsvorstadt")
    await concerns.update_draft(51, topic_id="green", text="Broken bench", contact_allowed=1)
    await residents.give_consent(51)
    # synchronous=FULL for every transaction: nothing is confirmed before it is on disk.
    assert (await db.fetchone("PRAGMA synchronous"))[0] == 2  # type: ignore[index]
    with sqlite3.connect(db.path) as other:
        assert other.execute("SELECT text FROM concern_drafts").fetchall() == [("Broken bench",)]
    concern = await concerns.submit(51, "BV", "en")
    with sqlite3.connect(db.path) as other:
        assert other.execute("SELECT reference FROM concerns").fetchall() == [(concern.reference,)]
        assert other.execute("SELECT count(*) FROM concern_drafts").fetchone() == (0,)
    assert not db.conn.in_transaction


async def test_an_incomplete_submit_keeps_the_draft(db: Database) -> None:
    from storage.concerns import ConcernRepository

    concerns = ConcernRepository(db)
    await ResidentRepository(db).set_quarter(45, "bahnhofsvorstadt")
    started = await concerns.start_draft(45, "bahnhofsvorstadt")
    with pytest.raises(ValueError, match="incomplete"):
        await concerns.submit(45, "BV", "de")
    assert await concerns.draft(45) == started


async def test_what_an_operator_changes_with_sqlite3_is_seen_on_the_next_read(
    db: Database,
) -> None:
    from storage.officers import OfficerRepository
    from storage.subscriptions import SubscriptionRepository

    residents = ResidentRepository(db)
    await residents.set_language(61, "de")
    await residents.set_quarter(61, "bahnhofsvorstadt")
    assert (await residents.get(61)).language == "de"  # type: ignore[union-attr]
    with sqlite3.connect(db.path) as other:
        other.execute("UPDATE residents SET language = 'tr' WHERE user_id = 61")
        other.execute(
            "INSERT INTO subscriptions (user_id, quarter_id, created_at) "
            "VALUES (61, 'huenertshagen', 'x')"
        )
        other.execute(
            "INSERT INTO officers (user_id, quarter_id, added_by, added_at) "
            "VALUES (62, 'huenertshagen', 1, 'x')"
        )
    # No copy in memory to go stale: the bot sees the operator's change without a restart.
    assert (await residents.get(61)).language == "tr"  # type: ignore[union-attr]
    assert await SubscriptionRepository(db).quarters_of(61) == {"huenertshagen"}
    assert await OfficerRepository(db).quarters_of(62) == {"huenertshagen"}


async def test_consent_keeps_the_first_agreement(db: Database) -> None:
    residents = ResidentRepository(db)
    await residents.set_quarter(71, "bahnhofsvorstadt")
    await residents.give_consent(71)
    first = (await residents.get(71)).consent_at  # type: ignore[union-attr]
    assert first is not None
    await db.execute("UPDATE residents SET consent_at = '2020-01-01T00:00:00Z' WHERE user_id = 71")
    await residents.give_consent(71)  # a second tap on an old button
    assert (await residents.get(71)).consent_at == datetime(2020, 1, 1, tzinfo=UTC)  # type: ignore[union-attr]


async def test_resident_lifecycle(db: Database) -> None:
    residents = ResidentRepository(db)
    assert await residents.get(42) is None
    created = await residents.register(42, "bahnhofsvorstadt")
    assert created.language is None and created.quarter_id == "bahnhofsvorstadt"
    assert not created.onboarded
    # A /start without a deep link keeps the quarter from the poster.
    again = await residents.register(42, None)
    assert again.quarter_id == "bahnhofsvorstadt"
    await residents.set_language(42, "tr")
    await residents.set_quarter(42, "huenertshagen")
    stored = await residents.get(42)
    assert stored is not None and stored.onboarded
    assert (stored.language, stored.quarter_id) == ("tr", "huenertshagen")
    assert await residents.count() == 1


async def test_last_seen_is_written_only_when_stale(db: Database) -> None:
    residents = ResidentRepository(db)
    resident = await residents.register(7)
    assert not await residents.touch(resident, resident.last_seen + timedelta(minutes=5))
    later = resident.last_seen + timedelta(hours=2)
    assert await residents.touch(resident, later)
    stored = await residents.get(7)
    assert stored is not None and stored.last_seen == later.replace(microsecond=0)


async def test_closures_and_their_audit_trail(db: Database) -> None:
    closures = ClosureRepository(db)
    audit = AuditRepository(db)
    everywhere = await closures.add(1, date(2026, 12, 24), date(2026, 12, 31), "Winter break", None)
    bv = await closures.add(1, date(2026, 12, 2), date(2026, 12, 2), "", "bahnhofsvorstadt")
    await closures.add(1, date(2026, 1, 2), date(2026, 1, 3), "old", None)
    upcoming = await closures.upcoming(date(2026, 12, 1))
    assert [c.id for c in upcoming] == [bv.id, everywhere.id]
    only_hu = await closures.upcoming(date(2026, 12, 1), "huenertshagen")
    assert [c.id for c in only_hu] == [everywhere.id]
    assert await closures.delete(2, bv.id) == bv
    assert await closures.delete(2, bv.id) is None
    entries = await audit.recent()
    assert [e.action for e in entries] == [
        "closure.delete",
        "closure.add",
        "closure.add",
        "closure.add",
    ]
    assert entries[0].actor_id == 2 and entries[0].subject == f"closure:{bv.id}"
    assert entries[-1].detail["reason"] == "Winter break"
    with pytest.raises(ValueError):
        await closures.add(1, date(2026, 12, 5), date(2026, 12, 4), "", None)


async def test_audit_log_cannot_be_edited_or_deleted(db: Database) -> None:
    await AuditRepository(db).record(9, "test.action", "x")
    for statement in ("UPDATE audit_log SET actor_id = 1", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await db.execute(statement)
    assert len(await AuditRepository(db).recent()) == 1


async def test_commit_is_visible_to_another_connection_immediately(db: Database) -> None:
    await ResidentRepository(db).set_language(11, "uk")
    # A second, independent connection (another process in production) sees the commit.
    with sqlite3.connect(db.path) as other:
        row = other.execute("SELECT language FROM residents WHERE user_id = 11").fetchone()
    assert row == ("uk",)


def test_storage_does_not_import_telegram_handlers_or_bot() -> None:
    root = Path(__file__).resolve().parent.parent / "storage"
    for source in root.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        for forbidden in (
            "import telegram",
            "from telegram",
            "from handlers",
            "from bot",
            "import handlers",
            "import bot",
        ):
            assert forbidden not in text, f"{source.name} imports {forbidden}"


def test_utc_round_trip() -> None:
    from storage.db import from_db_time, to_db_time

    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert from_db_time(to_db_time(moment)) == moment


async def test_cancelled_writers_never_leave_the_connection_in_a_transaction(db: Database) -> None:
    import asyncio

    residents = ResidentRepository(db)
    for attempt in range(60):
        task = asyncio.ensure_future(residents.set_language(10_000 + attempt, "de"))
        # Cancel at varying points: before BEGIN, during it, during the INSERT or the COMMIT.
        for _ in range(attempt % 6):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for attempt in range(30):
        user_id = 20_000 + attempt

        async def two_statements(user_id: int = user_id) -> None:
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO residents (user_id, first_seen, last_seen) VALUES (?, 'x', 'x')",
                    (user_id,),
                )
                await conn.execute(
                    "UPDATE residents SET language = 'de' WHERE user_id = ?", (user_id,)
                )

        task = asyncio.ensure_future(two_statements())
        for _ in range(attempt % 3):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # All or nothing: a cancelled transaction never leaves half of its statements behind.
    rows = await db.fetchall("SELECT language FROM residents WHERE user_id >= 20000")
    assert all(row[0] == "de" for row in rows)
    # The shared connection is usable: a fresh transaction begins and commits.
    await residents.set_language(1, "en")
    assert (await residents.get(1)) is not None
    assert not db.conn.in_transaction


async def test_rebuilding_the_concerns_table_keeps_every_thread_link_and_outbox_row(
    tmp_path: Path,
) -> None:
    # A database of schema 9 with a concern that has a thread, links and an outbox row: the
    # children reference it with ON DELETE CASCADE, which dropping the old table must not fire.
    path = tmp_path / "v9.sqlite3"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        for statements in MIGRATIONS[:9]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO concerns (id, reference, quarter_id, number, topic_id, resident_id, "
            "text, contact_allowed, status, created_at, status_changed_at, kind) VALUES "
            "(1, 'BV-0001', 'bahnhofsvorstadt', 1, 'housing', 42, 'Mould', 1, 'in_progress', "
            "'2026-11-01T10:00:00Z', '2026-11-02T10:00:00Z', 'question')"
        )
        conn.execute(
            "INSERT INTO concern_events (concern_id, kind, author_id, text, created_at) "
            "VALUES (1, 'reply', 9, 'We come on Monday.', '2026-11-02T10:00:00Z')"
        )
        conn.execute("INSERT INTO concern_links VALUES (-100, 7, 1, 'text')")
        conn.execute(
            "INSERT INTO outbox (chat_id, kind, concern_id, entry_id, not_before, created_at) "
            "VALUES (42, 'reply', 1, 1, '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z')"
        )
        conn.execute("PRAGMA user_version = 9")
    db = Database(path)
    await db.open()
    try:
        from storage.concerns import ConcernRepository

        concerns = ConcernRepository(db)
        concern = await concerns.get(1)
        assert concern is not None and (concern.kind, concern.status) == ("question", "in_progress")
        assert [e.text for e in await concerns.events(1)] == ["We come on Monday."]
        assert [link.message_id for link in await concerns.links(1, -100)] == [7]
        assert (await db.fetchone("SELECT count(*) FROM outbox"))[0] == 1  # type: ignore[index]
        assert await concerns.withdraw(concern, 42, None)  # the new status is allowed
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        indexes = {row["name"] for row in await db.fetchall("PRAGMA index_list(concerns)")}
        assert {
            "concerns_by_resident",
            "concerns_by_quarter_status",
            "concerns_by_created",
            "concerns_to_anonymise",
            "concerns_unposted",
        } <= indexes
        # The children still cascade from the new table.
        await db.execute("DELETE FROM outbox")
        await db.execute("DELETE FROM concerns WHERE id = 1")
        assert await concerns.events(1) == [] and await concerns.links(1, -100) == []
    finally:
        await db.close()
