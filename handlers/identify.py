"""Runs before every other handler: who is this, and in which language do we answer?"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.context import BotContext, QuartierApplication
from handlers.common import apologise

log = logging.getLogger(__name__)

# Group -1 runs before the feature handlers in group 0, on the same context object.
IDENTIFY_GROUP = -1


async def identify(update: Update, context: BotContext) -> None:
    """Load the resident, refresh last_seen coarsely, and pick the translator."""
    user = update.effective_user
    if user is None or user.is_bot:
        chat = update.effective_chat
        if chat is not None and chat.type == chat.PRIVATE:
            # Telegram never sends this; a forged one has nobody to answer and nothing to do.
            raise ApplicationHandlerStop
        return
    repos = context.repos
    try:
        resident = await repos.residents.get(user.id)
        if resident is not None:
            await repos.residents.touch(resident, repos.now())
            if resident.inactive_since is not None:
                # Writing again means they unblocked the bot: include them in news again.
                await repos.residents.reactivate(resident.user_id)
    except Exception as exc:
        # Without knowing the resident every later handler would answer wrongly (e.g. ask for
        # a quarter they chose long ago): stop this update here, with an apology.
        log.error(
            "identifying the user failed for update %s: %s",
            update.update_id,
            type(exc).__name__,
            exc_info=exc,
        )
        await apologise(update, context)
        raise ApplicationHandlerStop from exc
    context.resident = resident
    context.use_language(
        repos.catalogs.negotiate(resident.language if resident else None, user.language_code)
    )


def register(app: QuartierApplication) -> None:
    """Install the identification step."""
    app.add_handler(TypeHandler(Update, identify), group=IDENTIFY_GROUP)
