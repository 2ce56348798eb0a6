"""Broadcasts: one message delivered to many residents, paced, recorded and resumable.

`BroadcastEngine` knows nothing about Telegram. It gets a `Sender` that sends one broadcast to one
chat and classifies what Telegram answered into a `SendResult`, and a `Clock` (both are faked in
tests); it decides about pacing, retries and bookkeeping. Each delivery row is marked 'sending'
before its message goes out and its outcome is written after, so a crash repeats at most the
`max_in_flight` messages on their way. `BroadcastService` is the Telegram side: the sender, the
progress message to staff and one background task per running broadcast.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from html.parser import HTMLParser
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.concerns import quarter_name, topic_label
from bot.events import event_for_reader, events_for_reader, original_button, render_event
from bot.i18n import Translator, utf16_length
from bot.ratelimit import RateLimitArgs, retry_seconds
from bot.repositories import Repositories
from bot.translation import translate_stored
from storage.broadcasts import Broadcast, BroadcastRepository, Delivery, DeliveryResult
from storage.events import Event
from storage.translations import broadcast_subject

log = logging.getLogger(__name__)

#: First retry after a transient error; each further one waits twice as long.
BACKOFF_BASE = 2.0
#: Clock readings this close count as equal (sleeps end on float sums of their start).
EPSILON = 1e-6


class SendOutcome(Enum):
    """How Telegram answered one send, as classified by the sender."""

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
    """The bot-wide pace of broadcast sends: a token bucket that holds one token.

    One send may start every 1/rate seconds, never two at once, so there is no burst at the start;
    every running broadcast takes its turns from the bot's one Pacer (Telegram's limit counts the
    whole bot). A 429 pauses it for as long as Telegram asks.
    """

    def __init__(self, rate_per_second: float, clock: Clock) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.interval = 1.0 / rate_per_second
        self._clock = clock
        self._next_start = clock.monotonic()
        self._paused_until = -math.inf
        # Senders queue for their turns: only the first in line sleeps, the others wait for it.
        self._queue = asyncio.Lock()

    def pause_until(self, monotonic_deadline: float) -> None:
        """Hold every send until then: Telegram's flood control (429) counts the whole bot."""
        self._paused_until = max(self._paused_until, monotonic_deadline)

    async def wait(self) -> None:
        """Return when the next send may start, and take that turn."""
        async with self._queue:
            while True:
                now = self._clock.monotonic()
                start = max(self._next_start, self._paused_until)
                if start - now <= EPSILON:
                    # From now, not from the planned start: a timer that woke late delays the
                    # turns after it too. That slack keeps network jitter from putting 31 sends
                    # into one of Telegram's seconds at 30/s (keeping the plan gave 429s there).
                    self._next_start = now + self.interval
                    return
                # Look again after the sleep: a 429 may have paused everything meanwhile.
                await self._clock.sleep(start - now)


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


