"""The broadcast engine and its repository, on a real SQLite file and a virtual clock.

Nothing here sleeps for real: `FakeClock.sleep` jumps virtual time forward, and every time
assertion is about virtual time, so the tests are fast and not flaky.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.broadcasts import (
    BroadcastEngine,
    Pacer,
    Progress,
    SendOutcome,
    SendResult,
    retry_delay,
)
from storage.broadcasts import START_CHUNK, Broadcast, BroadcastRepository
from storage.db import Database, Params, to_db_time

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
#: Float slack for comparing virtual times that were computed by different additions.
EPS = 1e-6
QUARTER = "bahnhofsvorstadt"
OTHER = "huenertshagen"
THIRD = "woltmershausen"


class FakeClock:
    """Virtual time that moves only when every task waits on it.

    A sleeper jumps the clock to its deadline once it is the earliest sleeper, no database
    call is running and nothing else happened for a few event-loop rounds (so a task that
    just became ready, like a send that was started, runs at the current virtual time).
    Database work therefore takes no virtual time, which keeps every timing deterministic.
    """

    def __init__(self) -> None:
        self.t = 0.0
        self._deadlines: list[float] = []
        self._busy = 0
        self._changes = 0  # bumped when a task starts sleeping or a database call starts/ends
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        """Virtual wall time."""
        return START + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        """Virtual seconds since the start."""
        return self.t

    @contextmanager
    def working(self) -> Iterator[None]:
        """Hold the clock while a database call runs in aiosqlite's thread."""
        self._busy += 1
        self._changes += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._changes += 1

    async def sleep(self, seconds: float) -> None:
        """Return at the deadline, which comes without real waiting."""
        deadline = self.t + max(seconds, 0.0)
        self._deadlines.append(deadline)
        self._changes += 1
        try:
            seen, quiet = -1, 0
            while self.t < deadline:
                if deadline > min(self._deadlines):
                    await self._moved.wait()  # an earlier sleeper moves the clock first
                    continue
                await asyncio.sleep(0)
                if self._changes != seen:
                    seen, quiet = self._changes, 0
                elif (quiet := quiet + 1) >= 2 and not self._busy:
                    self.t = deadline
        finally:
            self._deadlines.remove(deadline)
            # Time moved or the earliest sleeper left: the others look again.
            self._moved.set()
            self._moved = asyncio.Event()


