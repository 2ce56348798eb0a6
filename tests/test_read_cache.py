"""The read caches: hits skip SQLite, every committed write is seen at once, no stale refills."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from storage.broadcasts import BroadcastRepository, DeliveryResult
from storage.cache import MISS, ReadCache
from storage.closures import ClosureRepository
from storage.concerns import ConcernRepository, DraftGone
from storage.db import Database, Params
from storage.drafts import StaffDraftRepository
from storage.events import EventInput, EventRepository
from storage.officers import OfficerRepository
from storage.privacy import PrivacyRepository
from storage.residents import STALE, ResidentRepository, _pack, _resident, _unpack
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


async def consent(db: Database, user_id: int) -> None:
    """Agree to the privacy notice the way residents do: on the way to a first concern."""
    concerns = ConcernRepository(db)
    await concerns.start_draft(user_id, BV)
    await concerns.consent_to_summary(user_id)


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
    await consent(db, 7)
    # Brought along by the consent's transaction: no read, and the same as stored.
    assert await reads_of(db, lambda: residents.get(7)) == 0
    consented = await residents.get(7)
    assert consented is not None and consented.consent_at is not None
    assert consented == _resident(await residents._read(7))  # type: ignore[arg-type]
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


async def test_subscribe_returns_the_new_subscriptions_into_memory(db: CountingDatabase) -> None:
    subscriptions = SubscriptionRepository(db)
    await ResidentRepository(db).set_quarter(14, BV)
    await subscriptions.subscribe(14, [BV])
    await subscriptions.set_topics(14, ["green"])
    subscriptions._quarters.invalidate()
    subscriptions._topics.invalidate()
    # The answer to /subscribe shows both; they came back with the write, so nothing is read.
    await subscriptions.subscribe(14, [HU])
    assert await reads_of(db, lambda: subscriptions.quarters_of(14)) == 0
    assert await reads_of(db, lambda: subscriptions.topics_of(14)) == 0
    assert await subscriptions.quarters_of(14) == {BV, HU}
    assert await subscriptions.topics_of(14) == {"green"}


async def test_writes_in_one_trip_bring_the_residents_new_row_along(
    db: CountingDatabase,
) -> None:
    subscriptions, residents, concerns = (
        SubscriptionRepository(db),
        ResidentRepository(db),
        ConcernRepository(db),
    )
    await residents.set_quarter(16, BV)
    await residents.get(16)
    await subscriptions.subscribe(16, [HU])
    assert await reads_of(db, lambda: residents.get(16)) == 0
    assert (await residents.get(16)).followed == {HU}  # type: ignore[union-attr]
    await concerns.start_draft(16, BV)
    await concerns.update_draft(16, topic_id="green", text="x", contact_allowed=1)
    draft = await concerns.consent_to_summary(16)
    assert draft.step == "summary"
    assert await reads_of(db, lambda: concerns.draft(16)) == 0
    assert await reads_of(db, lambda: residents.get(16)) == 0
    resident = await residents.get(16)
    assert resident is not None and resident.consent_at is not None
    # The same as SQLite holds (a fresh repository has nothing in memory).
    assert await ResidentRepository(db).get(16) == resident


async def test_consent_without_a_draft_records_nothing(db: CountingDatabase) -> None:
    residents, concerns = ResidentRepository(db), ConcernRepository(db)
    await residents.set_quarter(17, BV)
    with pytest.raises(DraftGone):
        await concerns.consent_to_summary(17)
    resident = await residents.get(17)
    assert resident is not None and resident.consent_at is None


async def test_a_read_in_flight_during_subscribe_does_not_replace_its_value(
    db: CountingDatabase,
) -> None:
    subscriptions = SubscriptionRepository(db)
    await ResidentRepository(db).set_quarter(15, BV)
    gate = asyncio.Event()
    db.hold = gate
    reader = asyncio.create_task(subscriptions.quarters_of(15))  # reads {}, waits at the gate
    await db.held.wait()
    db.hold = None
    await subscriptions.subscribe(15, [BV])
    gate.set()
    assert await reader == frozenset()
    assert await reads_of(db, lambda: subscriptions.quarters_of(15)) == 0
    assert await subscriptions.quarters_of(15) == {BV}


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
    # A card opened from the list reads counts and the reader's RSVP from the same memory.
    assert await reads_of(db, lambda: events.counts(first.id)) == 0
    assert await reads_of(db, lambda: events.rsvp_state(first.id, 21)) == 0
    assert await events.counts(first.id) == counts
    assert await events.rsvp_state(first.id, 20) == "going"
    assert await events.rsvp_state(first.id, 22) is None
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


# --- drafts ------------------------------------------------------------------------------------


async def test_concern_draft_steps_are_written_through(db: CountingDatabase) -> None:
    concerns = ConcernRepository(db)
    await ResidentRepository(db).set_quarter(40, BV)
    started = await concerns.start_draft(40, BV)
    assert started.step == "topic"
    assert await reads_of(db, lambda: concerns.draft(40)) == 0
    await concerns.update_draft(40, topic_id="housing", step="text")
    await concerns.update_draft(40, text="Mould in the bathroom", step="contact")
    await concerns.update_draft(40, contact_allowed=1, step="summary")
    cached = await concerns.draft(40)
    assert cached is not None and (cached.topic_id, cached.text, cached.step) == (
        "housing",
        "Mould in the bathroom",
        "summary",
    )
    assert cached == await concerns._load_draft(40)  # memory and database agree
    # A new /concern replaces the unfinished draft (one statement, written through).
    restarted = await concerns.start_draft(40, HU)
    assert (restarted.quarter_id, restarted.topic_id, restarted.text) == (HU, None, None)
    assert await concerns.draft(40) == restarted == await concerns._load_draft(40)


async def test_concern_draft_is_gone_from_memory_after_submit_discard_purge_erase(
    db: CountingDatabase,
) -> None:
    concerns = ConcernRepository(db)
    residents = ResidentRepository(db)

    async def complete_draft(user_id: int) -> None:
        await residents.set_quarter(user_id, BV)
        await concerns.start_draft(user_id, BV)
        await concerns.update_draft(user_id, topic_id="housing", text="x", contact_allowed=0)
        assert await concerns.draft(user_id) is not None

    await complete_draft(41)
    concern = await concerns.submit(41, "BV", "de")
    assert concern.reference == "BV-0001" and await concerns.draft(41) is None
    with pytest.raises(DraftGone):
        await concerns.update_draft(41, step="summary")
    await complete_draft(42)
    assert await concerns.discard_draft(42)
    assert await concerns.draft(42) is None
    await complete_draft(43)
    assert await concerns.purge_drafts(datetime.now(UTC) + timedelta(seconds=5)) == 1
    assert await concerns.draft(43) is None
    await complete_draft(44)
    await PrivacyRepository(db).erase_resident(44)
    assert await concerns.draft(44) is None


async def test_an_incomplete_submit_keeps_the_draft(db: CountingDatabase) -> None:
    concerns = ConcernRepository(db)
    await ResidentRepository(db).set_quarter(45, BV)
    await concerns.start_draft(45, BV)
    with pytest.raises(ValueError, match="incomplete"):
        await concerns.submit(45, "BV", "de")
    kept = await concerns.draft(45)
    assert kept is not None and kept == await concerns._load_draft(45)


async def test_a_write_overtaking_another_drops_the_entry() -> None:
    cache: ReadCache[int, str] = ReadCache(8)
    first_done = asyncio.Event()

    async def first_write() -> str:
        await first_done.wait()
        return "first"

    async def second_write() -> str:
        return "second"

    first = asyncio.create_task(cache.write_through(1, first_write))
    await asyncio.sleep(0)
    assert await cache.write_through(1, second_write) == "second"
    first_done.set()
    assert await first == "first"
    # Which of the two committed last is unknown here: nothing is kept, the next read loads.
    assert cache.peek(1) is MISS


async def test_staff_drafts_are_cached_but_cannot_be_changed_through_a_copy(
    db: CountingDatabase,
) -> None:
    drafts = StaffDraftRepository(db)
    assert await drafts.get(50) is None
    await drafts.save(50, "broadcast", "text", {"quarters": [BV]})
    shown = await drafts.get(50)
    assert shown is not None and shown.data == {"quarters": [BV]}
    shown.data["quarters"].append(HU)  # a handler changing its copy changes nothing stored
    assert (await drafts.get(50)).data == {"quarters": [BV]}  # type: ignore[union-attr]
    assert await reads_of(db, lambda: drafts.get(50)) == 0
    assert await drafts.discard(50)
    assert await drafts.get(50) is None


async def test_topic_filters_follow_set_and_stop(db: CountingDatabase) -> None:
    subscriptions = SubscriptionRepository(db)
    await ResidentRepository(db).set_quarter(51, BV)
    assert await subscriptions.topics_of(51) == frozenset()
    await subscriptions.set_topics(51, ["housing", "green"])
    assert await subscriptions.topics_of(51) == {"housing", "green"}
    assert await reads_of(db, lambda: subscriptions.topics_of(51)) == 0
    await subscriptions.stop(51)
    assert await subscriptions.topics_of(51) == frozenset()


async def test_the_residents_concern_list_follows_submit_status_and_anonymisation(
    db: CountingDatabase,
) -> None:
    concerns = ConcernRepository(db)
    residents = ResidentRepository(db)

    async def submitted(user_id: int, topic: str) -> Any:
        await concerns.start_draft(user_id, BV)
        await concerns.update_draft(user_id, topic_id=topic, text="x", contact_allowed=0)
        return await concerns.submit(user_id, "BV", "de")

    for user_id in (50, 51):
        await residents.set_quarter(user_id, BV)
    assert (await residents.get(50)).concerns == ()  # type: ignore[union-attr]
    first = await submitted(50, "housing")
    # The new concern is in the list at once (the row stays cached otherwise).
    assert len((await residents.get(50)).concerns) == 1  # type: ignore[union-attr]
    second = await submitted(50, "safety")
    await submitted(51, "traffic")  # somebody else's concern is not in the list
    # The submit brought the new row along (same trip): /myconcerns reads nothing.
    assert await reads_of(db, lambda: residents.get(50)) == 0
    resident = await residents.get(50)
    assert resident is not None
    assert [(c.reference, c.topic_id, c.status) for c in resident.concerns] == [
        (second.reference, "safety", "new"),
        (first.reference, "housing", "new"),
    ]
    assert resident.concerns[0].created_at == second.created_at
    assert await reads_of(db, lambda: residents.get(50)) == 0
    # A status change by staff is seen at once.
    await concerns.set_status(first, "done", ADMIN)
    resident = await residents.get(50)
    assert resident is not None and resident.concerns[1].status == "done"
    # Anonymised after the retention period: the concern is nobody's any more.
    anonymised, _posts = await PrivacyRepository(db).anonymise_closed(
        datetime.now(UTC) + timedelta(seconds=5)
    )
    assert anonymised == 1
    resident = await residents.get(50)
    assert resident is not None
    assert [c.reference for c in resident.concerns] == [second.reference]
    assert resident.concern_count == 1
    # Erased on request: no row, no list.
    await PrivacyRepository(db).erase_resident(50)
    assert await residents.get(50) is None
    other = await residents.get(51)
    assert other is not None and len(other.concerns) == 1


# --- every resident packed in memory ---------------------------------------------------------


async def seeded_residents(db: CountingDatabase, count: int) -> ResidentRepository:
    """`count` onboarded residents (ids 100…), a fresh repository, nothing read yet."""
    setup = ResidentRepository(db)
    for user_id in range(100, 100 + count):
        await setup.set_language(user_id, "tr" if user_id % 2 else "de")
        await setup.set_quarter(user_id, BV)
    return ResidentRepository(db)


async def test_preloaded_residents_need_no_read_and_unknown_users_are_nobody(
    db: CountingDatabase,
) -> None:
    setup = await seeded_residents(db, 7)
    await SubscriptionRepository(db).subscribe(103, [BV, HU])
    await consent(db, 104)
    await setup.mark_inactive(105)
    concerns = ConcernRepository(db)
    await concerns.start_draft(106, BV)
    await concerns.update_draft(106, topic_id="housing", text="x", contact_allowed=0)
    await concerns.submit(106, "BV", "de")
    residents = ResidentRepository(db)  # as after a restart: nothing in memory yet
    before = db.reads
    assert await residents.preload(chunk=3) == 7
    assert db.reads - before == 3  # 3 + 3 + 1 rows, one trip each
    assert residents.packed.complete
    for user_id in range(100, 107):
        loaded = await residents.get(user_id)
        # The same object as a read from SQLite would give, without reading.
        assert loaded == _resident(await residents._read(user_id))  # type: ignore[arg-type]
    assert db.reads - before == 3 + 7  # only the comparisons above read
    assert await reads_of(db, lambda: residents.get(103)) == 0
    stored = await residents.get(103)
    assert stored is not None and stored.followed == {BV, HU} and stored.language == "tr"
    assert (await residents.get(104)).consent_at is not None  # type: ignore[union-attr]
    assert (await residents.get(105)).inactive_since is not None  # type: ignore[union-attr]
    assert (await residents.get(106)).concern_count == 1  # type: ignore[union-attr]
    # Somebody who never started the bot: known to be nobody, without a read.
    assert await reads_of(db, lambda: residents.get(999)) == 0
    assert await residents.get(999) is None


async def test_preloaded_rows_follow_every_write(db: CountingDatabase) -> None:
    residents = await seeded_residents(db, 3)
    await residents.preload()
    concerns = ConcernRepository(db)
    subscriptions = SubscriptionRepository(db)
    # Writes through other repository objects, as the services do (they share the database).
    await ResidentRepository(db).set_language(100, "ar")
    await subscriptions.subscribe(101, [HU])
    await concerns.start_draft(102, BV)
    await concerns.update_draft(102, topic_id="housing", text="x", contact_allowed=0)
    submitted = await concerns.submit(102, "BV", "de")
    await ResidentRepository(db).register(555)  # a newcomer after the preload
    assert (await residents.get(100)).language == "ar"  # type: ignore[union-attr]
    assert (await residents.get(101)).followed == {HU}  # type: ignore[union-attr]
    third = await residents.get(102)
    assert third is not None and [c.reference for c in third.concerns] == [submitted.reference]
    assert await residents.get(555) is not None
    # Each of them was read from SQLite once, then kept packed again.
    assert residents.packed.lookup(100) is not STALE
    fresh = ResidentRepository(db)
    fresh.packed = residents.packed
    assert await reads_of(db, lambda: fresh.get(100)) == 0
    assert (await fresh.get(100)).language == "ar"  # type: ignore[union-attr]
    # Consent and the hourly touch are written through: no read, and right.
    await consent(db, 101)
    await residents.touch(await residents.get(101), datetime.now(UTC) + timedelta(hours=2))  # type: ignore[arg-type]
    fresh = ResidentRepository(db)
    fresh.packed = residents.packed
    assert await reads_of(db, lambda: fresh.get(101)) == 0
    assert await fresh.get(101) == _resident(await residents._read(101))  # type: ignore[arg-type]
    # Erased: nobody, without a read after the one that found the row gone.
    await PrivacyRepository(db).erase_resident(100)
    assert await residents.get(100) is None
    fresh = ResidentRepository(db)
    fresh.packed = residents.packed
    assert await reads_of(db, lambda: fresh.get(100)) == 0
    assert await fresh.get(100) is None


async def test_a_write_during_the_preload_is_not_overwritten_by_it(db: CountingDatabase) -> None:
    residents = await seeded_residents(db, 4)
    db.hold = asyncio.Event()
    preload = asyncio.create_task(residents.preload(chunk=2))
    await db.held.wait()  # the first chunk (100, 101) is read from SQLite, not yet kept
    await ResidentRepository(db).set_language(100, "uk")  # committed and reported meanwhile
    db.hold.set()
    assert await preload == 4
    assert residents.packed.complete
    assert (await residents.get(100)).language == "uk"  # type: ignore[union-attr]
    assert (await residents.get(101)).language == "tr"  # type: ignore[union-attr]


async def test_dropping_everything_during_the_preload_leaves_it_incomplete(
    db: CountingDatabase,
) -> None:
    residents = await seeded_residents(db, 4)
    db.hold = asyncio.Event()
    preload = asyncio.create_task(residents.preload(chunk=2))
    await db.held.wait()
    residents.packed.invalidate(None)
    db.hold.set()
    assert await preload == 0
    assert not residents.packed.complete
    # Without a complete table an unknown id is asked for, never assumed to be nobody.
    assert await reads_of(db, lambda: residents.get(999)) == 1
    assert (await residents.get(102)).language == "de"  # type: ignore[union-attr]


def test_a_row_that_cannot_be_packed_is_always_read_from_sqlite() -> None:
    row = [7, "de", "odd\x1did", 1_700_000_000, 1_700_000_000, None, None, None, None, 0]
    assert _pack(row) is STALE
    packed = _pack([7, "de", BV, 1_700_000_000, 1_700_000_001, None, None, f"{BV},{HU}", None, 0])
    assert isinstance(packed, str)
    resident = _unpack(7, packed)
    assert (resident.language, resident.quarter_id, resident.followed) == ("de", BV, {BV, HU})
    assert resident.consent_at is None and resident.concerns == () and resident.concern_count == 0
    assert resident.last_seen == datetime.fromtimestamp(1_700_000_001, UTC)
