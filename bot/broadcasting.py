"""Runs broadcasts in the background of the bot: Telegram sending, progress reports, resume.

The engine (bot/broadcast.py) knows nothing about Telegram; this module gives it a sender that
turns Bot API answers into outcomes, one pacer for the whole bot, and a task per broadcast that
never blocks the handling of updates.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ExtBot

from bot.broadcast import BroadcastEngine, Pacer, Progress, SendOutcome, SendResult, SystemClock
from bot.concerns import quarter_name, topic_label
from bot.events import render_event
from bot.i18n import Translator
from bot.ratelimit import RateLimitArgs, retry_seconds
from bot.repositories import Repositories
from storage.broadcasts import Broadcast

log = logging.getLogger(__name__)

# The engine must see a 429 itself, to pause every send (bot/ratelimit.py would retry it).
NO_RETRY: RateLimitArgs = {"no_retry": True}


def classify(error: Exception) -> SendResult:
    """Map a failed send to what the engine should do with the delivery."""
    if isinstance(error, RetryAfter):
        return SendResult(SendOutcome.RETRY_AFTER, retry_after=retry_seconds(error), error="429")
    if isinstance(error, Forbidden):
        return SendResult(SendOutcome.BLOCKED, error="403")
    if isinstance(error, BadRequest):
        if "chat not found" in error.message.lower():
            return SendResult(SendOutcome.BLOCKED, error="400 chat not found")
        return SendResult(SendOutcome.FAILED, error=f"400 {error.message[:100]}")
    if isinstance(error, TimedOut | NetworkError):
        # python-telegram-bot reports 5xx answers and lost connections as NetworkError.
        return SendResult(SendOutcome.TRANSIENT, error=type(error).__name__)
    return SendResult(SendOutcome.TRANSIENT, error=type(error).__name__)


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
        # None leaves the parameter out, so unpaid bots send exactly what they always sent.
        paid = True if self.paid else None
        try:
            if broadcast.event_id is not None:
                message = await self._send_event(chat_id, broadcast.event_id, paid)
                if message is None:
                    return SendResult(SendOutcome.FAILED, error="event gone")
            elif broadcast.photo_file_id:
                message = await self.bot.send_photo(
                    chat_id,
                    broadcast.photo_file_id,
                    caption=broadcast.text or None,
                    parse_mode=ParseMode.HTML,
                    allow_paid_broadcast=paid,
                    rate_limit_args=NO_RETRY,
                )
            else:
                message = await self.bot.send_message(
                    chat_id,
                    broadcast.text,
                    parse_mode=ParseMode.HTML,
                    allow_paid_broadcast=paid,
                    rate_limit_args=NO_RETRY,
                )
        except TelegramError as exc:
            return classify(exc)
        return SendResult(SendOutcome.SENT, message_id=message.message_id)

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
        card = render_event(
            event, t, quarter_name(event.quarter_id, config), topic, counts, event.capacity
        )
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(t._("✅ I'll come"), callback_data=f"ev:go:{event.id}")],
                [
                    InlineKeyboardButton(
                        t._("📅 Add to calendar"), callback_data=f"ev:ics:{event.id}"
                    )
                ],
            ]
        )
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
            rate_per_second=self.pacer.rate,
            max_in_flight=self.repos.config.broadcast.in_flight,
            on_progress=self.report,
            pacer=self.pacer,
        )
        task = asyncio.get_running_loop().create_task(
            engine.run(broadcast_id), name=f"broadcast-{broadcast_id}"
        )
        self._tasks[broadcast_id] = task
        task.add_done_callback(lambda done: self._finished(broadcast_id, done))

    def _finished(self, broadcast_id: int, task: asyncio.Task[Progress]) -> None:
        """Forget the task; log a crash (the broadcast resumes at the next start)."""
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
            self.start(broadcast.id)

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
            else:
                message = await self.bot.send_message(broadcast.report_chat_id, text)
                await self.repos.broadcasts.set_progress_message(
                    broadcast.id, broadcast.report_chat_id, message.message_id
                )
            if progress.finished:
                await self.bot.send_message(broadcast.report_chat_id, text)
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
