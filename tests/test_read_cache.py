"""The read caches: hits skip SQLite, every committed write is seen at once, no stale refills."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from storage.broadcasts import BroadcastRepository, DeliveryResult
from storage.cache import ReadCache
from storage.closures import ClosureRepository
from storage.db import Database, Params
from storage.events import EventInput, EventRepository
from storage.officers import OfficerRepository
from storage.privacy import PrivacyRepository
from storage.residents import ResidentRepository
from storage.subscriptions import SubscriptionRepository

BV = "bahnhofsvorstadt"
HU = "huenertshagen"
ADMIN = 900001


class CountingDatabase(Database):
    """The real database, counting reads and able to hold one read until released."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads = 0
        self.hold: asyncio.Event | None = None
        self.held = asyncio.Event()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        """Count; if `hold` is set, finish the read only after it is released."""
        self.reads += 1
        rows = await super().fetchall(sql, params)
        if self.hold is not None:
            self.held.set()
            await self.hold.wait()
        return rows


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[CountingDatabase]:
    """An open database in a temp dir."""
    database = CountingDatabase(tmp_path / "cache.sqlite3")
    await database.open()
    yield database
    await database.close()


async def reads_of(db: CountingDatabase, action: Callable[[], Awaitable[Any]]) -> int:
    """How many database reads `action` made."""
    before = db.reads
    await action()
    return db.reads - before


# --- the cache itself ------------------------------------------------------------------------


async def test_cache_keeps_none_and_evicts_least_recently_used() -> None:
    cache: ReadCache[int, str | None] = ReadCache(2)
    loads: list[int] = []

    async def load(key: int) -> str | None:
        loads.append(key)
        return None if key == 0 else f"v{key}"

    assert await cache.get_or_load(0, lambda: load(0)) is None
    assert await cache.get_or_load(0, lambda: load(0)) is None  # a cached "nobody"
    await cache.get_or_load(1, lambda: load(1))
    await cache.get_or_load(0, lambda: load(0))  # 0 is now the most recent
    await cache.get_or_load(2, lambda: load(2))  # evicts 1
    assert len(cache) == 2
    await cache.get_or_load(1, lambda: load(1))
    assert loads == [0, 1, 2, 1]


async def test_a_load_overtaken_by_a_write_is_not_kept() -> None:
    cache: ReadCache[int, str] = ReadCache(8)
    release = asyncio.Event()

    async def slow_old_value() -> str:
        await release.wait()
        return "old"

    reader = asyncio.create_task(cache.get_or_load(1, slow_old_value))
    await asyncio.sleep(0)
    cache.invalidate(1)  # a write is reported while the read is under way
    release.set()
    assert await reader == "old"  # the reader itself saw the old row: fine, it asked first

    async def new_value() -> str:
        return "new"

    assert await cache.get_or_load(1, new_value) == "new"


# --- residents -------------------------------------------------------------------------------


async def test_resident_reads_are_cached_and_writes_seen_at_once(db: CountingDatabase) -> None:
    residents = ResidentRepository(db)
    assert await reads_of(db, lambda: residents.get(7)) == 1
    assert await reads_of(db, lambda: residents.get(7)) == 0  # unknown user: cached as well
    await residents.set_language(7, "tr")
    await residents.set_quarter(7, BV)
    stored = await residents.get(7)
    assert stored is not None and (stored.language, stored.quarter_id) == ("tr", BV)
    assert await reads_of(db, lambda: residents.get(7)) == 0
    await residents.give_consent(7)
    assert (await residents.get(7)).consent_at is not None  # type: ignore[union-attr]
    await residents.mark_inactive(7)
    assert (await residents.get(7)).inactive_since is not None  # type: ignore[union-attr]
    assert await residents.reactivate(7)
    assert (await residents.get(7)).inactive_since is None  # type: ignore[union-attr]