class ClockedDatabase(Database):
    """The real database, telling the fake clock while it works."""

    def __init__(self, path: Path, clock: FakeClock) -> None:
        super().__init__(path)
        self.clock = clock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """`Database.transaction`, holding the clock."""
        with self.clock.working():
            async with super().transaction() as conn:
                yield conn

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        """`Database.fetchone`, holding the clock."""
        with self.clock.working():
            return await super().fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        """`Database.fetchall`, holding the clock."""
        with self.clock.working():
            return await super().fetchall(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """`Database.execute`, holding the clock."""
        with self.clock.working():
            return await super().execute(sql, params)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """`Database.reader`, holding the clock."""
        with self.clock.working():
            async with super().reader() as conn:
                yield conn


@dataclass
class FakeSender:
    """Records (virtual time, chat, broadcast) per call and answers from a script."""

    clock: FakeClock
    script: dict[int, list[SendResult | Exception]] = field(default_factory=dict)
    #: Called with the number of calls so far, before answering (to crash or cancel).
    hook: Callable[[int], Awaitable[None]] | None = None
    calls: list[tuple[float, int, int]] = field(default_factory=list)

    async def __call__(self, chat_id: int, broadcast: Broadcast) -> SendResult:
        """Send one message, virtually."""
        self.calls.append((self.clock.monotonic(), chat_id, broadcast.id))
        if self.hook is not None:
            await self.hook(len(self.calls))
        answers = self.script.get(chat_id)
        if answers:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return SendResult(SendOutcome.SENT, message_id=len(self.calls))

    def times(self, chat_id: int | None = None) -> list[float]:
        """Call times, of one chat or of all."""
        return [t for t, chat, _ in self.calls if chat_id is None or chat == chat_id]

    def per_chat(self) -> Counter[int]:
        """How often each chat was called."""
        return Counter(chat for _, chat, _ in self.calls)


@dataclass(frozen=True)
class Person:
    """A resident to seed."""

    user_id: int
    quarters: tuple[str, ...] = (QUARTER,)
    language: str | None = "de"
    topics: tuple[str, ...] = ()
    inactive: bool = False


@pytest.fixture
def clock() -> FakeClock:
    """The virtual clock of the test."""
    return FakeClock()


@pytest.fixture
async def db(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Database]:
    """A migrated database in a temp file, synchronised with the virtual clock."""
    database = ClockedDatabase(tmp_path / "broadcasts.sqlite3", clock)
    await database.open()
    yield database
    await database.close()


@pytest.fixture
def repo(db: Database) -> BroadcastRepository:
    """The repository under test."""
    return BroadcastRepository(db)


async def seed(db: Database, people: Iterable[Person]) -> None:
    """Insert residents with their subscriptions and topic choices."""
    people = list(people)
    now = to_db_time(START)
    await db.executemany(
        "INSERT INTO residents (user_id, language, quarter_id, first_seen, last_seen, "
        "inactive_since) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (p.user_id, p.language, p.quarters[0], now, now, now if p.inactive else None)
            for p in people
        ],
    )
    await db.executemany(
        "INSERT INTO subscriptions (user_id, quarter_id, created_at) VALUES (?, ?, ?)",
        [(p.user_id, q, now) for p in people for q in p.quarters],
    )
    await db.executemany(
        "INSERT INTO topic_filters (user_id, topic_id) VALUES (?, ?)",
        [(p.user_id, t) for p in people for t in p.topics],
    )


async def seed_many(db: Database, count: int, first: int = 1000) -> list[int]:
    """`count` plain residents of QUARTER; returns their ids."""
    ids = list(range(first, first + count))
    await seed(db, (Person(i) for i in ids))
    return ids


async def new_broadcast(
    repo: BroadcastRepository,
    quarters: Sequence[str] = (QUARTER,),
    topic_id: str | None = None,
    language: str | None = None,
) -> Broadcast:
    """A "send now" broadcast."""
    return await repo.create(4711, quarters, topic_id, language, "<b>Hallo</b>", None)


def max_per_second(times: Sequence[float]) -> int:
    """The most sends in any 1-second window [t, t + 1) (windows start at a send)."""
    ordered = sorted(times)
    most, low = 0, 0
    for high, t in enumerate(ordered):
        while ordered[low] <= t - 1 + EPS:
            low += 1
        most = max(most, high - low + 1)
    return most


def engine(
    repo: BroadcastRepository,
    sender: Callable[[int, Broadcast], Awaitable[SendResult]],
    clock: FakeClock,
    rate: float = 25,
    pacer: Pacer | None = None,
    **options: Any,
) -> BroadcastEngine:
    """An engine with its own pacer at `rate` (or the given shared one)."""
    return BroadcastEngine(repo, sender, clock, pacer or Pacer(rate, clock), **options)


async def chat_ids(repo: BroadcastRepository, broadcast_id: int) -> set[int]:
    """The broadcast's recipients."""
    return {d.chat_id for d in await repo.deliveries(broadcast_id)}


async def states(repo: BroadcastRepository, broadcast_id: int) -> dict[int, str]:
    """Delivery state per chat."""
    return {d.chat_id: d.state for d in await repo.deliveries(broadcast_id)}


# -- targeting ------------------------------------------------------------------------------

