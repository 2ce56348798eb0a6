"""Scheduled work: retention, reminders, scheduled broadcasts, stale drafts.

python-telegram-bot's JobQueue keeps no jobs across restarts; these jobs derive everything from
the database, so scheduling them anew at every start loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import time, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import ExtBot

from bot.concerns import quarter_name, redact_staff_posts
from bot.context import BotContext, QuartierApplication
from bot.events import ReaderEvent, event_for_reader, reminder_text, title_label
from bot.i18n import Translator
from bot.notify import send_to_resident, translator_for_user
from bot.ratelimit import RateLimitArgs
from bot.repositories import Repositories

log = logging.getLogger(__name__)

#: Unfinished concern drafts hold personal data; nobody needs one older than this.
DRAFT_LIFETIME = timedelta(days=2)
#: Outbox messages Telegram refused for good are counted in /stats this long, then dropped.
FAILED_OUTBOX_LIFETIME = timedelta(days=30)
RETENTION_TIME = time(3, 30)
#: Reminders and scheduled broadcasts are found by scanning the database, so nothing is lost
#: when the bot restarts: JobQueue itself keeps no jobs across restarts.
SCAN_INTERVAL = timedelta(seconds=30)


async def run_retention(bot: ExtBot[RateLimitArgs], repos: Repositories) -> int:
    """Every retention period of `[privacy]`: concerns, profiles, sign-ups, deliveries, drafts."""
    now = repos.now()
    privacy = repos.config.privacy
    cutoff = now - timedelta(days=privacy.retention_days)
    anonymised, posts = await repos.privacy.anonymise_closed(cutoff)
    forgotten = await repos.privacy.forgotten_residents(
        now - timedelta(days=privacy.inactive_resident_days)
    )
    for user_id in forgotten:
        posts += await repos.privacy.erase_resident(user_id)
    past = await repos.events.forget_past(now - timedelta(days=privacy.event_days))
    delivered = await repos.broadcasts.forget_deliveries(
        now - timedelta(days=privacy.delivery_days)
    )
    log.info(
        "retention: %d residents deleted, %d sign-ups and reminders, %d delivery records",
        len(forgotten),
        past,
        delivered,
    )
    purged = await repos.concerns.purge_drafts(now - DRAFT_LIFETIME)
    purged += await repos.staff_drafts.purge(now - DRAFT_LIFETIME)
    purged += await repos.outbox.purge_failed(now - FAILED_OUTBOX_LIFETIME)
    # Translations of broadcasts and events by content: an old event's texts are not needed.
    purged += await repos.translations.forget_texts(now - timedelta(days=privacy.event_days))
    log.info("retention: %d concerns anonymised, %d stale rows removed", anonymised, purged)
    await redact_staff_posts(bot, repos, posts)
    return anonymised


async def send_due_reminders(bot: ExtBot[RateLimitArgs], repos: Repositories) -> int:
    """Remind residents who said they come; each reminder is recorded before it is sent."""
    offsets = repos.config.events.reminder_offsets_minutes
    sent = 0
    for event, user_id, offset in await repos.events.due_reminders(repos.now(), offsets):
        # Marked first: after a crash a reminder may be missing, but it is never sent twice.
        if not await repos.events.mark_reminded(event.id, user_id, offset, repos.now()):
            continue
        place = quarter_name(event.quarter_id, repos.config)
        t = await translator_for_user(repos, user_id)
        reader = await event_for_reader(repos, event, t.language)
        # Where plans change: one tap frees the place for someone on the waiting list.
        cancel = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t._("❌ I can't come any more"), callback_data=f"ev:no:{event.id}"
                    )
                ]
            ]
        )
        message = await send_to_resident(
            bot, repos, user_id, _reminder(reader, offset, place), reply_markup=cancel
        )
        sent += message is not None
    return sent


def _reminder(reader: ReaderEvent, offset: int, place: str) -> Callable[[Translator], str]:
    """The reminder text builder for one resident's language (a translated title labelled)."""

    def build(t: Translator) -> str:
        text = reminder_text(reader.event, offset, t, place)
        if reader.title_source:
            text += "\n\n" + title_label(reader.title_source, t)
        return text

    return build


async def _reminder_job(context: BotContext) -> None:
    """JobQueue callback: due reminders."""
    await send_due_reminders(context.bot, context.repos)


async def _broadcast_job(context: BotContext) -> None:
    """JobQueue callback: start scheduled broadcasts that are due, resume interrupted ones."""
    await context.broadcaster.resume_and_start_due()


async def _retention_job(context: BotContext) -> None:
    """JobQueue callback for the daily retention run."""
    await run_retention(context.bot, context.repos)


def schedule(app: QuartierApplication) -> None:
    """Schedule the recurring jobs (called at start-up, after the database is open)."""
    queue = app.job_queue
    if queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    tz = app.repos.config.timezone
    queue.run_daily(_retention_job, RETENTION_TIME.replace(tzinfo=tz), name="retention")
    # Also once shortly after start: a bot that is restarted daily may never be up at 03:30.
    queue.run_once(_retention_job, timedelta(seconds=30), name="retention-at-start")
    queue.run_repeating(_reminder_job, SCAN_INTERVAL, first=timedelta(seconds=2), name="reminders")
    queue.run_repeating(
        _broadcast_job, SCAN_INTERVAL, first=timedelta(seconds=1), name="broadcasts"
    )
