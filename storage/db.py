"""The SQLite database: connection settings, migrations and serialised access."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.cache import Listener
from storage.migrations import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

Params = Sequence[Any]
#: (table, key) of a write, reported to the read caches; key None: any rows of the table.
Change = tuple[str, object | None]
T = TypeVar("T")
#: A whole transaction's statements, run in SQLite's thread on the plain sqlite3 connection.
Work = Callable[[sqlite3.Connection], T]


@dataclass(frozen=True, eq=False)
class Refresher:
    """Keeps a cached value current through `Database.run` writes without a trip of its own.

    `read(conn, key)` runs in SQLite's thread inside the write's transaction; `keep(key, value)`
    runs right after the write was reported (the cache dropped the old value), with no await
    in between, so no other write can have come in after the value was read.
    """

    read: Callable[[sqlite3.Connection, Any], Any]
    keep: Callable[[Any, Any], None]


class StorageError(Exception):
    """The database cannot be used; the message says why and what to do."""


def utc_now() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


def to_db_time(value: datetime) -> str:
    """Store instants as ISO 8601 UTC text: sortable, readable in exports."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db_time(value: str) -> datetime:
    """Parse what `to_db_time` wrote (fromisoformat: ~60× faster than strptime)."""
    return datetime.fromisoformat(value)