TARGETING_PEOPLE = (
    Person(1),  # all topics
    Person(2, language="en"),
    Person(3, quarters=(QUARTER, OTHER)),  # both target quarters: one delivery
    Person(4, quarters=(THIRD,)),  # not targeted
    Person(5, quarters=(OTHER,), topics=("traffic",)),
    Person(6, quarters=(OTHER,), topics=("traffic", "events")),
    Person(7, inactive=True),
    Person(8, language=None),
)


@pytest.mark.parametrize(
    ("topic_id", "language", "expected"),
    [
        (None, None, {1, 2, 3, 5, 6, 8}),
        ("events", None, {1, 2, 3, 6, 8}),
        ("events", "de", {1, 3, 6}),
        (None, "en", {2}),
    ],
)
async def test_targeting(
    db: Database,
    repo: BroadcastRepository,
    topic_id: str | None,
    language: str | None,
    expected: set[int],
) -> None:
    """Quarters, topic choices, language and inactivity select the recipients, once each."""
    await seed(db, TARGETING_PEOPLE)
    quarters = (QUARTER, OTHER)
    assert await repo.count_recipients(quarters, topic_id, language) == len(expected)
    broadcast = await new_broadcast(repo, quarters, topic_id, language)
    assert await repo.start(broadcast.id) == len(expected)
    assert await chat_ids(repo, broadcast.id) == expected
    assert set((await states(repo, broadcast.id)).values()) == {"pending"}
    started = await repo.get(broadcast.id)
    assert started is not None and started.status == "sending" and started.started_at
    # A resumed start materialises nothing new, even if the audience changed meanwhile.
    await seed(db, [Person(99)])
    assert await repo.start(broadcast.id) == len(expected)


async def test_no_quarters_reach_nobody(repo: BroadcastRepository, db: Database) -> None:
    """An empty quarter list is not 'everybody'."""
    await seed(db, TARGETING_PEOPLE)
    assert await repo.count_recipients((), None, None) == 0


# -- starting -------------------------------------------------------------------------------


async def test_a_large_audience_gets_a_row_each(db: Database, repo: BroadcastRepository) -> None:
    """More recipients than one chunk of rows: every one gets exactly one delivery."""
    ids = await seed_many(db, 2 * START_CHUNK + 7)
    broadcast = await new_broadcast(repo)
    assert await repo.start(broadcast.id) == len(ids)
    assert await chat_ids(repo, broadcast.id) == set(ids)


async def test_a_start_cut_short_is_completed(db: Database, repo: BroadcastRepository) -> None:
    """A crash while the rows were written: the next start writes the rest, nobody twice."""
    ids = await seed_many(db, 30)
    broadcast = await new_broadcast(repo)
    await db.executemany(
        "INSERT INTO deliveries (broadcast_id, chat_id, state, updated_at) "
        "VALUES (?, ?, 'pending', ?)",
        [(broadcast.id, chat, to_db_time(START)) for chat in ids[:10]],
    )
    assert await repo.start(broadcast.id) == 30
    assert await chat_ids(repo, broadcast.id) == set(ids)


