"""Answers for everything no feature handled: unknown commands, free text, stale buttons.

Registered last, so it only sees what the feature modules did not take.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext, QuartierApplication
from bot.menu import main_menu
from handlers.common import PRIVATE, message_of


async def unknown_command(update: Update, context: BotContext) -> None:
    """An unknown /command in a private chat."""
    t = context.t
    text = message_of(update).text or ""
    command = text.split(None, 1)[0][:33] if text else "/"
    if context.resident is None or not context.resident.onboarded:
        answer = t._("I don't know the command {command}. Send /start to begin.", command=command)
        await message_of(update).reply_text(answer)
        return
    await message_of(update).reply_text(
        t._(
            "I don't know the command {command}. Use the buttons below or send /help.",
            command=command,
        ),
        reply_markup=main_menu(t),
    )


async def other_message(update: Update, context: BotContext) -> None:
    """Free text, stickers, voice and the like in a private chat."""
    t = context.t
    if context.resident is None or not context.resident.onboarded:
        await message_of(update).reply_text(t._("Hello! Send /start to begin."))
        return
    await message_of(update).reply_text(
        t._(
            "I can't read free text yet. Please choose an option with the buttons below, "
            "or send /help."
        ),
        reply_markup=main_menu(t),
    )


async def stale_button(update: Update, context: BotContext) -> None:
    """A button whose data we do not know (old message, forged data)."""
    query = update.callback_query
    assert query is not None
    await query.answer(context.t._("This button is no longer active."), show_alert=True)


def register(app: QuartierApplication) -> None:
    """Install the fall-backs; must be the last registration in group 0."""
    app.add_handler(MessageHandler(PRIVATE & filters.COMMAND, unknown_command))
    # Edited messages are left alone: answering every edit twice would only confuse.
    app.add_handler(MessageHandler(PRIVATE & ~filters.UpdateType.EDITED, other_message))
    app.add_handler(CallbackQueryHandler(stale_button))
