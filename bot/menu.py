"""The resident's main menu (a persistent reply keyboard) and shared inline keyboards."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.config import Quarter
from bot.i18n import N_, Translator, native_name

# Reply-keyboard buttons send their label as text; handlers recognise it in every language.
# Only features that work are listed: later features add their button here.
MENU_HOURS = N_("🕒 Office hours")
MENU_EVENTS = N_("📅 Events")
MENU_CONCERN = N_("📝 Report a concern")
MENU_MY_CONCERNS = N_("📋 My concerns")
MENU_SETTINGS = N_("⚙️ Settings")
MENU_QUARTER = N_("📍 My quarter")
MENU_LANGUAGE = N_("🌐 Language")
MENU_HELP = N_("❓ Help")
MENU_PRIVACY = N_("🔒 Privacy")

# Language, quarter and privacy moved into the settings; their labels are still recognised,
# because residents keep old keyboards on their phones until the bot sends a new one.
MENU_LAYOUT: tuple[tuple[str, ...], ...] = (
    (MENU_HOURS, MENU_EVENTS),
    (MENU_CONCERN, MENU_MY_CONCERNS),
    (MENU_SETTINGS, MENU_HELP),
)


def main_menu(t: Translator) -> ReplyKeyboardMarkup:
    """The persistent main menu in the reader's language."""
    rows = [[KeyboardButton(t._(label)) for label in row] for row in MENU_LAYOUT]
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)


def language_keyboard(languages: Sequence[str], current: str | None = None) -> InlineKeyboardMarkup:
    """One button per offered language, each in its own name, two per row."""
    buttons = [
        InlineKeyboardButton(
            ("✓ " if code == current else "") + native_name(code), callback_data=f"lang:{code}"
        )
        for code in languages
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def quarter_keyboard(
    quarters: Sequence[Quarter], action: str, current: str | None = None
) -> InlineKeyboardMarkup:
    """One button per quarter; `action` prefixes the callback data ('quarter', 'hours')."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ("✓ " if q.id == current else "") + q.name, callback_data=f"{action}:{q.id}"
                )
            ]
            for q in quarters
        ]
    )
