"""The resident's main menu (a persistent reply keyboard) and shared inline keyboards."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

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


# python-telegram-bot walks every button of a markup for every request. Keyboards we send
# again and again (the main menu, event cards) are frozen objects: they turn themselves into
# Bot API data once.


def _serialised_once(markup: object, serialise: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`serialise()` on the first call, the kept result after (a fresh top-level dict each time)."""
    data: dict[str, Any] | None = getattr(markup, "_serialised", None)
    if data is None:
        data = serialise()
        # Frozen telegram object: set the private cache slot without the freeze check.
        object.__setattr__(markup, "_serialised", data)
    return dict(data)


class SerialisedKeyboard(ReplyKeyboardMarkup):
    """A reply keyboard that becomes Bot API data once, not on every send."""

    # A slot of each class: two bases with slots of their own cannot be combined in a mixin.
    __slots__ = ("_serialised",)

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        """The keyboard as Bot API data (the rows are shared between calls)."""
        if not recursive:
            return super().to_dict(recursive)
        return _serialised_once(self, lambda: super(SerialisedKeyboard, self).to_dict())


class SerialisedInlineKeyboard(InlineKeyboardMarkup):
    """An inline keyboard that becomes Bot API data once, not on every send."""

    __slots__ = ("_serialised",)

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        """The keyboard as Bot API data (the rows are shared between calls)."""
        if not recursive:
            return super().to_dict(recursive)
        return _serialised_once(self, lambda: super(SerialisedInlineKeyboard, self).to_dict())


@functools.lru_cache(maxsize=32)
def main_menu(t: Translator) -> ReplyKeyboardMarkup:
    """The persistent main menu in the reader's language (built once per language)."""
    rows = [[KeyboardButton(t._(label)) for label in row] for row in MENU_LAYOUT]
    return SerialisedKeyboard(rows, resize_keyboard=True, is_persistent=True)


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
