"""The error handler: log without personal data, apologise to the resident in their language."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import BotContext, QuartierApplication
from handlers.common import apologise

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure (type and update id only: message texts are personal data) and apologise."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    log.error(
        "handler failed for update %s: %s",
        update_id,
        type(error).__name__,
        exc_info=error if not isinstance(error, TelegramError) else None,
    )
    if isinstance(update, Update):
        await apologise(update, context)


def register(app: QuartierApplication) -> None:
    """Install the error handler."""
    app.add_error_handler(on_error)