class BroadcastEngine:
    """Delivers one broadcast: `max_in_flight` workers, each claiming, sending and recording."""

    def __init__(
        self,
        repository: BroadcastRepository,
        sender: Sender,
        clock: Clock,
        pacer: Pacer,
        *,
        max_in_flight: int = 1,
        max_attempts: int = 5,
        on_progress: Callable[[Progress], Awaitable[None]] | None = None,
        progress_interval: float = 3.0,
    ) -> None:
        self._repository = repository
        self._sender = sender
        self._clock = clock
        self._pacer = pacer
        self._max_in_flight = max(1, max_in_flight)
        self._max_attempts = max(1, max_attempts)
        self._on_progress = on_progress
        self._progress_interval = progress_interval

    async def run(self, broadcast_id: int) -> Progress:
        """Start (or resume) the broadcast, deliver it completely and return the final report."""
        started = self._clock.monotonic()
        broadcast = await self._repository.get(broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status in ("done", "cancelled"):
            return await self._progress(broadcast_id, started, finished=True)
        await self._repository.start(broadcast_id)
        recovered = await self._repository.recover_in_flight(broadcast_id)
        if recovered:
            log.warning(
                "broadcast %d: resending %d interrupted deliveries", broadcast_id, recovered
            )
        # Reloaded: the sender gets the broadcast as it is now stored ('sending').
        broadcast = await self._repository.get(broadcast_id)
        assert broadcast is not None
        reports = asyncio.create_task(self._report_regularly(broadcast_id, started))
        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(self._max_in_flight):
                    workers.create_task(self._work(broadcast))
        finally:
            reports.cancel()
            await asyncio.wait([reports])
        await self._repository.finish(broadcast_id)
        final = await self._progress(broadcast_id, started, finished=True)
        await self._publish(final)
        return final

    async def _work(self, broadcast: Broadcast) -> None:
        """Claim, send and record one delivery after the other, until none is left."""
        while True:
            delivery = await self._repository.claim(broadcast.id, self._clock.now())
            if delivery is None:
                if not await self._wait_for_due(broadcast.id):
                    return
                continue
            result = await self._send(broadcast, delivery)
            await self._repository.record(broadcast.id, result)

    async def _wait_for_due(self, broadcast_id: int) -> bool:
        """Nothing to claim: sleep until a retry is due; False when this worker is done."""
        broadcast = await self._repository.get(broadcast_id)
        counts = await self._repository.counts(broadcast_id)
        if broadcast is None or broadcast.status != "sending" or counts.pending == 0:
            return False  # finished, cancelled, or the rest is on its way with other workers
        due = await self._repository.next_attempt(broadcast_id)
        delay = 0.0 if due is None else (due - self._clock.now()).total_seconds()
        await self._clock.sleep(max(delay, self._pacer.interval))
        return True

    async def _send(self, broadcast: Broadcast, delivery: Delivery) -> DeliveryResult:
        """Send one delivery at its turn and turn the answer into what the database records."""
        await self._pacer.wait()
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
        """A 429: pause every send of the bot and retry this one after the pause."""
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

    async def _progress(self, broadcast_id: int, started: float, finished: bool) -> Progress:
        """The current progress from the database."""
        counts = await self._repository.counts(broadcast_id)
        current = await self._repository.get(broadcast_id)
        return Progress(
            broadcast_id=broadcast_id,
            total=counts.total,
            sent=counts.sent,
            failed=counts.failed,
            blocked=counts.blocked,
            pending=counts.open,
            elapsed_seconds=self._clock.monotonic() - started,
            finished=finished,
            cancelled=current is not None and current.status == "cancelled",
        )

    async def _report_regularly(self, broadcast_id: int, started: float) -> None:
        """Every progress_interval seconds a report, until cancelled."""
        if self._on_progress is None:
            return
        while True:
            await self._clock.sleep(self._progress_interval)
            await self._publish(await self._progress(broadcast_id, started, finished=False))

    async def _publish(self, progress: Progress) -> None:
        """Hand a report to on_progress; a failing report must not stop the broadcast."""
        if self._on_progress is None:
            return
        try:
            await self._on_progress(progress)
        except Exception:
            log.exception("broadcast %d: progress report failed", progress.broadcast_id)


# -- the Telegram side ---------------------------------------------------------------------

# The engine must see a 429 itself, to pause every send (bot/ratelimit.py would retry it).
NO_RETRY: RateLimitArgs = {"no_retry": True}


def classify(error: TelegramError) -> SendResult:
    """Map a failed send to what the engine should do with the delivery."""
    if isinstance(error, RetryAfter):
        return SendResult(SendOutcome.RETRY_AFTER, retry_after=retry_seconds(error), error="429")
    if isinstance(error, Forbidden):
        return SendResult(SendOutcome.BLOCKED, error="403")
    if isinstance(error, BadRequest):
        if "chat not found" in error.message.lower():
            return SendResult(SendOutcome.BLOCKED, error="400 chat not found")
        return SendResult(SendOutcome.FAILED, error=f"400 {error.message[:100]}")
    # Timeouts, lost connections and 5xx answers (python-telegram-bot's NetworkError) and
    # anything unexpected: worth another try later.
    return SendResult(SendOutcome.TRANSIENT, error=type(error).__name__)


#: Telegram's limits, in UTF-16 units of the visible text (after formatting).
MAX_CAPTION = 1024
MAX_MESSAGE = 4096
#: Room kept for the label under a machine version ("🌐 Machine translation" in any language).
LABEL_ROOM = 60


class _Tokens(HTMLParser):
    """A text in Telegram's HTML as tags (with their exact source) and unescaped text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """An opening tag, kept as written."""
        self.tokens.append(("start", tag, self.get_starttag_text() or f"<{tag}>"))

    def handle_endtag(self, tag: str) -> None:
        """A closing tag."""
        self.tokens.append(("end", tag, f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        """Text between tags, with entities already unescaped."""
        self.tokens.append(("data", "", data))


def _tokens(text: str) -> list[tuple[str, str, str]]:
    """The tokens of one HTML text."""
    parser = _Tokens()
    parser.feed(text)
    parser.close()
    return parser.tokens


def visible_length(text: str) -> int:
    """The length Telegram counts for an HTML text: its visible characters, in UTF-16 units."""
    return utf16_length("".join(data for kind, _, data in _tokens(text) if kind == "data"))


def carry_formatting(original: str, translated: str) -> str | None:
    """The translation with the original's exact tags and every text escaped, or None.

    The service's answer is not trusted as HTML: it must have the same tags in the same order
    (else None), and its tags are replaced by the original's, so a changed link address or an
    attribute cannot reach residents, and a stray "<" or "&" cannot break the message.
    """
    source = [token for token in _tokens(original) if token[0] != "data"]
    answer = _tokens(translated)
    if [(kind, tag) for kind, tag, _ in source] != [
        (kind, tag) for kind, tag, _ in answer if kind != "data"
    ]:
        return None
    tags = iter(source)
    return "".join(
        html.escape(text, quote=False) if kind == "data" else next(tags)[2]
        for kind, _, text in answer
    )


@dataclass(frozen=True)
class Version:
    """What the residents of one language get: a text, or None for the original (and why)."""

    text: str | None
    #: "machine" (translated), "officer" (written by staff), "unavailable", "formatting" or
    #: "too_long".
    kind: str
    source_language: str = ""


async def translate_versions(
    repos: Repositories, text: str, languages: Collection[str], limit: int = MAX_MESSAGE
) -> dict[str, Version]:
    """A machine version per language, one call per language, all at once (not per recipient).

    Stored by content, so the same text again asks the service nothing. A language the text is
    already in needs none; the service down or slow, a translation that lost Telegram's
    formatting tags, or one too long for `limit` with its label, leaves the original for it.
    """
    wanted = sorted(languages)
    answers = await asyncio.gather(
        *(
            translate_stored(repos.translation, repos.translations, [text], language, html=True)
            for language in wanted
        )
    )
    versions: dict[str, Version] = {}
    for language, answer in zip(wanted, answers, strict=True):
        if answer is None:
            versions[language] = Version(None, "unavailable")
            continue
        (translated,) = answer
        if translated.source_language == language:
            continue  # written in this language already
        safe = carry_formatting(text, translated.text)
        if safe is None:
            versions[language] = Version(None, "formatting")
        elif visible_length(safe) + LABEL_ROOM > limit:
            versions[language] = Version(None, "too_long")
        else:
            versions[language] = Version(safe, "machine", translated.source_language)
    return versions


async def prepare_event_languages(
    repos: Repositories, event: Event, languages: Collection[str]
) -> None:
    """Translate an announced event into every audience language at once, before delivery.

    Deliveries then only look the stored texts up: no recipient waits for the service, and
    recipients of one language sent in parallel do not each ask it.
    """
    # As delivery will: no language or one not offered means the default language.
    readers = {repos.catalogs.translator(language or None).language for language in languages}
    await asyncio.gather(*(events_for_reader(repos, [event], language) for language in readers))


class BroadcastService:
    """Starts, resumes and cancels broadcast tasks; one per running broadcast."""

    def __init__(self, repos: Repositories, bot: ExtBot[RateLimitArgs]) -> None:
        self.repos = repos
        self.bot = bot
        settings = repos.config.broadcast
        self.clock = SystemClock()
        # One pacer for the bot: Telegram's limit counts every broadcast together.
        self.pacer = Pacer(settings.rate_per_second, self.clock)
        self.paid = settings.allow_paid_broadcast
        self._tasks: dict[int, asyncio.Task[Progress]] = {}

    async def send(self, chat_id: int, broadcast: Broadcast) -> SendResult:
        """Send one broadcast to one chat exactly as the preview showed it."""
        try:
            message = await self._send_message(chat_id, broadcast)
        except TelegramError as exc:
            result = classify(exc)
            if result.outcome is SendOutcome.BLOCKED:
                # A private chat's id is the user's id: inactive until they write again, so no
                # later broadcast targets them.
                await self.repos.residents.mark_inactive(chat_id)
            return result
        if message is None:
            return SendResult(SendOutcome.FAILED, error="event gone")
        return SendResult(SendOutcome.SENT, message_id=message.message_id)

    async def _text_for(self, chat_id: int, broadcast: Broadcast) -> str:
        """The recipient's language version (a machine one labelled), else the original."""
        resident = await self.repos.residents.get(chat_id)
        language = resident.language if resident else None
        if not language or not broadcast.text:
            return broadcast.text
        version = await self.repos.translations.get(broadcast_subject(broadcast.id), language)
        if version is None:
            return broadcast.text
        if version.source_language == language:
            return version.text  # the officer's own version: as written
        t = self.repos.catalogs.translator(language)
        labelled = version.text + "\n\n<i>" + html.escape(t._("🌐 Machine translation")) + "</i>"
        limit = MAX_CAPTION if broadcast.photo_file_id else MAX_MESSAGE
        if visible_length(labelled) > limit:
            return broadcast.text  # checked in the preview already; a long label would not fit
        return labelled

    async def _send_message(self, chat_id: int, broadcast: Broadcast) -> Message | None:
        """The broadcast's message: an event card, a photo with caption, or text."""
        # None leaves the parameter out, so unpaid bots send exactly what they always sent.
        paid = True if self.paid else None
        if broadcast.event_id is not None:
            return await self._send_event(chat_id, broadcast.event_id, paid)
        text = await self._text_for(chat_id, broadcast)
        if broadcast.photo_file_id:
            return await self.bot.send_photo(
                chat_id,
                broadcast.photo_file_id,
                caption=text or None,
                parse_mode=ParseMode.HTML,
                allow_paid_broadcast=paid,
                rate_limit_args=NO_RETRY,
            )
        return await self.bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            allow_paid_broadcast=paid,
            rate_limit_args=NO_RETRY,
        )

    async def _send_event(self, chat_id: int, event_id: int, paid: bool | None) -> Message | None:
        """An event announcement: the event card in the recipient's own language, with buttons."""
        event = await self.repos.events.get(event_id)
        if event is None:
            return None
        resident = await self.repos.residents.get(chat_id)
        t = self.repos.catalogs.translator(resident.language if resident else None)
        config = self.repos.config
        counts = await self.repos.events.counts(event.id)
        topic = topic_label(event.topic_id, config, t) if event.topic_id else None
        # Translated when the broadcast was created (see prepare_event_languages): a lookup here.
        reader = await event_for_reader(self.repos, event, t.language)
        card = render_event(
            reader.event,
            t,
            quarter_name(event.quarter_id, config),
            topic,
            counts,
            event.capacity,
            reader.source_language,
        )
        rows = [
            [InlineKeyboardButton(t._("✅ I'll come"), callback_data=f"ev:go:{event.id}")],
            [InlineKeyboardButton(t._("📅 Add to calendar"), callback_data=f"ev:ics:{event.id}")],
        ]
        if reader.source_language:
            rows.append([original_button(event.id, t)])
        keyboard = InlineKeyboardMarkup(rows)
        return await self.bot.send_message(
            chat_id,
            t._("📣 New event") + "\n\n" + card,
            reply_markup=keyboard,
            allow_paid_broadcast=paid,
            rate_limit_args=NO_RETRY,
        )

    def start(self, broadcast_id: int) -> None:
        """Deliver in the background; a broadcast already running is left alone."""
        if broadcast_id in self._tasks and not self._tasks[broadcast_id].done():
            return
        engine = BroadcastEngine(
            self.repos.broadcasts,
            self.send,
            self.clock,
            self.pacer,
            max_in_flight=self.repos.config.broadcast.in_flight,
            on_progress=self.report,
        )
        task = asyncio.get_running_loop().create_task(
            engine.run(broadcast_id), name=f"broadcast-{broadcast_id}"
        )
        self._tasks[broadcast_id] = task
        task.add_done_callback(lambda done: self._finished(broadcast_id, done))

    def _finished(self, broadcast_id: int, task: asyncio.Task[Progress]) -> None:
        """Forget the task; log a crash (the broadcast resumes at the next scan or start)."""
        self._tasks.pop(broadcast_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "broadcast %d stopped: %s",
                broadcast_id,
                type(task.exception()).__name__,
                exc_info=task.exception(),
            )

    async def resume_and_start_due(self) -> None:
        """Resume broadcasts interrupted by a stop or crash, and start scheduled ones now due."""
        repository = self.repos.broadcasts
        for broadcast in await repository.in_progress():
            self.start(broadcast.id)
        for broadcast in await repository.due_scheduled(self.repos.now()):
            # Checked again when it is due: its author may have lost these quarters meanwhile.
            if set(broadcast.quarters) <= await self.repos.staff.quarters_of(broadcast.created_by):
                self.start(broadcast.id)
                continue
            await repository.cancel(broadcast.id)
            await self.repos.audit.record(
                broadcast.created_by, "broadcast.denied", f"broadcast:{broadcast.id}"
            )
            log.warning("broadcast %d cancelled: its author may not send there", broadcast.id)

    def running(self) -> list[int]:
        """Ids of broadcasts being delivered right now."""
        return [bid for bid, task in self._tasks.items() if not task.done()]

    async def shutdown(self) -> None:
        """Stop all deliveries; their state is in the database and they resume at the next start."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def report(self, progress: Progress) -> None:
        """Edit the staff member's progress message (or send the final report)."""
        broadcast = await self.repos.broadcasts.get(progress.broadcast_id)
        if broadcast is None or broadcast.report_chat_id is None:
            return
        t = await self._staff_translator(broadcast.created_by)
        text = progress_text(progress, t)
        try:
            if broadcast.progress_message_id is not None:
                await self.bot.edit_message_text(
                    text, chat_id=broadcast.report_chat_id, message_id=broadcast.progress_message_id
                )
                if progress.finished:
                    # An edit makes no sound: the end is told in a new message as well.
                    await self.bot.send_message(broadcast.report_chat_id, text)
            else:
                message = await self.bot.send_message(broadcast.report_chat_id, text)
                await self.repos.broadcasts.set_progress_message(
                    broadcast.id, broadcast.report_chat_id, message.message_id
                )
        except TelegramError as exc:
            # Progress is a courtesy; the delivery itself goes on.
            log.info("broadcast progress not shown: %s", type(exc).__name__)

    async def _staff_translator(self, user_id: int) -> Translator:
        """The staff member's language."""
        resident = await self.repos.residents.get(user_id)
        return self.repos.catalogs.translator(resident.language if resident else None)


def progress_text(progress: Progress, t: Translator) -> str:
    """'📣 Broadcast #3: 120 of 500 sent, 2 failed' or the final report."""
    duration = t._n(
        "{count} second",
        "{count} seconds",
        round(progress.elapsed_seconds),
        count=t.fmt_number(round(progress.elapsed_seconds)),
    )
    if progress.finished:
        return t._(
            "✅ Broadcast #{number} finished: {sent} delivered, {blocked} blocked the bot, "
            "{failed} failed, in {duration}.",
            number=progress.broadcast_id,
            sent=t.fmt_number(progress.sent),
            blocked=t.fmt_number(progress.blocked),
            failed=t.fmt_number(progress.failed),
            duration=duration,
        )
    return t._(
        "📣 Broadcast #{number}: {sent} of {total} sent, {failed} failed…",
        number=progress.broadcast_id,
        sent=t.fmt_number(progress.sent),
        total=t.fmt_number(progress.total),
        failed=t.fmt_number(progress.failed + progress.blocked),
    )
