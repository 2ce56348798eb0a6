"""The error handler: log without personal data, apologise to the resident in their language."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import BotContext, QuartierApplication
from bot.i18n import Translator

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


async def apologise(update: Update, context: BotContext) -> None:
    """Tell a resident in a private chat that something failed; never raises."""
    chat = update.effective_chat
    if chat is None or chat.type != chat.PRIVATE:
        return
    t = await translator_for(update, context)
    try:
        await context.bot.send_message(
            chat.id, t._("Sorry, something went wrong. Please try again in a moment.")
        )
    except TelegramError:
        log.warning("could not send the apology for update %s", update.update_id)


async def translator_for(update: Update, context: BotContext) -> Translator:
    """The user's language even though this is a fresh context (the failure may be the database)."""
    catalogs = context.repos.catalogs
    user = update.effective_user
    stored = None
    if user is not None:
        try:
            resident = await context.repos.residents.get(user.id)
            stored = resident.language if resident else None
        except Exception:  # noqa: BLE001 - an apology must not fail because storage did
            log.warning("language of the user unknown while apologising")
    return catalogs.translator(catalogs.negotiate(stored, user.language_code if user else None))


def register(app: QuartierApplication) -> None:
    """Install the error handler."""
    app.add_error_handler(on_error)