async def test_resident_touch_and_register_refresh_the_cache(db: CountingDatabase) -> None:
    residents = ResidentRepository(db)
    first = await residents.register(8, BV)
    later = first.last_seen + timedelta(hours=2)
    assert await residents.touch(first, later)
    assert (await residents.get(8)).last_seen == later.replace(microsecond=0)  # type: ignore[union-attr]


async def test_blocked_broadcast_recipient_is_inactive_in_the_cache(db: CountingDatabase) -> None:
    residents = ResidentRepository(db)
    await residents.set_quarter(9, BV)
    assert (await residents.get(9)).inactive_since is None  # type: ignore[union-attr]
    broadcasts = BroadcastRepository(db)
    broadcast = await broadcasts.create(ADMIN, [BV], None, None, "Hello", None)
    await broadcasts.start(broadcast.id)
    await broadcasts.record(broadcast.id, [DeliveryResult(9, "blocked", error="Forbidden")])
    assert (await residents.get(9)).inactive_since is not None  # type: ignore[union-attr]


async def test_erasure_empties_every_cache_of_the_resident(db: CountingDatabase) -> None:
    residents, subscriptions = ResidentRepository(db), SubscriptionRepository(db)
    events = EventRepository(db)
    await residents.set_quarter(10, BV)
    await subscriptions.subscribe(10, [HU])
    event = await events.create(ADMIN, future_event())
    await events.rsvp(event.id, 10, datetime.now(UTC))
    now = datetime.now(UTC)
    assert (await events.upcoming_for(10, [BV], now))[0][2] == "going"
    assert await subscriptions.quarters_of(10) == {HU}
    await PrivacyRepository(db).erase_resident(10)
    assert await residents.get(10) is None
    assert await subscriptions.quarters_of(10) == frozenset()
    _, counts, mine = (await events.upcoming_for(10, [BV], now))[0]
    assert mine is None and counts.going == 0


# --- officers, closures, subscriptions ---------------------------------------------------------


async def test_officers_are_read_once_and_follow_staff_changes(db: CountingDatabase) -> None:
    officers = OfficerRepository(db)
    assert await officers.quarters_of(11) == frozenset()
    assert await reads_of(db, lambda: officers.quarters_of(12)) == 0
    await officers.assign(ADMIN, 11, [BV, HU])
    assert await officers.quarters_of(11) == {BV, HU}
    assert await officers.all() == {11: frozenset({BV, HU})}
    assert await officers.remove(ADMIN, 11)
    assert await officers.quarters_of(11) == frozenset()


async def test_closures_follow_add_and_delete(db: CountingDatabase) -> None:
    closures = ClosureRepository(db)
    today = date(2030, 3, 1)
    assert await closures.upcoming(today, BV) == []
    assert await reads_of(db, lambda: closures.upcoming(today, BV)) == 0
    added = await closures.add(ADMIN, today, today + timedelta(days=2), "Fortbildung", BV)
    assert [c.id for c in await closures.upcoming(today, BV)] == [added.id]
    assert await closures.upcoming(today, HU) == []
    await closures.delete(ADMIN, added.id)
    assert await closures.upcoming(today, BV) == []


async def test_subscriptions_follow_subscribe_unsubscribe_and_stop(db: CountingDatabase) -> None:
    subscriptions, residents = SubscriptionRepository(db), ResidentRepository(db)
    await residents.set_quarter(13, BV)
    assert await subscriptions.quarters_of(13) == frozenset()
    assert (await residents.get(13)).followed == frozenset()  # type: ignore[union-attr]
    await subscriptions.subscribe(13, [BV, HU])
    assert await subscriptions.quarters_of(13) == {BV, HU}
    # /events reads the followed quarters with the resident's row.
    assert (await residents.get(13)).followed == {BV, HU}  # type: ignore[union-attr]
    assert await reads_of(db, lambda: subscriptions.quarters_of(13)) == 0
    assert await reads_of(db, lambda: residents.get(13)) == 0
    await subscriptions.unsubscribe(13, [BV])
    assert await subscriptions.quarters_of(13) == {HU}
    assert (await residents.get(13)).followed == {HU}  # type: ignore[union-attr]
    await subscriptions.stop(13)
    assert await subscriptions.quarters_of(13) == frozenset()
    assert (await residents.get(13)).followed == frozenset()  # type: ignore[union-attr]


