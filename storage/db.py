"""The SQLite database: connection settings, migrations and serialised access."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.migrations import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

Params = Sequence[Any]
T = TypeVar("T")


class StorageError(Exception):
    """The database cannot be used; the message says why and what to do."""


def utc_now() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


def to_db_time(value: datetime) -> str:
    """Store instants as ISO 8601 UTC text: sortable, readable in exports."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db_time(value: str) -> datetime:
    """Parse what `to_db_time` wrote."""
    return datetime.fromisoformat(value)


class Database:
    """One aiosqlite connection shared by the bot, with transactions serialised by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        # One connection means one transaction at a time: without the lock, a coroutine that
        # awaits inside its transaction would let another coroutine's statements join it.
        self._lock: asyncio.Lock | None = None

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
        await asyncio.to_thread(_create_private, self.path)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so nothing commits implicitly.
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            await configure(conn)
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
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any error; holds the lock throughout."""
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
        """SQLite's quick integrity check: 'ok', or what is broken.

        On a connection of its own: it reads the whole file (seconds for a large one), and the
        bot keeps answering meanwhile.
        """
        try:
            async with self.reader() as conn:
                rows = list(await conn.execute_fetchall("PRAGMA quick_check"))
        except sqlite3.DatabaseError as exc:
            # So damaged that the check itself cannot read it.
            return str(exc)
        return "; ".join(str(row[0]) for row in rows)

    async def backup(self, target: Path) -> None:
        """A consistent copy of the live database (SQLite's online backup API)."""
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = target.with_name(target.name + ".part")
        partial.unlink(missing_ok=True)
        # Readable by the bot's user only, whatever the umask: a backup holds concerns.
        partial.touch(mode=0o600)
        partial.chmod(0o600)
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
        """All rows of a query, in one trip to aiosqlite's thread.

        Also one writing statement with RETURNING: outside BEGIN … COMMIT, SQLite commits it by
        itself (with the same fsync) before the rows come back.
        """
        async with self.lock:
            return list(await self.conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one writing statement as its own transaction; returns the changed row count.

        Outside BEGIN … COMMIT, SQLite commits a single statement by itself (with the same fsync).
        """
        async with self.lock, self.conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for many rows in one transaction."""
        async with self.transaction() as conn:
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


async def configure(conn: aiosqlite.Connection) -> None:
    """Connection pragmas (also used by the benchmarks' peer bots, to compare like with like)."""
    await conn.execute("PRAGMA journal_mode=WAL")
    # FULL, not NORMAL: in WAL mode NORMAL can lose the last commits on power loss, and what the
    # bot confirmed to a resident ("your concern BV-0042 is saved") must survive exactly that.
    # The cost is one fsync per commit, which our write rate (people typing) easily affords.
    await conn.execute("PRAGMA synchronous=FULL")
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
    if current == SCHEMA_VERSION:
        return
    # SQLite's procedure for changing a table: rebuild it with foreign keys off (the pragma
    # works outside a transaction only), so dropping the old table cascades into no child
    # rows; the check before each commit proves every reference still holds.
    await conn.execute("PRAGMA foreign_keys=OFF")
    try:
        for version in range(current + 1, SCHEMA_VERSION + 1):
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[version - 1]:
                    await conn.execute(statement)
                async with conn.execute("PRAGMA foreign_key_check") as cursor:
                    broken = await cursor.fetchone()
                if broken is not None:
                    raise StorageError(
                        f"migration {version} stopped: a row of {broken[0]} (rowid {broken[1]}) "
                        f"refers to a missing row of {broken[2]}; restore a backup"
                    )
                # PRAGMA user_version is transactional: it commits or rolls back with the schema.
                await conn.execute(f"PRAGMA user_version = {version:d}")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
            log.info("database migrated to schema version %d", version)
    finally:
        await conn.execute("PRAGMA foreign_keys=ON")


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (0600): it holds residents'
    concerns. SQLite gives its -wal and -shm files the same mode. An existing file is left as
    the operator set it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)
