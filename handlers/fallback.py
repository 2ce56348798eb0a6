"""Answers for what no feature handled: unknown commands and stale buttons.

(Unexpected typed input is answered by the concern intake's catch-all, see bot/app.py.)

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


async def stale_button(update: Update, context: BotContext) -> None:
    """A button whose data we do not know (old message, forged data)."""
    query = update.callback_query
    assert query is not None
    await query.answer(context.t._("This button is no longer active."), show_alert=True)


def register(app: QuartierApplication) -> None:
    """Install the fall-backs; must be the last registration in group 0."""
    app.add_handler(MessageHandler(PRIVATE & filters.COMMAND, unknown_command))
    app.add_handler(CallbackQueryHandler(stale_button))
