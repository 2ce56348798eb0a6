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
from storage.migrations import SCHEMA_VERSION
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


async def test_run_commits_every_statement_of_its_work_in_one_trip(db: Database) -> None:
    trips = []
    original = db.conn._execute

    async def counted(fn, *args):  # type: ignore[no-untyped-def]
        trips.append(fn)
        return await original(fn, *args)

    db.conn._execute = counted  # type: ignore[method-assign]

    def work(conn: sqlite3.Connection) -> int:
        for user_id in (21, 22, 23):
            conn.execute(
                "INSERT INTO residents (user_id, first_seen, last_seen) VALUES (?, 'x', 'x')",
                (user_id,),
            )
        return int(conn.execute("SELECT count(*) FROM residents").fetchone()[0])

    try:
        assert await db.run(work) == 3
    finally:
        del db.conn._execute
    assert len(trips) == 1
    assert not db.conn.in_transaction
    # Committed: another connection sees all three rows.
    with sqlite3.connect(db.path) as other:
        assert other.execute("SELECT count(*) FROM residents").fetchone() == (3,)


async def test_run_rolls_back_all_of_its_work_when_it_raises(db: Database) -> None:
    reports: list[object] = []
    db.watch("residents", reports.append)

    def work(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO residents (user_id, first_seen, last_seen) VALUES (31, 'x', 'x')")
        conn.execute("INSERT INTO residents (user_id, first_seen, last_seen) VALUES (31, 'x', 'x')")

    with pytest.raises(sqlite3.IntegrityError):
        await db.run(work, changes=[("residents", 31)])
    assert await db.fetchone("SELECT user_id FROM residents WHERE user_id = 31") is None
    assert not db.conn.in_transaction
    assert reports == [31]  # reported however it ended: a cache must never keep a guess


async def test_run_without_waiting_for_the_disk_leaves_every_other_commit_durable(
    db: Database,
) -> None:
    seen: list[int] = []

    def work(conn: sqlite3.Connection) -> None:
        seen.append(conn.execute("PRAGMA synchronous").fetchone()[0])
        conn.execute("INSERT INTO residents (user_id, first_seen, last_seen) VALUES (41, 'x', 'x')")

    def failing(conn: sqlite3.Connection) -> None:
        work(conn)  # the same user id again: refused

    await db.run(work, durable=False)
    with pytest.raises(sqlite3.IntegrityError):
        await db.run(failing, durable=False)
    assert seen == [1, 1]  # NORMAL inside
    assert (await db.fetchone("PRAGMA synchronous"))[0] == 2  # type: ignore[index]  # FULL again
    with sqlite3.connect(db.path) as other:
        assert other.execute("SELECT count(*) FROM residents").fetchone() == (1,)


@contextlib.asynccontextmanager
async def traced(db: Database) -> AsyncIterator[list[str]]:
    """Every statement SQLite runs on the bot's connection meanwhile (its trace callback)."""
    statements: list[str] = []
    conn = db.conn
    await conn._execute(lambda: conn._conn.set_trace_callback(statements.append))  # type: ignore[no-untyped-call]
    try:
        yield statements
    finally:
        await conn._execute(lambda: conn._conn.set_trace_callback(None))  # type: ignore[no-untyped-call]


async def test_draft_steps_do_not_wait_for_the_disk_but_the_submit_does(db: Database) -> None:
    from storage.concerns import ConcernRepository

    concerns = ConcernRepository(db)
    await ResidentRepository(db).set_quarter(51, "bahnhofsvorstadt")
    async with traced(db) as steps:
        await concerns.start_draft(51, "bahnhofsvorstadt")
        await concerns.update_draft(51, topic_id="green", text="Broken bench", contact_allowed=1)
        await concerns.consent_to_summary(51)
    begins = [i for i, sql in enumerate(steps) if sql == "BEGIN IMMEDIATE"]
    assert len(begins) == 3
    assert all(steps[index - 1] == "PRAGMA synchronous=NORMAL" for index in begins)
    assert steps[-1] == "PRAGMA synchronous=FULL"

    async with traced(db) as submit:
        await concerns.submit(51, "BV", "en")
    # The submit, which the resident is told is saved, commits under synchronous=FULL; its
    # fsync makes the earlier, unsynced draft steps in the same log durable as well.
    assert "PRAGMA synchronous=NORMAL" not in submit
    assert submit[0] == "BEGIN IMMEDIATE" and "COMMIT" in submit
    assert (await db.fetchone("PRAGMA synchronous"))[0] == 2  # type: ignore[index]


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

        def work(conn: sqlite3.Connection, user_id: int = user_id) -> None:
            conn.execute(
                "INSERT INTO residents (user_id, first_seen, last_seen) VALUES (?, 'x', 'x')",
                (user_id,),
            )

        task = asyncio.ensure_future(db.run(work))
        for _ in range(attempt % 3):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # The shared connection is usable: a fresh transaction begins and commits.
    await residents.set_language(1, "en")
    assert (await residents.get(1)) is not None
    assert not db.conn.in_transaction