class Database:
    """One aiosqlite connection shared by the bot, with transactions serialised by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        # One connection means one transaction at a time: without the lock, a coroutine that
        # awaits inside its transaction would let another coroutine's statements join it.
        self._lock: asyncio.Lock | None = None
        self._listeners: dict[str, list[Listener]] = {}
        self._refreshers: dict[str, list[Refresher]] = {}

    def watch(self, table: str, listener: Listener) -> None:
        """Call `listener(key)` whenever a repository reports a committed write to `table`."""
        self._listeners.setdefault(table, []).append(listener)

    def refresh(self, tables: Iterable[str], refresher: Refresher) -> None:
        """Re-read a key's value in the same trip as a `run` that reports a write to it."""
        for table in tables:
            self._refreshers.setdefault(table, []).append(refresher)

    def changed(self, table: str, key: object | None = None) -> None:
        """Report a committed write to `table` (key: the row's key; None: any rows)."""
        for listener in self._listeners.get(table, ()):
            listener(key)

    def _report(self, changes: Sequence[Change]) -> None:
        """Report writes (from `finally`: a cancelled await may still have committed)."""
        for table, key in changes:
            self.changed(table, key)

    @property
    def conn(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._conn is None:
            raise StorageError("the database is not open")
        return self._conn

    @property
    def lock(self) -> asyncio.Lock:
        """The lock that serialises access to the connection."""
        if self._lock is None:
            raise StorageError("the database is not open")
        return self._lock

    async def open(self) -> None:
        """Connect, configure and migrate."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so nothing commits implicitly.
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            await _configure(conn)
            await _migrate(conn, self.path)
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StorageError(
                f"{self.path} cannot be used ({exc}). Restore the latest backup made with "
                "'quartierbot backup' (see README, Operations)"
            ) from None
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the connection; every write was already committed when it returned."""
        if self._conn is not None:
            async with self.lock:
                await self._conn.close()
            self._conn = None

    @asynccontextmanager
    async def transaction(
        self, changes: Sequence[Change] = ()
    ) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any error; holds the lock throughout.

        `changes` are reported to the read caches when the transaction ends, however it ends.
        """
        try:
            async with self._transaction() as conn:
                yield conn
        finally:
            self._report(changes)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The transaction itself."""
        async with self.lock:
            conn = self.conn
            try:
                await _finish_even_if_cancelled(conn.execute("BEGIN IMMEDIATE"))
            except asyncio.CancelledError:
                # BEGIN ran to its end in SQLite's thread: close the transaction it opened.
                await _finish_even_if_cancelled(conn.execute("ROLLBACK"))
                raise
            try:
                yield conn
            except BaseException:
                await _finish_even_if_cancelled(conn.execute("ROLLBACK"))
                raise
            await _finish_even_if_cancelled(conn.execute("COMMIT"))

    async def run(self, work: Work[T], changes: Sequence[Change] = (), durable: bool = True) -> T:
        """Run `work` as one transaction in SQLite's thread: one trip, however many statements.

        A transaction of n statements through aiosqlite's coroutines costs n + 2 trips to its
        worker thread (BEGIN, each statement, COMMIT), ≈ 0.1 ms each besides SQLite's own work.
        `work` gets the sqlite3 connection, may only talk to SQLite, and rolls everything back
        by raising. `changes` are reported to the read caches when it ends, however it ends;
        caches with a `Refresher` for a changed key get its new value from the same trip.

        `durable=False` commits without waiting for the disk (synchronous=NORMAL for this one
        transaction): a power cut may lose it, until the next durable commit syncs the log it
        is in; a crash of the bot does not. Only for what nobody was told is saved (a draft's
        steps: the submit commits durably) or what a job redoes (the staff-post note).
        """
        # One refresh per refresher and key, though several tables may report the same key.
        refreshes = list(
            dict.fromkeys(
                (refresher, key)
                for table, key in changes
                if key is not None
                for refresher in self._refreshers.get(table, ())
            )
        )

        def work_and_refresh(conn: sqlite3.Connection) -> tuple[T, list[Any]]:
            """The work, then the refreshed values, before COMMIT: nothing can come between."""
            result = work(conn)
            return result, [refresher.read(conn, key) for refresher, key in refreshes]

        try:
            async with self.lock:
                # No shield against cancellation needed (unlike BEGIN … COMMIT over several
                # trips): the whole transaction is one job in the worker's queue, and whatever
                # is queued after it runs after it, even if we stop waiting for it.
                result, values = await _in_worker(self.conn, _atomically(work_and_refresh, durable))
        finally:
            self._report(changes)
        # Reported just now, nothing awaited since: these values are the newest.
        for (refresher, key), value in zip(refreshes, values, strict=True):
            refresher.keep(key, value)
        return result

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """A separate read-only connection: in WAL mode a long read (an export) blocks no writer."""
        conn = await aiosqlite.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            await conn.execute("PRAGMA busy_timeout=5000")
            yield conn
        finally:
            await conn.close()

    async def quick_check(self) -> str:
        """SQLite's quick integrity check: 'ok', or what is broken."""
        try:
            rows = await self.fetchall("PRAGMA quick_check")
        except sqlite3.DatabaseError as exc:
            # So damaged that the check itself cannot read it.
            return str(exc)
        return "; ".join(str(row[0]) for row in rows)

    async def backup(self, target: Path) -> None:
        """A consistent copy of the live database (SQLite's online backup API)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.unlink(missing_ok=True)
        async with aiosqlite.connect(partial) as destination, self.lock:
            await self.conn.backup(destination)
        # Only a finished copy gets the requested name: a cron job never sees half a backup.
        partial.replace(target)

    async def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it, so old page images are gone too."""
        async with self.lock:
            await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        """First row of a query."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        """All rows of a query, in one trip to SQLite's thread (not execute, fetch, close)."""
        async with self.lock:
            return list(await self.conn.execute_fetchall(sql, params))

    async def write(self, sql: str, params: Params = (), changes: Sequence[Change] = ()) -> None:
        """Run one writing statement as its own transaction, in one trip to SQLite's thread.

        Outside BEGIN … COMMIT, SQLite commits a single statement by itself (with the same fsync).
        For writes whose row count nobody needs: `execute` takes a second trip to close its cursor.
        """
        try:
            async with self.lock:
                await self.conn.execute_fetchall(sql, params)
        finally:
            self._report(changes)

    async def execute(self, sql: str, params: Params = (), changes: Sequence[Change] = ()) -> int:
        """Run one writing statement as its own transaction; returns the changed row count.

        Two trips to aiosqlite's thread (the statement, closing its cursor): the count is only
        on the cursor. `write` saves the second trip when the count is not needed.
        """
        try:
            async with self.lock:
                cursor = await self.conn.execute(sql, params)
                count = cursor.rowcount
                await cursor.close()
                return count
        finally:
            self._report(changes)

    async def executemany(
        self, sql: str, rows: Iterable[Params], changes: Sequence[Change] = ()
    ) -> None:
        """Run one statement for many rows in one transaction."""
        async with self.transaction(changes) as conn:
            await conn.executemany(sql, rows)


async def _finish_even_if_cancelled(statement: Awaitable[T]) -> T:
    """Await a statement; if our task is cancelled meanwhile, still wait for SQLite to finish it.

    aiosqlite runs statements in a thread that a cancellation cannot stop. Giving up the lock
    while BEGIN or COMMIT is still running would leave the shared connection in a transaction
    that the next caller then joins or trips over.
    """
    task = asyncio.ensure_future(statement)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def _atomically(work: Work[T], durable: bool = True) -> Work[T]:
    """`work` between BEGIN IMMEDIATE and COMMIT; any exception rolls it back."""

    def transaction(conn: sqlite3.Connection) -> T:
        """Runs in SQLite's thread."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full, I/O error) leaves the transaction open as well.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    if durable:
        return transaction

    def without_waiting_for_the_disk(conn: sqlite3.Connection) -> T:
        """The transaction under synchronous=NORMAL, then FULL again for everything else."""
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            return transaction(conn)
        finally:
            conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")

    return without_waiting_for_the_disk


async def _in_worker(conn: aiosqlite.Connection, work: Work[T]) -> T:
    """Run `work` with the sqlite3 connection in aiosqlite's worker thread, in one trip.

    aiosqlite has no public call for this; `_execute` and `_conn` are what its own methods
    (execute_fetchall, commit) are made of. pyproject.toml bounds the aiosqlite version, and
    tests/test_storage.py fails first if a release changes them.
    """

    def call() -> T:
        """In the worker thread, where the sqlite3 connection lives."""
        return work(conn._conn)

    result: T = await conn._execute(call)  # type: ignore[no-untyped-call]
    return result


#: See _configure; Database.run(durable=False) lowers it for one transaction.
SYNCHRONOUS = "FULL"


async def _configure(conn: aiosqlite.Connection) -> None:
    """Connection pragmas."""
    await conn.execute("PRAGMA journal_mode=WAL")
    # FULL, not NORMAL: in WAL mode NORMAL can lose the last commits on power loss, and what the
    # bot confirmed to a resident ("your concern BV-0042 is saved") must survive exactly that.
    # The cost is one fsync per commit, which our write rate (people typing) easily affords.
    # Database.run(durable=False) lowers it for single transactions nobody was told are saved.
    await conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    await conn.execute("PRAGMA foreign_keys=ON")
    # Another process (a backup, an export cron job) may hold the write lock briefly.
    await conn.execute("PRAGMA busy_timeout=5000")
    # Erased personal data must not linger in free pages of the file (GDPR erasure).
    await conn.execute("PRAGMA secure_delete=ON")


async def _migrate(conn: aiosqlite.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION; refuse a database written by a newer version."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION:
        raise StorageError(
            f"{path} has schema version {current}, but this quartierbot only knows up to "
            f"{SCHEMA_VERSION}: upgrade quartierbot or restore a backup made by this version"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1]:
                await conn.execute(statement)
            # PRAGMA user_version is transactional: it commits or rolls back with the schema.
            await conn.execute(f"PRAGMA user_version = {version:d}")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
        log.info("database migrated to schema version %d", version)
