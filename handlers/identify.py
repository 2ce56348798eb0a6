"""Runs before every other handler: who is this, and in which language do we answer?"""

from __future__ import annotations

from telegram import Update
from telegram.ext import TypeHandler

from bot.context import BotContext, QuartierApplication

# Group -1 runs before the feature handlers in group 0, on the same context object.
IDENTIFY_GROUP = -1


async def identify(update: Update, context: BotContext) -> None:
    """Load the resident, refresh last_seen coarsely, and pick the translator."""
    user = update.effective_user
    if user is None or user.is_bot:
        return
    services = context.services
    resident = await services.residents.get(user.id)
    if resident is not None:
        await services.residents.touch(resident, services.now())
    context.resident = resident
    context.use_language(
        services.catalogs.negotiate(resident.language if resident else None, user.language_code)
    )


def register(app: QuartierApplication) -> None:
    """Install the identification step."""
    app.add_handler(TypeHandler(Update, identify), group=IDENTIFY_GROUP)
