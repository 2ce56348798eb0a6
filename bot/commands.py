"""The command menus published with setMyCommands, per language and for staff."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.i18n import N_, Translator
from bot.services import Services

log = logging.getLogger(__name__)

RESIDENT_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Start: choose language and quarter")),
    ("hours", N_("Office hours and address")),
    ("quarter", N_("Change your quarter")),
    ("language", N_("Change the language")),
    ("privacy", N_("Privacy and your data")),
    ("help", N_("What this bot can do")),
)

STAFF_COMMANDS: tuple[tuple[str, str], ...] = (
    ("closed", N_("Staff: add or list office closures")),
)


def command_list(t: Translator, staff: bool = False) -> list[BotCommand]:
    """The menu in one language; staff get their commands after the residents' ones."""
    entries = RESIDENT_COMMANDS + (STAFF_COMMANDS if staff else ())
    return [BotCommand(name, t._(description)) for name, description in entries]


async def publish_command_menus(bot: ExtBot[None], services: Services) -> None:
    """setMyCommands for every offered language, the default, and each admin's chat."""
    catalogs = services.catalogs
    try:
        default = catalogs.translator(catalogs.default_language)
        await bot.set_my_commands(command_list(default))
        for code in catalogs.offered:
            await bot.set_my_commands(command_list(catalogs.translator(code)), language_code=code)
    except TelegramError as exc:
        # A missing menu is cosmetic; the bot still answers every command.
        log.warning("could not publish the command menu: %s", type(exc).__name__)
        return
    for admin_id in sorted(services.config.staff.admins):
        await publish_staff_menu(bot, services, admin_id)


async def publish_staff_menu(bot: ExtBot[None], services: Services, user_id: int) -> None:
    """The extended menu in one staff member's private chat, in their language."""
    resident = await services.residents.get(user_id)
    t = services.catalogs.translator(resident.language if resident else None)
    try:
        await bot.set_my_commands(
            command_list(t, staff=True), scope=BotCommandScopeChat(chat_id=user_id)
        )
    except TelegramError as exc:
        # Telegram refuses chat scopes for users who never opened the bot; /start fixes that.
        log.info("staff menu for an admin not set yet: %s", type(exc).__name__)
