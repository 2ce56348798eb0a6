"""The broadcast engine: paced, resumable delivery of one broadcast to all its recipients.

Nothing here knows Telegram. The caller passes a `Sender` that sends one broadcast to one chat
and classifies what Telegram answered into a `SendOutcome`; the engine decides about pacing,
retries and bookkeeping. Each delivery is marked 'sending' in the database before its message
goes out and its outcome is written after, so a crash repeats at most the messages in flight.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol, TypeVar

from storage.broadcasts import (
    Broadcast,
    BroadcastCounts,
    BroadcastRepository,
    Delivery,
    DeliveryResult,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Telegram allows about one message per second into the same chat.
CHAT_INTERVAL = 1.0
#: First retry after a transient error; each further one waits twice as long.
BACKOFF_BASE = 2.0
#: Floating-point slack when comparing clock readings with planned send times.
EPSILON = 1e-9
#: How late a sender may still take its slot (see Pacer).
CATCH_UP = 0.005
#: Telegram's rate limits count sends per second.
WINDOW = 1.0
#: Share of the window a broadcast leaves to the bot's other messages.
REPLY_RESERVE = 0.02


class SendOutcome(Enum):
    """How Telegram answered one send, as classified by the caller."""

    SENT = "sent"
    RETRY_AFTER = "retry_after"  # 429 flood control: everybody waits
    TRANSIENT = "transient"  # timeout, 5xx, network: try again later
    BLOCKED = "blocked"  # bot blocked, user deactivated, chat not found: never again
    FAILED = "failed"  # any other refusal: not worth retrying


@dataclass(frozen=True)
class SendResult:
    """The outcome of sending one broadcast to one chat."""

    outcome: SendOutcome
    message_id: int | None = None
    retry_after: float = 0.0
    error: str | None = None


#: Sends one broadcast to one chat and never raises: problems are returned as a SendResult.
Sender = Callable[[int, Broadcast], Awaitable[SendResult]]


class Clock(Protocol):
    """Wall time for the database, monotonic time and sleeping for pacing (faked in tests)."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this long."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """`asyncio.sleep()`."""
        await asyncio.sleep(seconds)


class Pacer:
    """The bot-wide send rate, shared by all broadcasts, plus the one-per-second chat limit.

    Sends are given slots evenly spaced 1/rate apart; the first slot is one interval after
    creation, so there is no burst at start. A sender that wakes up late (an event loop wakes
    timers only to the millisecond, which at 1,000/s is a whole interval) may still take its
    slot for up to CATCH_UP seconds; slots missed for longer are not made up.

    On top of that a send starts only while fewer than `rate` sends are under way or were
    answered within the last second. Telegram counts a send when it arrives, which is after we
    started it and before we get the answer; so however the network delays single sends, no
    second at Telegram can hold more than `rate` of them. (Counting start times instead let
    sends that waited a few milliseconds longer on the way bunch up into 429s.)
    """

    def __init__(self, rate_per_second: float, clock: Clock) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate = rate_per_second
        self.interval = 1.0 / rate_per_second
        self._clock = clock
        self._next_slot = clock.monotonic() + self.interval
        self._paused_until = 0.0
        self._last_by_chat: dict[int, float] = {}
        # The window check: sends under way, and when the recent ones were answered.
        # Answers to residents count at Telegram too: at 1,000/s (Telegram's paid ceiling) 2 %
        # stay free for them; at the usual 25/s the configured rate itself leaves that room.
        reserve = math.floor(rate_per_second * REPLY_RESERVE)
        self._capacity = max(1, math.floor(rate_per_second) - reserve)
        self._under_way = 0
        self._answered: deque[float] = deque()

    def pause_until(self, monotonic_deadline: float) -> None:
        """Hold every send until then: Telegram's flood control (429) counts the whole bot."""
        self._paused_until = max(self._paused_until, monotonic_deadline)

    def chat_ready_at(self, chat_id: int) -> float:
        """When the chat may receive its next message (monotonic time)."""
        last = self._last_by_chat.get(chat_id)
        return -math.inf if last is None else last + CHAT_INTERVAL

    async def wait(self, chat_id: int | None = None) -> None:
        """Return when the next send (to this chat, if given) may start, and book it."""
        while True:
            now = self._clock.monotonic()
            slot = max(self._next_slot, self._paused_until, now - CATCH_UP)
            start = max(slot, self._window_free_at())
            if chat_id is not None:
                start = max(start, self.chat_ready_at(chat_id))
            if start - now <= EPSILON:
                self._book(slot, max(start, now), chat_id)
                return
            # Sleep and look again: a pause or another broadcast may have taken the slot.
            await self._clock.sleep(start - now)

    def finished(self) -> None:
        """A send that `wait` let start has its answer (or failed): it leaves the window later."""
        self._under_way -= 1
        self._answered.append(self._clock.monotonic())

    def _window_free_at(self) -> float:
        """When one more send may start without `rate` sends in any second at Telegram."""
        now = self._clock.monotonic()
        while self._answered and self._answered[0] <= now - WINDOW:
            self._answered.popleft()
        if self._under_way + len(self._answered) < self._capacity:
            return -math.inf
        if self._answered:
            return self._answered[0] + WINDOW
        # All of them still under way: look again after one interval.
        return now + self.interval

    def _book(self, slot: float, started: float, chat_id: int | None) -> None:
        """Record a send that took `slot` and starts at `started`."""
        self._next_slot = slot + self.interval
        self._under_way += 1
        if chat_id is not None:
            self._last_by_chat[chat_id] = started
            if len(self._last_by_chat) > 4096:
                self._forget_chats_before(started - CHAT_INTERVAL)

    def _forget_chats_before(self, moment: float) -> None:
        """Drop chats whose last send no longer limits anything (keeps the dict small)."""
        self._last_by_chat = {c: t for c, t in self._last_by_chat.items() if t > moment}


