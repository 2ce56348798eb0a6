"""The command menus published with setMyCommands, per language and for staff."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.i18n import N_, Translator
from bot.ratelimit import RateLimitArgs
from bot.repositories import Repositories

log = logging.getLogger(__name__)

RESIDENT_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Start: choose language and quarter")),
    ("hours", N_("Office hours and address")),
    ("events", N_("Coming events in your quarters")),
    # TRANSLATORS: a "concern" is anything a resident brings to the office: a problem, a
    # question, a request or a complaint (German: Anliegen). Use one neutral word for it in every
    # message; it must fit health and social matters as well as a broken street lamp. A "quarter"
    # is a small city neighbourhood (German: Quartier), not an administrative district; the
    # "quarter office" is its neighbourhood office, run by a social worker.
    ("concern", N_("Report a concern to the quarter office")),
    ("myconcerns", N_("Your concerns and their status")),
    # TRANSLATORS: "quarter": a small city neighbourhood (German: Quartier), see "concern" above.
    ("quarter", N_("Change your quarter")),
    ("language", N_("Change the language")),
    ("subscribe", N_("Get news from quarters")),
    ("unsubscribe", N_("No more news from a quarter")),
    ("stop", N_("No more news at all")),
    ("settings", N_("Language, quarter and news")),
    ("privacy", N_("Privacy and your data")),
    ("mydata", N_("Download everything stored about you")),
    ("deleteme", N_("Delete all your data")),
    ("cancel", N_("Stop what you are doing")),
    ("help", N_("What this bot can do")),
)

#: Quarter officers (and admins): work on the concerns of their quarters.
OFFICER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("concerns", N_("Staff: list concerns")),
    ("reply", N_("Staff: answer a concern")),
    ("status", N_("Staff: change the status of a concern")),
    ("note", N_("Staff: add an internal note")),
    ("export", N_("Staff: export concerns as CSV or XLSX")),
    ("event_new", N_("Staff: create an event")),
    ("event_edit", N_("Staff: change an event")),
    ("event_cancel", N_("Staff: cancel an event")),
    ("broadcast", N_("Staff: send news to subscribers")),
    ("broadcasts", N_("Staff: pending and recent broadcasts")),
    ("stats", N_("Staff: figures for reports")),
)

#: Admins only.
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("closed", N_("Staff: add or list office closures")),
    ("staff", N_("Staff: manage quarter officers")),
)

ROLES = ("resident", "officer", "admin")


def command_list(t: Translator, role: str = "resident") -> tuple[BotCommand, ...]:
    """The menu in one language; staff get their commands after the residents' ones."""
    entries = RESIDENT_COMMANDS
    if role in ("officer", "admin"):
        entries += OFFICER_COMMANDS
    if role == "admin":
        entries += ADMIN_COMMANDS
    return tuple(BotCommand(name, t._(description)) for name, description in entries)


async def publish_command_menus(bot: ExtBot[RateLimitArgs], repos: Repositories) -> None:
    """setMyCommands for every offered language, the default, and each admin's chat."""
    catalogs = repos.catalogs
    try:
        default = catalogs.translator(catalogs.default_language)
        await bot.set_my_commands(command_list(default))
        for code in catalogs.offered:
            await bot.set_my_commands(command_list(catalogs.translator(code)), language_code=code)
    except TelegramError as exc:
        # A missing menu is cosmetic; the bot still answers every command.
        log.warning("could not publish the command menu: %s", type(exc).__name__)
        return
    staff = set(repos.config.staff.admins) | set(await repos.staff.officers_by_user())
    for user_id in sorted(staff):
        await publish_staff_menu(bot, repos, user_id)


async def role_of(repos: Repositories, user_id: int) -> str:
    """'admin', 'officer' or 'resident'."""
    if repos.config.is_admin(user_id):
        return "admin"
    return "officer" if await repos.staff.is_staff(user_id) else "resident"


async def publish_staff_menu(bot: ExtBot[RateLimitArgs], repos: Repositories, user_id: int) -> None:
    """The menu for one user's private chat, by role and in their language."""
    resident = await repos.residents.get(user_id)
    t = repos.catalogs.translator(resident.language if resident else None)
    role = await role_of(repos, user_id)
    scope = BotCommandScopeChat(chat_id=user_id)
    try:
        if role == "resident":
            # No longer staff: fall back to the per-language resident menus.
            await bot.delete_my_commands(scope=scope)
        else:
            await bot.set_my_commands(command_list(t, role), scope=scope)
    except TelegramError as exc:
        # Telegram refuses chat scopes for users who never opened the bot; /start fixes that.
        log.info("staff menu not set yet: %s", type(exc).__name__)
