"""Residents and events: /events with RSVP and waiting list, calendar files, deep links."""

from __future__ import annotations

import io

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.concerns import quarter_name
from bot.context import BotContext, QuartierApplication
from bot.events import (
    build_ics,
    event_for_reader,
    events_for_reader,
    machine_label,
    original_text,
    render_event_list,
)
from bot.i18n import Translator, shorten
from bot.menu import MENU_EVENTS
from handlers.common import (
    EVENT_LIST,
    PRIVATE,
    edit_text,
    event_card,
    message_of,
    parse_id,
    user_of,
)
from storage.events import Event, EventCounts, EventError

EVENTS_SHOWN = 8


#: Characters of an event title on its button in the list (Telegram cuts longer labels anyway).
BUTTON_TITLE = 40


async def event_list(
    context: BotContext, events: tuple[tuple[Event, EventCounts, str | None], ...]
) -> tuple[str, InlineKeyboardMarkup]:
    """Several coming events as one message, with one button per event that opens its card."""
    t = context.t
    readers = await events_for_reader(context.repos, [event for event, _, _ in events], t.language)
    shown = [reader.event for reader in readers]
    translated = any(reader.title_source for reader in readers)
    states = [state for _, _, state in events]
    text = render_event_list(list(zip(shown, states, strict=True)), t, translated)
    rows = [
        [
            InlineKeyboardButton(
                f"{number}. {shorten(event.title, BUTTON_TITLE)}",
                callback_data=f"ev:show:{event.id}",
            )
        ]
        for number, event in enumerate(shown, start=1)
    ]
    return text, InlineKeyboardMarkup(rows)


def opened_from_list(query: CallbackQuery) -> bool:
    """Was the pressed card opened from the event list (it has the button back)?"""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return False
    return any(b.callback_data == EVENT_LIST for row in markup.inline_keyboard for b in row)


async def resident_quarters(context: BotContext) -> set[str]:
    """Home quarter and followed quarters."""
    resident = context.resident
    if resident is None:
        return set()
    quarters = set(await context.repos.subscriptions.quarters_of(resident.user_id))
    if resident.quarter_id:
        quarters.add(resident.quarter_id)
    return quarters & set(context.repos.config.quarter_ids)


async def events_command(update: Update, context: BotContext) -> None:
    """Upcoming events of the resident's quarters, one message each with its buttons."""
    message = message_of(update)
    user = user_of(update)
    t = context.t
    repos = context.repos
    quarters = await resident_quarters(context)
    if not quarters:
        await message.reply_text(t._("Please send /start first and choose your quarter."))
        return
    events = await repos.events.upcoming_for(user.id, quarters, repos.now(), EVENTS_SHOWN)
    if not events:
        await message.reply_text(no_events_text(t))
        return
    if len(events) == 1:
        event, counts, state = events[0]
        text, keyboard = await event_card(context, event, user.id, (counts, state))
    else:
        text, keyboard = await event_list(context, tuple(events))
    await message.reply_text(text, reply_markup=keyboard)


def no_events_text(t: Translator) -> str:
    """What /events says when nothing is coming."""
    return t._(
        "There are no upcoming events in your quarters at the moment. "
        "Send /subscribe to get news about new events."
    )


async def show_list(update: Update, context: BotContext) -> None:
    """'All events' under a card: the card becomes the list again (fresh counts and RSVPs)."""
    query = update.callback_query
    assert query is not None
    user = user_of(update)
    repos = context.repos
    events = await repos.events.upcoming_for(
        user.id, await resident_quarters(context), repos.now(), EVENTS_SHOWN
    )
    await query.answer()
    if not events:
        await edit_text(query, no_events_text(context.t))
    elif len(events) == 1:
        event, counts, state = events[0]
        await edit_text(query, *await event_card(context, event, user.id, (counts, state)))
    else:
        await edit_text(query, *await event_list(context, tuple(events)))


async def event_button(update: Update, context: BotContext) -> None:
    """I'll come / I can't come any more / Add to calendar."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    repos = context.repos
    _, action, raw_id = [*query.data.split(":"), "", ""][:3]
    if action == "list":
        await show_list(update, context)
        return
    event_id = parse_id(raw_id)
    event = await repos.events.get(event_id) if event_id is not None else None
    if event is None or action not in ("go", "no", "nox", "ics", "show", "orig"):
        await query.answer(t._("This event does not exist any more."), show_alert=True)
        return
    if action == "ics":
        await query.answer()
        await send_calendar_file(update, context, event)
        return
    if action == "orig":
        await query.answer()
        chat = update.effective_chat
        if chat is not None:
            await context.bot.send_message(chat.id, original_text(event, t))
        return
    if action == "show":
        await query.answer()
        await edit_text(query, *await event_card(context, event, user.id, back_to_list=True))
        return
    if action == "no":
        # A place given up may go to someone waiting at once: asked first, not undone later.
        await query.answer()
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t._("Yes, I can't come"), callback_data=f"ev:nox:{event.id}"
                    )
                ],
                [
                    InlineKeyboardButton(
                        t._("No, I'll still come"), callback_data=f"ev:show:{event.id}"
                    )
                ],
            ]
        )
        await edit_text(
            query,
            t._(
                "Give up your place for “{title}”? Someone on the waiting list may get it.",
                title=event.title,
            ),
            reply_markup=keyboard,
        )
        return
    if action == "go":
        if context.resident is None:
            await query.answer(
                t._("Please send /start first and choose your quarter."), show_alert=True
            )
            return
        try:
            outcome = await repos.events.rsvp(event.id, user.id, repos.now())
        except EventError:
            await query.answer(t._("Registration for this event is closed."), show_alert=True)
            return
        if outcome.state in ("waiting", "already_waiting"):
            await query.answer(
                t._(
                    "The event is fully booked. You are on the waiting list; we tell you when a "
                    "place becomes free."
                ),
                show_alert=True,
            )
        else:
            await query.answer(t._("You are registered. See you there!"))
    else:
        result = await repos.events.cancel_rsvp(event.id, user.id, repos.now())
        await query.answer(t._("Thank you for telling us."))
        if result.promoted_user_id is not None:
            context.outbox.wake()  # the promoted resident is told through the outbox
    text, keyboard = await event_card(context, event, user.id, back_to_list=opened_from_list(query))
    await edit_text(query, text, reply_markup=keyboard)


async def send_calendar_file(update: Update, context: BotContext, event: Event) -> None:
    """The event as an .ics file for the phone's calendar."""
    repos = context.repos
    t = context.t
    reader = await event_for_reader(repos, event, t.language)
    note = ""
    if reader.source_language:
        # A calendar has no button: the original travels in the description.
        note = machine_label(reader.source_language, t) + "\n\n" + original_text(event, t)
    data = build_ics(
        reader.event,
        quarter_name(event.quarter_id, repos.config),
        context.bot.username,
        repos.config.timezone,
        note,
    )
    chat = update.effective_chat
    if chat is None:
        return
    await context.bot.send_document(
        chat.id,
        io.BytesIO(data),
        filename=f"event-{event.id}.ics",
        caption=t._("Open the file to add “{title}” to your calendar.", title=reader.event.title),
    )


def register(app: QuartierApplication) -> None:
    """Install /events, its menu button and the event buttons."""
    catalogs = app.repos.catalogs
    app.add_handler(CommandHandler("events", events_command, filters=PRIVATE))
    app.add_handler(
        MessageHandler(
            PRIVATE & filters.Text(catalogs.all_translations(MENU_EVENTS)), events_command
        )
    )
    app.add_handler(CallbackQueryHandler(event_button, pattern=r"^ev:"))