@dataclass(frozen=True)
class Progress:
    """A broadcast's state for the staff report."""

    broadcast_id: int
    total: int
    sent: int
    failed: int
    blocked: int
    pending: int  # not yet final: waiting, due or on their way
    elapsed_seconds: float
    finished: bool
    cancelled: bool = False


def retry_delay(failures: int) -> float:
    """Exponential backoff after `failures` unsuccessful tries: 2, 4, 8, 16 … seconds."""
    return BACKOFF_BASE * 2.0 ** (max(failures, 1) - 1)


@dataclass
class _Run:
    """State of one `BroadcastEngine.run` (an engine may run several broadcasts at once)."""

    broadcast: Broadcast
    started: float  # monotonic
    last_progress: float = field(init=False)
    #: Background tasks recording a batch each, until their sends are done.
    batches: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        """The first report comes one interval after the start, not immediately."""
        self.last_progress = self.started


async def _completed(coro: Coroutine[Any, Any, T]) -> T:
    """Await a database write that survives cancellation of the caller.

    Cancelling a coroutine inside `Database.transaction` between BEGIN and the rollback handler
    would leave the shared connection in an open transaction; and a claim or record that
    completes keeps the delivery states consistent for the resume.
    """
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


class BroadcastEngine:
    """Delivers a broadcast: paced, retried, recorded, resumable."""

    def __init__(
        self,
        repository: BroadcastRepository,
        sender: Sender,
        clock: Clock,
        rate_per_second: float = 25.0,
        max_attempts: int = 5,
        max_in_flight: int = 50,
        on_progress: Callable[[Progress], Awaitable[None]] | None = None,
        progress_interval: float = 3.0,
        pacer: Pacer | None = None,
    ) -> None:
        self._repository = repository
        self._sender = sender
        self._clock = clock
        # Pass the bot's one Pacer to every engine: the rate limit is per bot, not per broadcast.
        self._pacer = pacer if pacer is not None else Pacer(rate_per_second, clock)
        self._max_attempts = max(1, max_attempts)
        self._slots = asyncio.Semaphore(max(1, max_in_flight))
        self._on_progress = on_progress
        self._progress_interval = progress_interval
        # What a crash can repeat is what was sent but not yet recorded. With one send in flight,
        # each send is claimed, sent and recorded before the next starts: a crash repeats at most
        # that one message. With more in flight (paid broadcasts), about a quarter second of
        # sends per claim keeps the repeatable window small at 8 short transactions a second.
        if max_in_flight <= 1:
            self._batch_size = 1
            self._max_batches = 1
        else:
            # At most 50 rows per claim/record: a record holds the one database lock, and
            # residents' answers wait behind it (p99 3 s with 250-row batches at 1000/s).
            self._batch_size = max(1, min(50, round(self._pacer.rate / 4)))
            self._max_batches = max(2, math.ceil(max_in_flight / self._batch_size))

    async def run(self, broadcast_id: int) -> Progress:
        """Start (or resume) the broadcast, deliver it completely and return the final report."""
        broadcast = await self._repository.get(broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status in ("done", "cancelled"):
            return await self._report(_Run(broadcast, self._clock.monotonic()), finished=True)
        await _completed(self._repository.start(broadcast_id))
        recovered = await _completed(self._repository.recover_in_flight(broadcast_id))
        if recovered:
            log.warning(
                "broadcast %d: resending %d interrupted deliveries", broadcast_id, recovered
            )
        # Reloaded: the sender gets the broadcast as it is now stored ('sending').
        broadcast = await self._repository.get(broadcast_id)
        assert broadcast is not None
        run = _Run(broadcast, self._clock.monotonic())
        cancelled = await self._deliver_all(run)
        if not cancelled:
            await _completed(self._repository.finish(broadcast_id))
        final = await self._report(run, finished=True, cancelled=cancelled)
        await self._publish(final)
        return final

    # -- the loop -------------------------------------------------------------------------

    async def _deliver_all(self, run: _Run) -> bool:
        """Claim, send and record until nothing is left; True if the broadcast was cancelled."""
        broadcast, batches = run.broadcast, run.batches
        try:
            while True:
                if await self._is_cancelled(broadcast.id):
                    await self._drain(batches)
                    return True
                await self._limit_batches(batches)
                claimed = await _completed(
                    self._repository.claim(broadcast.id, self._clock.now(), self._batch_size)
                )
                if claimed:
                    await self._dispatch(broadcast, claimed, batches)
                elif not await self._wait_for_work(broadcast.id, batches):
                    return False
                await self._maybe_publish(run)
        except BaseException:
            # Cancelled (the bot stops): record what finished; unfinished ones stay 'sending'.
            for task in batches:
                task.cancel()
            await asyncio.gather(*batches, return_exceptions=True)
            raise

    async def _is_cancelled(self, broadcast_id: int) -> bool:
        """Whether staff cancelled the broadcast meanwhile."""
        current = await self._repository.get(broadcast_id)
        return current is None or current.status == "cancelled"

    async def _limit_batches(self, batches: set[asyncio.Task[None]]) -> None:
        """Wait until few enough batches are unrecorded."""
        while len(batches) >= self._max_batches:
            await asyncio.wait(batches, return_when=asyncio.FIRST_COMPLETED)

    async def _drain(self, batches: set[asyncio.Task[None]]) -> None:
        """Let every batch on its way finish and be recorded."""
        if batches:
            await asyncio.wait(batches)

    async def _dispatch(
        self, broadcast: Broadcast, claimed: Sequence[Delivery], batches: set[asyncio.Task[None]]
    ) -> None:
        """Start the sends of a batch at the paced times; a background task records them."""
        # Chats that got a message less than a second ago go last, so they hold up nobody.
        ordered = sorted(claimed, key=lambda d: self._pacer.chat_ready_at(d.chat_id))
        sends: list[asyncio.Task[DeliveryResult]] = []
        try:
            for delivery in ordered:
                # In-flight bound first: a pacer slot taken only after waiting for a free send
                # would start late, and late sends bunch up into a burst.
                await self._slots.acquire()
                try:
                    await self._pacer.wait(delivery.chat_id)
                except BaseException:
                    self._slots.release()
                    raise
                send = asyncio.create_task(self._send(broadcast, delivery))
                send.add_done_callback(self._sent)
                sends.append(send)
        except BaseException:
            await self._settle(broadcast.id, sends)
            raise
        batch = asyncio.create_task(self._collect(broadcast.id, sends))
        batches.add(batch)
        batch.add_done_callback(batches.discard)

    def _sent(self, _: asyncio.Task[DeliveryResult]) -> None:
        """A send is over: free its slot and tell the pacer when it was answered."""
        self._slots.release()
        self._pacer.finished()

    async def _wait_for_work(self, broadcast_id: int, batches: set[asyncio.Task[None]]) -> bool:
        """Nothing is due: wait for a batch or the next retry; False when all is delivered."""
        counts = await self._repository.counts(broadcast_id)
        if not batches and counts.open == 0:
            return False
        if not batches and counts.pending == 0:
            # 'sending' rows nobody here is sending: left by an earlier, cancelled run.
            await _completed(self._repository.recover_in_flight(broadcast_id))
            return True
        waiters: set[asyncio.Task[Any]] = set(batches)
        if counts.pending:
            delay = await self._delay_until_due(broadcast_id)
            if delay <= 0:
                return True
            waiters.add(asyncio.create_task(self._clock.sleep(delay)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters - batches:
                waiter.cancel()
        return True

    async def _delay_until_due(self, broadcast_id: int) -> float:
        """Seconds until the earliest waiting retry is due."""
        due = await self._repository.next_attempt(broadcast_id)
        if due is None:
            # Pending ones are due, yet none could be claimed: do not spin.
            return self._pacer.interval
        return max(0.0, (due - self._clock.now()).total_seconds())

    # -- one batch ------------------------------------------------------------------------

    async def _collect(self, broadcast_id: int, sends: list[asyncio.Task[DeliveryResult]]) -> None:
        """Wait for a batch's sends and record their outcomes in one transaction."""
        try:
            if sends:
                await asyncio.wait(sends)
        finally:
            await self._settle(broadcast_id, sends)

    async def _settle(self, broadcast_id: int, sends: list[asyncio.Task[DeliveryResult]]) -> None:
        """Record the finished sends; cancel the rest, which stay 'sending' for the resume."""
        unfinished = [send for send in sends if not send.done()]
        for send in unfinished:
            send.cancel()
        if unfinished:
            await asyncio.wait(unfinished)
        results = [send.result() for send in sends if not send.cancelled()]
        if results:
            await _completed(self._repository.record(broadcast_id, results))

    async def _send(self, broadcast: Broadcast, delivery: Delivery) -> DeliveryResult:
        """Send one delivery and turn the answer into what the database records."""
        try:
            result = await self._sender(delivery.chat_id, broadcast)
        except Exception as error:  # a sender must not raise; if one does, it may work later
            log.warning(
                "broadcast %d: sender raised for chat %d",
                broadcast.id,
                delivery.chat_id,
                exc_info=True,
            )
            result = SendResult(SendOutcome.TRANSIENT, error=repr(error)[:200])
        return self._classify(delivery, result)

    def _classify(self, delivery: Delivery, result: SendResult) -> DeliveryResult:
        """SendResult → DeliveryResult, applying the retry policy."""
        chat_id = delivery.chat_id
        match result.outcome:
            case SendOutcome.SENT:
                return DeliveryResult(chat_id, "sent", message_id=result.message_id)
            case SendOutcome.RETRY_AFTER:
                return self._throttled(chat_id, result)
            case SendOutcome.TRANSIENT:
                failures = delivery.attempts + 1
                if failures >= self._max_attempts:
                    return DeliveryResult(chat_id, "failed", error=result.error)
                retry_at = self._clock.now() + timedelta(seconds=retry_delay(failures))
                return DeliveryResult(chat_id, "retry", error=result.error, retry_at=retry_at)
            case SendOutcome.BLOCKED:
                return DeliveryResult(chat_id, "blocked", error=result.error)
            case SendOutcome.FAILED:
                return DeliveryResult(chat_id, "failed", error=result.error)

    def _throttled(self, chat_id: int, result: SendResult) -> DeliveryResult:
        """A 429: pause every send now (not when the batch is recorded) and retry this one."""
        wait = max(result.retry_after, 1.0)
        self._pacer.pause_until(self._clock.monotonic() + wait)
        log.warning("flood control: all broadcasts pause for %.0f s", wait)
        return DeliveryResult(
            chat_id,
            "retry",
            error=result.error or f"retry after {wait:g} s",
            retry_at=self._clock.now() + timedelta(seconds=wait),
            count_attempt=False,
        )

    # -- progress -------------------------------------------------------------------------

    async def _report(self, run: _Run, finished: bool = False, cancelled: bool = False) -> Progress:
        """The current progress from the database."""
        broadcast_id = run.broadcast.id
        counts: BroadcastCounts = await self._repository.counts(broadcast_id)
        if finished and not cancelled:
            current = await self._repository.get(broadcast_id)
            cancelled = current is not None and current.status == "cancelled"
        return Progress(
            broadcast_id=broadcast_id,
            total=counts.total,
            sent=counts.sent,
            failed=counts.failed,
            blocked=counts.blocked,
            pending=counts.open,
            elapsed_seconds=self._clock.monotonic() - run.started,
            finished=finished,
            cancelled=cancelled,
        )

    async def _maybe_publish(self, run: _Run) -> None:
        """Report progress if the last report is at least progress_interval old."""
        if self._on_progress is None:
            return
        now = self._clock.monotonic()
        if now - run.last_progress < self._progress_interval:
            return
        run.last_progress = now
        await self._publish(await self._report(run))

    async def _publish(self, progress: Progress) -> None:
        """Hand a report to on_progress; a failing report must not stop the broadcast."""
        if self._on_progress is None:
            return
        try:
            await self._on_progress(progress)
        except Exception:
            log.exception("broadcast %d: progress report failed", progress.broadcast_id)
