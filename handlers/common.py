"""Small helpers shared by the feature modules (no handlers are registered here)."""

from __future__ import annotations

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update, User
from telegram.error import BadRequest
from telegram.ext import filters

from bot.catalogcheck import MESSAGE_LIMIT
from bot.config import Quarter
from bot.context import BotContext
from bot.menu import main_menu

# Edited messages are not new requests: re-running "/reply BV-0042 …" because its typo was
# fixed would send the answer twice. Handlers act on new messages only.
PRIVATE = filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED


def message_of(update: Update) -> Message:
    """The message a command or text handler was called for."""
    message = update.effective_message
    if message is None:
        raise ValueError("update without a message")
    return message


def user_of(update: Update) -> User:
    """The user behind the update."""
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    return user


def command_argument(update: Update) -> str:
    """Everything after the command word, with the user's spacing kept."""
    text = (update.effective_message.text or "") if update.effective_message else ""
    parts = text.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def is_admin(context: BotContext, user_id: int) -> bool:
    """Server-side check of full staff rights (never trust what a button claims)."""
    return context.repos.config.is_admin(user_id)


def fits_one_message(text: str) -> bool:
    """Whether Telegram takes `text` as one message, counting UTF-16 code units.

    The strict reading of the 4,096 limit (some measure characters, emoji then count once):
    a combined message that might be refused is sent as two instead.
    """
    return len(text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT


async def edit_text(
    query: CallbackQuery,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
    **kwargs: object,
) -> None:
    """Edit the button's message; a double tap that changes nothing is not an error."""
    try:
        await query.edit_message_text(text, reply_markup=reply_markup, **kwargs)  # type: ignore[arg-type]
    except BadRequest as exc:
        if "not modified" not in exc.message:
            raise


async def quarter_from_button(update: Update, context: BotContext, prefix: str) -> Quarter | None:
    """The quarter a `<prefix>:<id>` button names, acknowledged; None (with a notice) if unknown."""
    query = update.callback_query
    if query is None or query.data is None:
        return None
    quarter = context.repos.config.quarter(query.data.removeprefix(f"{prefix}:"))
    if quarter is None:
        await query.answer(context.t._("This choice is not available any more."), show_alert=True)
        return None
    await query.answer()
    return quarter


async def answer_unrecognised(update: Update, context: BotContext) -> None:
    """What the bot says to input no feature expects: point to /start or the menu."""
    t = context.t
    message = message_of(update)
    if context.resident is None or not context.resident.onboarded:
        await message.reply_text(t._("Hello! Send /start to begin."))
        return
    await message.reply_text(
        t._(
            "I did not understand that. Please choose an option with the buttons below, "
            "or send /help."
        ),
        reply_markup=main_menu(t),
    )


async def audit_denied(context: BotContext, user_id: int, action: str, subject: str = "") -> None:
    """Audit a refused staff action; only staff are named, so a resident's id stays erasable."""
    actor = user_id if await context.repos.staff.is_staff(user_id) else 0
    await context.repos.audit.record(actor, f"{action}.denied", subject)
