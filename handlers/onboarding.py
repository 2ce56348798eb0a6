"""/start with language and quarter choice, deep links from posters, /language and /quarter."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.commands import publish_staff_menu
from bot.config import Quarter
from bot.context import BotContext, QuartierApplication
from bot.i18n import Translator, language_named, native_name
from bot.menu import MENU_LANGUAGE, MENU_QUARTER, language_keyboard, main_menu, quarter_keyboard
from handlers.common import (
    PRIVATE,
    edit_text,
    message_of,
    parse_id,
    quarter_from_button,
    show_event,
    unknown_quarter_text,
    user_of,
)

DEEP_LINK_PREFIX = "q-"


def quarter_from_payload(context: BotContext, payload: str | None) -> Quarter | None:
    """The quarter of a poster deep link `q-<id>`; anything else is ignored."""
    if not payload or not payload.startswith(DEEP_LINK_PREFIX):
        return None
    return context.repos.config.quarter(payload[len(DEEP_LINK_PREFIX) :])


async def start(update: Update, context: BotContext) -> None:
    """First contact or return: ask what is missing, else welcome back with the menu."""
    message = message_of(update)
    user = user_of(update)
    repos = context.repos
    quarter = quarter_from_payload(context, context.args[0] if context.args else None)
    before = context.resident
    resident = await repos.residents.register(user.id, quarter.id if quarter else None)
    context.resident = resident
    t = context.t
    if resident.language is None:
        await ask_language(message, context, t._("Hello! Please choose your language."))
        return
    home = repos.config.quarter(resident.quarter_id)
    if home is None:
        await ask_quarter(message, context)
        return
    if before is not None and before.onboarded and quarter and before.quarter_id != quarter.id:
        text = t._(
            "Your quarter is now {quarter}. You can change it with /quarter.", quarter=home.name
        )
        await message.reply_text(text, reply_markup=main_menu(t))
        return
    if before is None or not before.onboarded:
        await send_welcome(message, context, home)
        return
    event_id = event_from_payload(context.args[0] if context.args else None)
    if event_id is not None:
        # A link from a calendar entry or an announcement: show that event.
        await show_event(message, context, event_id, user.id)
        return
    await message.reply_text(
        t._("Welcome back! How can we help you? Choose an option below."), reply_markup=main_menu(t)
    )


def event_from_payload(payload: str | None) -> int | None:
    """The event id of a deep link `ev-<id>`."""
    if payload and payload.startswith("ev-"):
        return parse_id(payload[3:])
    return None


async def ask_language(message: Message, context: BotContext, prompt: str) -> None:
    """The language picker: each language written in its own name."""
    offered = context.repos.catalogs.offered
    current = context.resident.language if context.resident else None
    await message.reply_text(prompt, reply_markup=language_keyboard(offered, current))


async def ask_quarter(message: Message, context: BotContext) -> None:
    """The quarter picker."""
    t = context.t
    current = context.resident.quarter_id if context.resident else None
    await message.reply_text(
        t._("Which quarter do you live in?"),
        reply_markup=quarter_keyboard(context.repos.config.quarters, "quarter", current),
    )


async def send_welcome(message: Message, context: BotContext, quarter: Quarter) -> None:
    """The first welcome after onboarding, with the main menu and an offer of news."""
    t = context.t
    await message.reply_text(
        t._(
            "Welcome! This bot connects you with the quarter office of {quarter}. "
            "Here you can see when the office is open and where it is, find events and "
            "report a concern. Use the buttons below. Send /help to see everything the bot can do.",
            quarter=quarter.name,
        ),
        reply_markup=main_menu(t),
    )
    await offer_news(message, t, quarter)


async def offer_news(message: Message, t: Translator, quarter: Quarter) -> None:
    """News only with consent: one tap either way, and nothing is sent to those who decline."""
    offer = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t._("🔔 Yes, send me news"), callback_data=f"sub:add:{quarter.id}"
                ),
                InlineKeyboardButton(t._("No, thanks"), callback_data="sub:no"),
            ]
        ]
    )
    await message.reply_text(
        # TRANSLATORS: {in_quarter} is a whole phrase, e.g. "in der Bahnhofsvorstadt".
        t._(
            "Would you like news about events and changes {in_quarter}?",
            in_quarter=quarter.in_phrase(t),
        ),
        reply_markup=offer,
    )


async def language_command(update: Update, context: BotContext) -> None:
    """/language [code or name]: change directly, or show the picker."""
    message = message_of(update)
    t = context.t
    named = " ".join(context.args or ()).strip()
    if not named:
        await ask_language(message, context, t._("Please choose your language."))
        return
    offered = context.repos.catalogs.offered
    code = language_named(named, offered)
    if code is None:
        choices = t.fmt_list([f"{c} ({native_name(c)})" for c in offered])
        await message.reply_text(
            t._(
                "I don't know the language “{code}”. Available: {choices}.",
                code=named[:16],
                choices=choices,
            ),
            reply_markup=language_keyboard(offered),
        )
        return
    await apply_language(update, context, code, message)


async def language_chosen(update: Update, context: BotContext) -> None:
    """A language button was pressed."""
    query = update.callback_query
    assert query is not None and query.data is not None
    code = query.data.removeprefix("lang:")
    if code not in context.repos.catalogs.offered:
        await query.answer(context.t._("This choice is not available any more."), show_alert=True)
        return
    await query.answer()
    context.use_language(code)
    if isinstance(query.message, Message):
        await edit_text(query, context.t._("Language: {language}", language=native_name(code)))
        await apply_language(update, context, code, query.message)


async def apply_language(update: Update, context: BotContext, code: str, message: Message) -> None:
    """Store the language, then continue onboarding or confirm with a refreshed menu."""
    repos = context.repos
    user = user_of(update)
    await repos.residents.set_language(user.id, code)
    context.use_language(code)
    t = context.t
    before = context.resident
    home = repos.config.quarter(before.quarter_id if before else None)
    if await repos.staff.is_staff(user.id):
        await publish_staff_menu(context.bot, repos, user.id)
    if home is None:
        await ask_quarter(message, context)
        return
    if before is None or not before.onboarded:
        await send_welcome(message, context, home)
        return
    await message.reply_text(
        t._("Done. I will write to you in {language}.", language=native_name(code)),
        reply_markup=main_menu(t),
    )


async def quarter_command(update: Update, context: BotContext) -> None:
    """/quarter [id]: change directly, or show the picker."""
    message = message_of(update)
    quarter_id = " ".join(context.args or ()).strip()
    if not quarter_id:
        await ask_quarter(message, context)
        return
    config = context.repos.config
    quarter = config.find_quarter(quarter_id)
    if quarter is None:
        await message.reply_text(
            unknown_quarter_text(context, quarter_id),
            reply_markup=quarter_keyboard(config.quarters, "quarter"),
        )
        return
    await apply_quarter(update, context, quarter, message)


async def quarter_chosen(update: Update, context: BotContext) -> None:
    """A quarter button was pressed."""
    query = update.callback_query
    quarter = await quarter_from_button(update, context, "quarter")
    if quarter is not None and query is not None and isinstance(query.message, Message):
        await edit_text(query, context.t._("Quarter: {quarter}", quarter=quarter.name))
        await apply_quarter(update, context, quarter, query.message)


async def apply_quarter(
    update: Update, context: BotContext, quarter: Quarter, message: Message
) -> None:
    """Store the home quarter, then continue onboarding or confirm."""
    repos = context.repos
    user = user_of(update)
    await repos.residents.set_quarter(user.id, quarter.id)
    before = context.resident
    t = context.t
    if before is None or before.language is None:
        # Someone used /quarter before /start: the language question is still open.
        context.resident = await repos.residents.get(user.id)
        await ask_language(message, context, t._("Please choose your language."))
        return
    if not before.onboarded:
        await send_welcome(message, context, quarter)
        return
    await message.reply_text(
        t._("Your quarter is now {quarter}.", quarter=quarter.name), reply_markup=main_menu(t)
    )
    if quarter.id not in await repos.subscriptions.quarters_of(user.id):
        # A new home quarter: its news are offered, not switched on behind the resident's back.
        await offer_news(message, t, quarter)


def register(app: QuartierApplication) -> None:
    """Install /start, /language, /quarter, their buttons and menu entries."""
    catalogs = app.repos.catalogs
    app.add_handler(CommandHandler("start", start, filters=PRIVATE))
    app.add_handler(CommandHandler("language", language_command, filters=PRIVATE))
    app.add_handler(CommandHandler("quarter", quarter_command, filters=PRIVATE))
    app.add_handler(
        MessageHandler(
            PRIVATE & filters.Text(catalogs.all_translations(MENU_LANGUAGE)), language_command
        )
    )
    app.add_handler(
        MessageHandler(
            PRIVATE & filters.Text(catalogs.all_translations(MENU_QUARTER)), quarter_command
        )
    )
    app.add_handler(CallbackQueryHandler(language_chosen, pattern=r"^lang:"))
    app.add_handler(CallbackQueryHandler(quarter_chosen, pattern=r"^quarter:"))
