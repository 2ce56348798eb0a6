"""/help and /privacy."""

from __future__ import annotations

import html

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.commands import command_list, role_of
from bot.context import BotContext, QuartierApplication
from bot.i18n import Translator, bold
from bot.menu import MENU_HELP, MENU_PRIVACY, main_menu
from bot.privacy import privacy_notice
from bot.topics import emergency_numbers
from handlers.common import PRIVATE, message_of, user_of


async def help_command(update: Update, context: BotContext) -> None:
    """List the commands in the reader's language (staff see theirs too)."""
    t = context.t
    role = await role_of(context.repos, user_of(update).id)
    await message_of(update).reply_text(
        help_text(t, role), parse_mode=ParseMode.HTML, reply_markup=main_menu(t)
    )


def help_text(t: Translator, role: str) -> str:
    """The /help message (HTML) for one language and role."""
    lines = [html.escape(emergency_numbers(t)), "", bold(t._("What this bot can do")), ""]
    lines += [
        f"/{command.command} — {html.escape(command.description)}"
        for command in command_list(t, role)
    ]
    lines += ["", html.escape(t._("You can also use the buttons below."))]
    return "\n".join(lines)


async def privacy_command(update: Update, context: BotContext) -> None:
    """Who is responsible, what is stored, for how long, and the resident's rights."""
    config = context.repos.config
    notice = privacy_notice(context.t, config.privacy, config.translation, config.transcription)
    await message_of(update).reply_text(notice, parse_mode=ParseMode.HTML)


def register(app: QuartierApplication) -> None:
    """Install /help and /privacy with their menu buttons."""
    catalogs = app.repos.catalogs
    app.add_handler(CommandHandler("help", help_command, filters=PRIVATE))
    app.add_handler(CommandHandler("privacy", privacy_command, filters=PRIVATE))
    app.add_handler(
        MessageHandler(PRIVATE & filters.Text(catalogs.all_translations(MENU_HELP)), help_command)
    )
    app.add_handler(
        MessageHandler(
            PRIVATE & filters.Text(catalogs.all_translations(MENU_PRIVACY)), privacy_command
        )
    )
