"""Scheduled work: retention, re-posting concerns the staff group missed, stale drafts.

python-telegram-bot's JobQueue keeps no jobs across restarts; these jobs derive everything from
the database, so scheduling them anew at every start loses nothing.
"""

from __future__ import annotations

import logging
from datetime import time, timedelta

from telegram.ext import ExtBot

from bot.concerns import announce, redact_staff_posts
from bot.context import BotContext, QuartierApplication
from bot.services import Services

log = logging.getLogger(__name__)

#: Unfinished concern drafts hold personal data; nobody needs one older than this.
DRAFT_LIFETIME = timedelta(days=2)
RETENTION_TIME = time(3, 30)
REPOST_INTERVAL = timedelta(minutes=5)


async def run_retention(bot: ExtBot[None], services: Services) -> int:
    """Anonymise concerns closed longer than `[privacy] retention_days`; purge stale drafts."""
    now = services.now()
    cutoff = now - timedelta(days=services.config.privacy.retention_days)
    anonymised, posts = await services.privacy.anonymise_closed(cutoff)
    purged = await services.concerns.purge_drafts(now - DRAFT_LIFETIME)
    log.info("retention: %d concerns anonymised, %d stale drafts removed", anonymised, purged)
    await redact_staff_posts(bot, services, posts)
    return anonymised


async def repost_unannounced(bot: ExtBot[None], services: Services) -> int:
    """Announce concerns whose staff-group post failed earlier (Telegram down, bot restarted)."""
    posted = 0
    for concern in await services.concerns.unposted():
        if not await announce(bot, services, concern):
            break  # still failing: try again next round
        posted += 1
    return posted


async def _retention_job(context: BotContext) -> None:
    """JobQueue callback for the daily retention run."""
    await run_retention(context.bot, context.services)


async def _repost_job(context: BotContext) -> None:
    """JobQueue callback for re-posting."""
    await repost_unannounced(context.bot, context.services)


def schedule(app: QuartierApplication) -> None:
    """Schedule the recurring jobs (called at start-up, after the database is open)."""
    queue = app.job_queue
    if queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    tz = app.services.config.timezone
    queue.run_daily(_retention_job, RETENTION_TIME.replace(tzinfo=tz), name="retention")
    # Also once shortly after start: a bot that is restarted daily may never be up at 03:30.
    queue.run_once(_retention_job, timedelta(seconds=30), name="retention-at-start")
    queue.run_repeating(_repost_job, REPOST_INTERVAL, first=timedelta(seconds=5), name="repost")