# --- events ------------------------------------------------------------------------------------


def future_event(days: int = 3, capacity: int | None = None, quarter: str = BV) -> EventInput:
    """An event a few days from the real now (the cache covers events after its load)."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return EventInput(quarter, f"Event in {days} days", starts, None, "Hof", "", capacity, None)


async def test_upcoming_events_come_from_memory_and_follow_every_change(
    db: CountingDatabase,
) -> None:
    events = EventRepository(db)
    first = await events.create(ADMIN, future_event(5, capacity=1))
    now = datetime.now(UTC)
    listed = await events.upcoming_for(20, [BV], now)
    assert [(e.id, c.going, mine) for e, c, mine in listed] == [(first.id, 0, None)]
    assert await reads_of(db, lambda: events.upcoming_for(21, [BV, HU], now)) == 0
    assert await reads_of(db, lambda: events.get(first.id)) == 0
    # RSVPs: counts, the reader's own state, the waiting list.
    await events.rsvp(first.id, 20, now)
    await events.rsvp(first.id, 21, now)
    [(_, counts, mine)] = await events.upcoming_for(21, [BV], now)
    assert (counts.going, counts.waiting, mine) == (1, 1, "waiting")
    await events.cancel_rsvp(first.id, 20, now)  # 21 moves up
    [(_, counts, mine)] = await events.upcoming_for(21, [BV], now)
    assert (counts.going, counts.waiting, mine) == (1, 0, "going")
    # A new, earlier event is listed first; an edit shows at once; a cancelled one goes.
    second = await events.create(ADMIN, future_event(2))
    assert [e.id for e, _, _ in await events.upcoming_for(22, [BV], now)] == [second.id, first.id]
    edited, _ = await events.update(ADMIN, first.id, future_event(1, capacity=5))
    assert (await events.upcoming_for(22, [BV], now))[0][0] == edited
    await events.cancel(ADMIN, edited.id)
    assert [e.id for e, _, _ in await events.upcoming_for(22, [BV], now)] == [second.id]
    assert (await events.get(edited.id)).is_cancelled  # type: ignore[union-attr]
    # Quarters and the limit still apply; time moving on drops started events.
    assert await events.upcoming_for(22, [HU], now) == []
    assert len(await events.upcoming_for(22, [BV], now, limit=0)) == 0
    later = now + timedelta(days=2, hours=1)
    assert await events.upcoming_for(22, [BV], later) == []


async def test_an_earlier_clock_than_the_cache_asks_sqlite(db: CountingDatabase) -> None:
    events = EventRepository(db)
    soon = await events.create(ADMIN, future_event(1))
    now = datetime.now(UTC)
    assert len(await events.upcoming_for(1, [BV], now)) == 1
    yesterday = now - timedelta(days=1)
    assert await reads_of(db, lambda: events.upcoming_for(1, [BV], yesterday)) >= 1
    assert [e.id for e, _, _ in await events.upcoming_for(1, [BV], yesterday)] == [soon.id]


async def test_a_read_in_flight_during_a_write_does_not_refill_the_cache(
    db: CountingDatabase,
) -> None:
    residents = ResidentRepository(db)
    await residents.set_language(30, "de")
    gate = asyncio.Event()
    db.hold = gate
    reader = asyncio.create_task(residents.get(30))  # reads "de", then waits at the gate
    await db.held.wait()
    db.hold = None
    await residents.set_language(30, "ar")  # committed while the old row is on its way
    gate.set()
    old = await reader
    assert old is not None and old.language == "de"
    fresh = await residents.get(30)
    assert fresh is not None and fresh.language == "ar"
