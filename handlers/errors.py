"""The error handler: log without personal data, apologise to the resident."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import BotContext, QuartierApplication

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
    if not isinstance(update, Update):
        return
    chat = update.effective_chat
    if chat is None or chat.type != chat.PRIVATE:
        return
    try:
        await context.bot.send_message(
            chat.id, context.t._("Sorry, something went wrong. Please try again in a moment.")
        )
    except TelegramError:
        log.warning("could not send the apology for update %s", update_id)


def register(app: QuartierApplication) -> None:
    """Install the error handler."""
    app.add_error_handler(on_error)
