"""Messages the bot sends on its own to one resident, in that resident's language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from telegram import Message
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ExtBot

from bot.i18n import Translator
from bot.ratelimit import RateLimitArgs
from bot.repositories import Repositories
from storage.events import Event

log = logging.getLogger(__name__)


async def translator_for_user(repos: Repositories, user_id: int) -> Translator:
    """The resident's chosen language (the default language if unknown)."""
    resident = await repos.residents.get(user_id)
    return repos.catalogs.translator(resident.language if resident else None)


async def send_to_resident(
    bot: ExtBot[RateLimitArgs],
    repos: Repositories,
    user_id: int,
    build: Callable[[Translator], str],
    **kwargs: Any,
) -> Message | None:
    """Send `build(t)` in the resident's language; None if refused (blocked: marked inactive)."""
    t = await translator_for_user(repos, user_id)
    try:
        return await bot.send_message(user_id, build(t), **kwargs)
    except Forbidden:
        await repos.residents.mark_inactive(user_id)
    except BadRequest as exc:
        if "chat not found" in exc.message.lower():
            await repos.residents.mark_inactive(user_id)
        else:
            log.warning("message to a resident refused: %s", exc.message)
    except TelegramError as exc:
        log.warning("message to a resident not sent: %s", type(exc).__name__)
    return None


def promoted_text(event: Event, t: Translator) -> str:
    """A place became free (or more places were added) and went to this waiting resident."""
    return t._(
        "Good news: a place became free, and it is yours. You are now registered for "
        "“{title}” on {date} at {time}. If you cannot come, please tell us in /events.",
        title=event.title,
        date=t.fmt_date(event.starts_at),
        time=t.fmt_time(event.starts_at),
    )


def cancelled_text(event: Event, t: Translator) -> str:
    """An event the resident registered for was called off."""
    return t._(
        "Sorry: “{title}” on {date} at {time} has been cancelled.",
        title=event.title,
        date=t.fmt_date(event.starts_at),
        time=t.fmt_time(event.starts_at),
    )


def changed_text(event: Event, t: Translator) -> str:
    """The time or place of an event the resident registered for changed."""
    return t._(
        "“{title}” has changed: it is now on {date} at {time}, at {place}. The file below "
        "updates your calendar.",
        title=event.title,
        date=t.fmt_date(event.starts_at),
        time=t.fmt_time(event.starts_at),
        place=event.place,
    )
