"""/help and /privacy."""

from __future__ import annotations

import html

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.commands import command_list, role_of
from bot.context import BotContext, QuartierApplication
from bot.i18n import Translator
from bot.menu import MENU_HELP, MENU_PRIVACY, main_menu
from bot.office import bold
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
    lines = [bold(t._("What this bot can do")), ""]
    lines += [
        f"/{command.command} — {html.escape(command.description)}"
        for command in command_list(t, role)
    ]
    lines += ["", html.escape(t._("You can also use the buttons below."))]
    return "\n".join(lines)


async def privacy_command(update: Update, context: BotContext) -> None:
    """Who is responsible, what is stored, for how long, and the resident's rights."""
    t = context.t
    privacy = context.repos.config.privacy
    controller = privacy.controller or t._("the organisation that runs this bot")
    contact = privacy.contact or controller
    days = privacy.retention_days
    sections = [
        bold(t._("Privacy")),
        html.escape(t._("Responsible for this bot: {controller}", controller=controller)),
        html.escape(t._("Contact: {contact}", contact=contact)),
        "",
        bold(t._("What we store")),
        html.escape(
            t._(
                "Your Telegram user number, the language and quarter you chose, and the day "
                "you first and last used the bot. We do not store your name or phone number."
            )
        ),
        html.escape(
            t._(
                "If you report a concern: its topic, your text, photo and location, whether the "
                "quarter office may answer you, and the messages about it. The staff of the "
                "quarter office see the concern, but not your name or your Telegram account."
            )
        ),
        "",
        bold(t._("Why")),
        html.escape(
            t._(
                "So that the bot answers you in your language and for your quarter, and so that "
                "the quarter office can help with your concern."
            )
        ),
        "",
        bold(t._("How long")),
        html.escape(
            t._n(
                "We keep your profile until you delete it. {count} day after a concern is closed, "
                "we remove everything that could identify you; only topic, quarter, date and "
                "status remain for statistics.",
                "We keep your profile until you delete it. {count} days after a concern is closed, "
                "we remove everything that could identify you; only topic, quarter, date and "
                "status remain for statistics.",
                days,
                count=days,
            )
        ),
        "",
        bold(t._("Your rights")),
        html.escape(
            t._(
                "/mydata sends you everything we store about you. /deleteme deletes it. You can "
                "also ask for corrections or object to the use of your data: write to {contact}. "
                "You can complain to the data protection authority of Bremen.",
                contact=contact,
            )
        ),
    ]
    await message_of(update).reply_text("\n".join(sections), parse_mode=ParseMode.HTML)


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