async def test_cancelled_before_start_sends_nothing(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """A scheduled broadcast cancelled before its time never reaches anybody."""
    await seed_many(db, 5)
    broadcast = await new_broadcast(repo)
    assert await repo.cancel(broadcast.id) is True
    sender = FakeSender(clock)
    final = await engine(repo, sender, clock).run(broadcast.id)
    assert sender.calls == [] and final.cancelled and final.sent == 0


# -- pacing -----------------------------------------------------------------------------------


async def test_pacing_25_per_second(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """1,000 recipients at 25/s: never more than 25 in a second, each once, about 40 s."""
    ids = await seed_many(db, 1000)
    broadcast = await new_broadcast(repo)
    sender = FakeSender(clock)
    final = await engine(repo, sender, clock, rate=25).run(broadcast.id)

    assert max_per_second(sender.times()) <= 25
    assert 39 <= clock.monotonic() <= 41.5
    assert sorted(sender.per_chat()) == ids and set(sender.per_chat().values()) == {1}
    assert (final.sent, final.pending, final.finished) == (1000, 0, True)
    done = await repo.get(broadcast.id)
    assert done is not None and done.status == "done" and done.finished_at


class SlowTelegram:
    """A sender whose answers take a random while (up to twice `latency`)."""

    def __init__(self, clock: FakeClock, latency: float, seed: int = 7) -> None:
        self.clock = clock
        self.latency = latency
        self.random = random.Random(seed)
        self.starts: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, chat_id: int, broadcast: Broadcast) -> SendResult:
        """Send, wait for the answer."""
        self.starts.append(self.clock.monotonic())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.clock.sleep(self.random.uniform(0, 2 * self.latency))
        self.in_flight -= 1
        return SendResult(SendOutcome.SENT, message_id=chat_id)


async def test_slow_answers_overlap_up_to_max_in_flight(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """Over a slow connection more sends in flight keep the pace; never more than allowed."""
    await seed_many(db, 100)
    broadcast = await new_broadcast(repo)
    telegram = SlowTelegram(clock, latency=0.5)
    final = await engine(repo, telegram, clock, rate=25, max_in_flight=20).run(broadcast.id)

    assert final.sent == 100
    assert 10 <= telegram.most_in_flight <= 20
    assert max_per_second(telegram.starts) <= 25
    assert clock.monotonic() <= 100 / 25 + 1.5  # the pace, plus the last answer


async def test_a_paid_rate_with_many_in_flight(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """A high rate is honoured too, with up to max_in_flight sends overlapping."""
    await seed_many(db, 600)
    broadcast = await new_broadcast(repo)
    telegram = SlowTelegram(clock, latency=0.02)
    final = await engine(repo, telegram, clock, rate=1000, max_in_flight=50).run(broadcast.id)

    assert final.sent == 600
    assert 10 <= telegram.most_in_flight <= 50
    assert max_per_second(telegram.starts) <= 1000


# -- flood control ------------------------------------------------------------------------------


async def test_retry_after_pauses_everything(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """A 429 stops every send for its duration; the chat is delivered later, not failed."""
    ids = await seed_many(db, 60)
    throttled = ids[9]
    broadcast = await new_broadcast(repo)
    sender = FakeSender(
        clock, script={throttled: [SendResult(SendOutcome.RETRY_AFTER, retry_after=5)]}
    )
    final = await engine(repo, sender, clock, rate=25).run(broadcast.id)

    first = sender.times(throttled)[0]
    assert [t for t in sender.times() if first < t < first + 5 - EPS] == []
    assert len(sender.times(throttled)) == 2
    assert sender.times(throttled)[1] >= first + 5 - EPS
    delivery = {d.chat_id: d for d in await repo.deliveries(broadcast.id)}[throttled]
    assert (delivery.state, delivery.attempts) == ("sent", 0)
    assert final.sent == 60 and final.failed == 0
    assert max_per_second(sender.times()) <= 25


async def test_shared_pacer_pause_holds_other_broadcasts(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """The pace and the pause are bot-wide: two broadcasts together keep the rate and both wait."""
    ids = await seed_many(db, 20)
    first_broadcast = await new_broadcast(repo)
    second_broadcast = await repo.create(4711, [QUARTER], None, None, "zwei", None)
    pacer = Pacer(25, clock)
    throttled = ids[3]
    sender_a = FakeSender(
        clock, script={throttled: [SendResult(SendOutcome.RETRY_AFTER, retry_after=4)]}
    )
    sender_b = FakeSender(clock)
    await asyncio.gather(
        engine(repo, sender_a, clock, pacer=pacer).run(first_broadcast.id),
        engine(repo, sender_b, clock, pacer=pacer).run(second_broadcast.id),
    )

    paused_at = sender_a.times(throttled)[0]
    everything = sender_a.times() + sender_b.times()
    assert [t for t in everything if paused_at < t < paused_at + 4 - EPS] == []
    assert max_per_second(everything) <= 25
    assert len(sender_b.per_chat()) == 20


# -- transient errors -------------------------------------------------------------------------


async def test_transient_errors_are_retried(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """5xx twice, then fine: delivered with two failed attempts on record."""
    ids = await seed_many(db, 5)
    flaky, raising = ids[1], ids[2]
    broadcast = await new_broadcast(repo)
    error = SendResult(SendOutcome.TRANSIENT, error="502 Bad Gateway")
    sender = FakeSender(
        clock,
        script={flaky: [error, error], raising: [RuntimeError("sender bug")]},
    )
    final = await engine(repo, sender, clock).run(broadcast.id)

    deliveries = {d.chat_id: d for d in await repo.deliveries(broadcast.id)}
    assert (deliveries[flaky].state, deliveries[flaky].attempts) == ("sent", 2)
    # An exception from the sender is a transient problem, never the engine's crash.
    assert (deliveries[raising].state, deliveries[raising].attempts) == ("sent", 1)
    times = sender.times(flaky)
    assert len(times) == 3
    assert times[1] - times[0] >= retry_delay(1) - EPS
    assert times[2] - times[1] >= retry_delay(2) - EPS
    assert final.sent == 5


async def test_transient_until_max_attempts(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """Always failing: given up after max_attempts, with growing gaps."""
    ids = await seed_many(db, 3)
    hopeless = ids[0]
    broadcast = await new_broadcast(repo)
    sender = FakeSender(
        clock, script={hopeless: [SendResult(SendOutcome.TRANSIENT, error="timeout")] * 10}
    )
    final = await engine(repo, sender, clock, max_attempts=5).run(broadcast.id)

    delivery = {d.chat_id: d for d in await repo.deliveries(broadcast.id)}[hopeless]
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 5, "timeout")
    times = sender.times(hopeless)
    assert len(times) == 5
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert gaps == sorted(gaps) and len(set(gaps)) == len(gaps)
    for failures, gap in enumerate(gaps, start=1):
        assert gap >= retry_delay(failures) - EPS
    assert (final.sent, final.failed, final.finished) == (2, 1, True)


# -- blocked and refused ----------------------------------------------------------------------


async def test_blocked_and_failed_are_final(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """403/400 chat gone → blocked; other 4xx → failed; neither retried."""
    ids = await seed_many(db, 4)
    blocked, refused = ids[0], ids[1]
    broadcast = await new_broadcast(repo)
    sender = FakeSender(
        clock,
        script={
            blocked: [SendResult(SendOutcome.BLOCKED, error="Forbidden: bot was blocked")],
            refused: [SendResult(SendOutcome.FAILED, error="Bad Request: message is too long")],
        },
    )
    final = await engine(repo, sender, clock).run(broadcast.id)

    assert await states(repo, broadcast.id) == {
        blocked: "blocked",
        refused: "failed",
        ids[2]: "sent",
        ids[3]: "sent",
    }
    assert sender.per_chat()[blocked] == 1 and sender.per_chat()[refused] == 1
    assert (final.sent, final.failed, final.blocked) == (2, 1, 1)


# -- crash and resume ---------------------------------------------------------------------------


async def crash_and_resume(
    repo: BroadcastRepository, clock: FakeClock, broadcast_id: int, in_flight: int, at_call: int
) -> tuple[FakeSender, dict[int, str], Progress]:
    """Run until the `at_call`-th send hangs and the process dies; then run again to the end.

    Returns the sender, the delivery states at the crash and the final report.
    """
    holder: list[asyncio.Task[Progress]] = []

    async def crash(calls: int) -> None:
        if calls == at_call:
            holder[0].cancel()
            await asyncio.Event().wait()  # a request hanging when the process dies

    sender = FakeSender(clock, hook=crash)
    first_run = engine(repo, sender, clock, max_in_flight=in_flight).run(broadcast_id)
    holder.append(asyncio.create_task(first_run))
    with pytest.raises(asyncio.CancelledError):
        await holder[0]
    at_crash = await states(repo, broadcast_id)
    assert [b.id for b in await repo.in_progress()] == [broadcast_id]  # resumed at start-up
    sender.hook = None
    final = await engine(repo, sender, clock, max_in_flight=in_flight).run(broadcast_id)
    return sender, at_crash, final


async def test_resume_after_interruption(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """A run killed mid-way is resumed: nobody skipped, only the one in flight repeats."""
    ids = await seed_many(db, 100)
    broadcast = await new_broadcast(repo)
    sender, at_crash, final = await crash_and_resume(repo, clock, broadcast.id, 1, at_call=40)

    sent_at_crash = {chat for chat, state in at_crash.items() if state == "sent"}
    assert len(sent_at_crash) == 39 and "pending" in at_crash.values()
    assert set((await states(repo, broadcast.id)).values()) == {"sent"}
    calls = sender.per_chat()
    assert sorted(calls) == ids  # none skipped
    repeated = [chat for chat, count in calls.items() if count > 1]
    assert repeated == [sender.calls[39][1]]  # the one on its way at the crash, once more
    assert final.sent == 100 and final.finished


async def test_resume_repeats_at_most_max_in_flight(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """With five sends in flight a crash repeats at most those five."""
    ids = await seed_many(db, 100)
    broadcast = await new_broadcast(repo)
    sender, at_crash, final = await crash_and_resume(repo, clock, broadcast.id, 5, at_call=40)

    calls = sender.per_chat()
    assert sorted(calls) == ids
    assert all(count <= 2 for count in calls.values())
    sending_at_crash = {chat for chat, state in at_crash.items() if state == "sending"}
    repeated = {chat for chat, count in calls.items() if count == 2}
    assert repeated <= sending_at_crash and 1 <= len(sending_at_crash) <= 5
    assert final.sent == 100


async def test_recover_in_flight(db: Database, repo: BroadcastRepository) -> None:
    """Rows a crash left 'sending' go back to 'pending', and only those."""
    await seed_many(db, 5)
    broadcast = await new_broadcast(repo)
    await repo.start(broadcast.id)
    claimed = [await repo.claim(broadcast.id, START) for _ in range(3)]
    assert [d.state if d else None for d in claimed] == ["sending"] * 3
    assert len({d.chat_id for d in claimed if d}) == 3
    assert await repo.recover_in_flight(broadcast.id) == 3
    assert (await repo.counts(broadcast.id)).pending == 5


# -- progress and cancel ----------------------------------------------------------------------


async def test_progress_reports(db: Database, repo: BroadcastRepository, clock: FakeClock) -> None:
    """Reports every few seconds with growing counts, then a final one with the totals."""
    ids = await seed_many(db, 200)
    broadcast = await new_broadcast(repo)
    sender = FakeSender(
        clock,
        script={
            ids[5]: [SendResult(SendOutcome.FAILED, error="400")],
            ids[6]: [SendResult(SendOutcome.BLOCKED, error="403")],
        },
    )
    reports: list[tuple[float, Progress]] = []

    async def on_progress(progress: Progress) -> None:
        reports.append((clock.monotonic(), progress))

    final = await engine(repo, sender, clock, on_progress=on_progress, progress_interval=3.0).run(
        broadcast.id
    )

    running = [p for _, p in reports if not p.finished]
    assert len(running) >= 2
    sent = [p.sent for p in running]
    assert sent == sorted(sent) and len(set(sent)) == len(sent) and sent[0] > 0
    times = [t for t, p in reports if not p.finished]
    assert all(later - earlier >= 3 - EPS for earlier, later in pairwise(times))
    last = reports[-1][1]
    assert last == final and last.finished and not last.cancelled
    assert (last.total, last.sent, last.failed, last.blocked, last.pending) == (200, 198, 1, 1, 0)
    assert 7.5 <= last.elapsed_seconds <= 9.5


async def test_failing_progress_callback_is_harmless(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """A report that cannot be shown (Telegram down) does not stop the broadcast."""
    await seed_many(db, 10)
    broadcast = await new_broadcast(repo)

    async def broken(progress: Progress) -> None:
        raise RuntimeError("edit failed")

    run = engine(repo, FakeSender(clock), clock, on_progress=broken, progress_interval=0.1)
    assert (await run.run(broadcast.id)).sent == 10


async def test_cancel_stops_sending(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """Cancelling mid-run: the send on its way completes, nothing after it is sent."""
    await seed_many(db, 200)
    broadcast = await new_broadcast(repo)

    async def cancel_at_30(calls: int) -> None:
        if calls == 30:
            assert await repo.cancel(broadcast.id) is True

    sender = FakeSender(clock, hook=cancel_at_30)
    final = await engine(repo, sender, clock, rate=25).run(broadcast.id)

    assert len(sender.calls) == 30
    assert final.finished and final.cancelled
    assert (final.sent, final.failed, final.pending) == (30, 170, 0)
    cancelled = await repo.get(broadcast.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    errors = {d.last_error for d in await repo.deliveries(broadcast.id) if d.state == "failed"}
    assert errors == {"cancelled"}
    assert await repo.cancel(broadcast.id) is False
    # Running it again sends nothing.
    again = await engine(repo, sender, clock).run(broadcast.id)
    assert again.cancelled and len(sender.calls) == final.sent


async def test_a_retry_after_a_cancel_is_not_sent(
    db: Database, repo: BroadcastRepository, clock: FakeClock
) -> None:
    """A send that failed while staff cancelled is not tried again."""
    ids = await seed_many(db, 3)
    broadcast = await new_broadcast(repo)

    async def cancel_and_fail(chat_id: int, broadcast: Broadcast) -> SendResult:
        await repo.cancel(broadcast.id)
        return SendResult(SendOutcome.TRANSIENT, error="timeout")

    final = await engine(repo, cancel_and_fail, clock).run(broadcast.id)
    assert final.cancelled and (final.sent, final.pending) == (0, 0)
    assert set((await states(repo, broadcast.id)).values()) == {"failed"}
    assert final.failed == len(ids)


# -- repository odds and ends -------------------------------------------------------------------


async def test_scheduling_queries(db: Database, repo: BroadcastRepository) -> None:
    """due_scheduled, in_progress, list_recent and the progress message."""
    await seed_many(db, 3)
    wall = datetime.now(UTC).replace(microsecond=0)
    at = wall + timedelta(hours=1)
    later = await repo.create(1, [QUARTER], None, None, "später", None, scheduled_at=at)
    other = await repo.create(2, [QUARTER], "events", "de", "x", "photo-id")
    assert later.scheduled_at == at and later.status == "scheduled"
    assert other.photo_file_id == "photo-id" and other.quarters == (QUARTER,)

    assert await repo.due_scheduled(wall) == []  # a "send now" one is its creator's, at first
    assert [b.id for b in await repo.due_scheduled(at)] == [other.id, later.id]
    assert [b.id for b in await repo.list_recent(None, 10)] == [other.id, later.id]
    assert [b.id for b in await repo.list_recent(1, 10)] == [later.id]

    assert await repo.start(later.id) == 3
    assert [b.id for b in await repo.in_progress()] == [later.id]
    await repo.set_progress_message(later.id, -100500, 77)
    stored = await repo.get(later.id)
    assert stored is not None
    assert (stored.report_chat_id, stored.progress_message_id) == (-100500, 77)

    assert await repo.next_attempt(later.id) is None
    assert await repo.cancel(other.id) is True  # a scheduled one can be cancelled too
    assert await repo.due_scheduled(at) == []
