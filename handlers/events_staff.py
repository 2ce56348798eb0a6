"""Staff create, edit and cancel events: /event_new, /event_edit <id>, /event_cancel <id>.

The conversation is a staff draft in SQLite (like the residents' concern drafts), so a restart
in the middle of typing an event loses nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.concerns import quarter_name, topic_label
from bot.context import BotContext, QuartierApplication
from bot.events import (
    EventInputError,
    parse_capacity,
    parse_end,
    parse_when,
    render_event,
    validate_description,
    validate_place,
    validate_title,
)
from bot.i18n import Translator, shorten
from handlers.common import PRIVATE, audit_denied, edit_text, message_of, parse_id, user_of
from storage.drafts import StaffDraft
from storage.events import Event, EventCounts, EventError, EventInput

# The order of questions; optional ones offer a "Skip" button.
STEPS = ("quarter", "title", "start", "end", "place", "description", "capacity", "topic", "preview")
OPTIONAL = frozenset({"end", "description", "capacity", "topic"})
EDITABLE = ("title", "start", "end", "place", "description", "capacity", "topic")


def question(step: str, t: Translator) -> str:
    """What to ask at a step."""
    questions = {
        "quarter": t._("For which quarter is the event?"),
        "title": t._("What is the event called?"),
        "start": t._(
            "When does it start? Write the date and time, for example {example}.",
            example="2026-12-05 15:00",
        ),
        "end": t._("When does it end? Write a time (17:00) or a date and time, or skip."),
        "place": t._("Where does it take place?"),
        "description": t._("A short description (or skip)."),
        "capacity": t._("How many people can come at most? Write a number, or skip for no limit."),
        "topic": t._("Which topic fits the event? Residents who chose topics get it by topic."),
    }
    return questions[step]


def skip_button(t: Translator) -> InlineKeyboardButton:
    """Skip an optional question."""
    return InlineKeyboardButton(t._("⏭ Skip"), callback_data="evf:skip")


def cancel_button(t: Translator) -> InlineKeyboardButton:
    """Abandon the draft."""
    return InlineKeyboardButton(t._("✖️ Cancel"), callback_data="evf:cancel")


async def ask(message: Message, context: BotContext, draft: StaffDraft) -> None:
    """Ask the draft's current question, or show the preview."""
    t = context.t
    step = draft.step
    if step == "preview":
        await show_preview(message, context, draft)
        return
    rows: list[list[InlineKeyboardButton]] = []
    if step == "quarter":
        allowed = await context.repos.staff.quarters_of(draft.user_id)
        rows += [
            [InlineKeyboardButton(q.name, callback_data=f"evq:{q.id}")]
            for q in context.repos.config.quarters
            if q.id in allowed
        ]
    if step == "topic":
        config = context.repos.config
        buttons = [
            InlineKeyboardButton(
                topic.label(t, config.default_language), callback_data=f"evt:{topic.id}"
            )
            for topic in config.topics
        ]
        rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([skip_button(t), cancel_button(t)] if step in OPTIONAL else [cancel_button(t)])
    await message.reply_text(question(step, t), reply_markup=InlineKeyboardMarkup(rows))


#: Events longer than this are confirmed before they are taken.
LONG_EVENT = timedelta(days=1)


async def confirm_long_event(
    message: Message, context: BotContext, start: datetime, end: datetime
) -> None:
    """Ask whether an event really lasts more than a day."""
    t = context.t
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t._("Yes, it lasts that long"), callback_data="evf:longok")],
            [InlineKeyboardButton(t._("No, change the end"), callback_data="evf:reend")],
        ]
    )
    await message.reply_text(
        t._(
            "This event would last {span}, until {end}. Is that right?",
            span=t.fmt_hours((end - start).total_seconds() / 3600),
            end=t.fmt_datetime(end),
        ),
        reply_markup=keyboard,
    )


def next_step(draft: StaffDraft) -> str:
    """The question after the current one (back to the preview while editing one field)."""
    if draft.kind == "event_edit" or draft.data.get("editing"):
        return "preview"
    return STEPS[STEPS.index(draft.step) + 1]


def event_input(data: dict[str, Any]) -> EventInput:
    """The draft's data as repository input."""
    ends = data.get("ends_at")
    return EventInput(
        quarter_id=str(data["quarter_id"]),
        title=str(data["title"]),
        starts_at=datetime.fromisoformat(str(data["starts_at"])),
        ends_at=datetime.fromisoformat(str(ends)) if ends else None,
        place=str(data["place"]),
        description=str(data.get("description") or ""),
        capacity=int(data["capacity"]) if data.get("capacity") else None,
        topic_id=str(data["topic_id"]) if data.get("topic_id") else None,
    )


def preview_event(data: dict[str, Any], now: datetime) -> Event:
    """An unsaved Event for rendering the preview exactly as residents will see it."""
    entered = event_input(data)
    return Event(
        id=int(data.get("event_id") or 0),
        quarter_id=entered.quarter_id,
        title=entered.title,
        starts_at=entered.starts_at,
        ends_at=entered.ends_at,
        place=entered.place,
        description=entered.description,
        capacity=entered.capacity,
        topic_id=entered.topic_id,
        created_by=0,
        created_at=now,
        updated_at=now,
        cancelled_at=None,
    )


async def show_preview(message: Message, context: BotContext, draft: StaffDraft) -> None:
    """The event card as residents will see it, with Save / Change / Cancel."""
    t = context.t
    repos = context.repos
    event = preview_event(draft.data, repos.now())
    counts = await repos.events.counts(event.id) if event.id else EventCounts(going=0, waiting=0)
    topic = topic_label(event.topic_id, repos.config, t) if event.topic_id else None
    card = render_event(
        event, t, quarter_name(event.quarter_id, repos.config), topic, counts, event.capacity
    )
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t._("💾 Save"), callback_data="evf:save")],
            [
                InlineKeyboardButton(t._("✏️ Change"), callback_data="evf:change"),
                cancel_button(t),
            ],
        ]
    )
    await message.reply_text(t._("Preview:") + "\n\n" + card, reply_markup=keyboard)


async def staff_quarters_or_refuse(
    update: Update, context: BotContext, action: str
) -> frozenset[str]:
    """The user's quarters; refuses (audited) and returns nothing for non-staff."""
    user = user_of(update)
    quarters = await context.repos.staff.quarters_of(user.id)
    if not quarters:
        await audit_denied(context, user.id, action)
        await message_of(update).reply_text(context.t._("Sorry, this command is only for staff."))
    return quarters


async def event_new(update: Update, context: BotContext) -> None:
    """/event_new: start the guided creation."""
    quarters = await staff_quarters_or_refuse(update, context, "event.create")
    if not quarters:
        return
    user = user_of(update)
    data: dict[str, Any] = {}
    step = "quarter"
    if len(quarters) == 1:
        data["quarter_id"] = next(iter(quarters))
        step = "title"
    draft = await context.repos.staff_drafts.save(user.id, "event", step, data)
    await ask(message_of(update), context, draft)


async def editable_event(update: Update, context: BotContext, action: str) -> Event | None:
    """The event named by the command argument, if this staff member may change it."""
    t = context.t
    quarters = await staff_quarters_or_refuse(update, context, action)
    if not quarters:
        return None
    raw = (context.args[0] if context.args else "").lstrip("#")
    if not raw:
        await offer_events(update, context, quarters, action)
        return None
    event_id = parse_id(raw)
    event = await context.repos.events.get(event_id) if event_id is not None else None
    if event is None:
        await message_of(update).reply_text(
            t._("There is no event with the number “{number}”.", number=raw[:12])
        )
        return None
    if event.quarter_id not in quarters:
        await audit_denied(context, user_of(update).id, action, f"event:{event.id}")
        await message_of(update).reply_text(t._("You are not responsible for this quarter."))
        return None
    if event.is_cancelled:
        await message_of(update).reply_text(t._("This event has already been cancelled."))
        return None
    return event


async def offer_events(
    update: Update, context: BotContext, quarters: frozenset[str], action: str
) -> None:
    """Without a number: the coming events of the officer's quarters, one button each."""
    t = context.t
    repos = context.repos
    events = await repos.events.upcoming(quarters, repos.now(), limit=20)
    if not events:
        await message_of(update).reply_text(t._("There are no coming events."))
        return
    verb = "edit" if action == "event.update" else "cancel"
    rows = [
        [
            InlineKeyboardButton(
                f"#{event.id} · {t.fmt_date(event.starts_at)} · {shorten(event.title, 40)}",
                callback_data=f"evpick:{verb}:{event.id}",
            )
        ]
        for event in events
    ]
    question = t._("Which event?")
    await message_of(update).reply_text(question, reply_markup=InlineKeyboardMarkup(rows))


async def event_picked(update: Update, context: BotContext) -> None:
    """An event chosen from the list: as /event_edit <id> or /event_cancel <id> would."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, verb, raw = [*query.data.split(":"), "", ""][:3]
    await query.answer()
    context.args = [raw]
    if verb == "edit":
        await event_edit(update, context)
    elif verb == "cancel":
        await event_cancel(update, context)


async def event_edit(update: Update, context: BotContext) -> None:
    """/event_edit <id>: choose a field, change it, preview, save."""
    event = await editable_event(update, context, "event.update")
    if event is None:
        return
    data = {
        "event_id": event.id,
        "quarter_id": event.quarter_id,
        "title": event.title,
        "starts_at": event.starts_at.isoformat(),
        "ends_at": event.ends_at.isoformat() if event.ends_at else None,
        "place": event.place,
        "description": event.description,
        "capacity": event.capacity,
        "topic_id": event.topic_id,
    }
    draft = await context.repos.staff_drafts.save(user_of(update).id, "event_edit", "preview", data)
    await ask_what_to_change(message_of(update), context, draft)


async def ask_what_to_change(message: Message, context: BotContext, draft: StaffDraft) -> None:
    """Buttons for the fields that can change."""
    t = context.t
    labels = {
        "title": t._("Title"),
        "start": t._("Start"),
        "end": t._("End"),
        "place": t._("Place"),
        "description": t._("Description"),
        "capacity": t._("Places"),
        "topic": t._("Topic"),
    }
    buttons = [InlineKeyboardButton(labels[f], callback_data=f"evc:{f}") for f in EDITABLE]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([InlineKeyboardButton(t._("↩️ Back to the preview"), callback_data="evf:preview")])
    await message.reply_text(
        t._("What would you like to change?"), reply_markup=InlineKeyboardMarkup(rows)
    )


async def take_input(update: Update, context: BotContext, draft: StaffDraft) -> None:
    """A typed answer to the current question."""
    message = message_of(update)
    t = context.t
    repos = context.repos
    text = (message.text or "").strip()
    if draft.step not in ("title", "start", "end", "place", "description", "capacity"):
        await message.reply_text(t._("Please choose one of the buttons above."))
        await ask(message, context, draft)
        return
    if not message.text:
        await message.reply_text(t._("Please answer with text."))
        return
    data = dict(draft.data)
    tz = repos.config.timezone
    try:
        if draft.step == "title":
            data["title"] = validate_title(text, t)
        elif draft.step == "start":
            start = parse_when(text, t, tz, repos.now())
            data["starts_at"] = start.isoformat()
            end = data.get("ends_at")
            if end and datetime.fromisoformat(str(end)) <= start:
                data["ends_at"] = None  # an end before the new start would be wrong: ask again
        elif draft.step == "end":
            start = datetime.fromisoformat(str(data["starts_at"]))
            end = parse_end(text, start, t, tz)
            data["ends_at"] = end.isoformat()
            if end - start > LONG_EVENT:
                # More than a day is possible (a festival weekend) but more often a typo.
                await repos.staff_drafts.save(draft.user_id, draft.kind, "end", data)
                await confirm_long_event(message, context, start, end)
                return
        elif draft.step == "place":
            data["place"] = validate_place(text, t)
        elif draft.step == "description":
            data["description"] = validate_description(text, t)
        elif draft.step == "capacity":
            data["capacity"] = parse_capacity(text, t)
    except EventInputError as exc:
        await message.reply_text(str(exc))
        return
    draft = await repos.staff_drafts.save(draft.user_id, draft.kind, next_step(draft), data)
    await ask(message, context, draft)


async def flow_button(update: Update, context: BotContext) -> None:
    """Skip, cancel, save, change, back to preview; quarter, topic and field choices."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    repos = context.repos
    draft = await repos.staff_drafts.get(user.id)
    if draft is None or draft.kind not in ("event", "event_edit"):
        await query.answer(t._("This button is no longer active."), show_alert=True)
        return
    allowed = await repos.staff.quarters_of(user.id)
    if not allowed:
        await audit_denied(context, user.id, "event.create")
        await query.answer(t._("Sorry, this is only for staff."), show_alert=True)
        return
    await query.answer()
    message = query.message if isinstance(query.message, Message) else None
    kind, _, value = query.data.partition(":")
    data = dict(draft.data)
    if query.data == "evf:cancel":
        await repos.staff_drafts.discard(user.id)
        await edit_text(query, t._("Cancelled. Nothing was saved."))
        return
    if query.data == "evf:save":
        await save(update, context, draft)
        return
    if query.data == "evf:longok" and draft.step == "end" and data.get("ends_at"):
        draft = await repos.staff_drafts.save(user.id, draft.kind, next_step(draft), data)
        if message:
            await ask(message, context, draft)
        return
    if query.data == "evf:reend" and draft.step == "end":
        data["ends_at"] = None
        draft = await repos.staff_drafts.save(user.id, draft.kind, "end", data)
        if message:
            await ask(message, context, draft)
        return
    if query.data == "evf:change":
        data["editing"] = True
        await repos.staff_drafts.save(user.id, draft.kind, "preview", data)
        if message:
            await ask_what_to_change(message, context, draft)
        return
    if query.data == "evf:preview":
        draft = await repos.staff_drafts.save(user.id, draft.kind, "preview", data)
    elif query.data == "evf:skip" and draft.step in OPTIONAL:
        data[{"end": "ends_at", "topic": "topic_id"}.get(draft.step, draft.step)] = None
        draft = await repos.staff_drafts.save(user.id, draft.kind, next_step(draft), data)
    elif kind == "evq" and draft.step == "quarter" and value in allowed:
        data["quarter_id"] = value
        draft = await repos.staff_drafts.save(user.id, draft.kind, next_step(draft), data)
    elif kind == "evt" and draft.step == "topic" and value in {x.id for x in repos.config.topics}:
        data["topic_id"] = value
        draft = await repos.staff_drafts.save(user.id, draft.kind, next_step(draft), data)
    elif kind == "evc" and value in EDITABLE:
        data["editing"] = True
        draft = await repos.staff_drafts.save(user.id, draft.kind, value, data)
    else:
        return
    if message:
        await ask(message, context, draft)


async def save(update: Update, context: BotContext, draft: StaffDraft) -> None:
    """Store the event (audited), tell promoted residents, offer to announce a new one."""
    query = update.callback_query
    assert query is not None
    t = context.t
    repos = context.repos
    user = user_of(update)
    data = draft.data
    if str(data.get("quarter_id")) not in await repos.staff.quarters_of(user.id):
        await audit_denied(context, user.id, "event.create", str(data.get("quarter_id")))
        await edit_text(query, t._("You are not responsible for this quarter."))
        return
    entered = event_input(data)
    if entered.starts_at <= repos.now():
        await edit_text(query, t._("The start is in the past now. Please change it."))
        return
    try:
        if draft.kind == "event_edit":
            event, promoted = await repos.events.update(user.id, int(data["event_id"]), entered)
        else:
            event, promoted = await repos.events.create(user.id, entered), []
    except EventError as exc:
        if exc.code == "capacity_below_rsvps":
            counts = await repos.events.counts(int(data["event_id"]))
            await edit_text(
                query,
                t._n(
                    "{count} person has already registered: the number of places cannot be lower.",
                    "{count} people have already registered: the number of places cannot be lower.",
                    counts.going,
                    count=counts.going,
                ),
            )
        else:
            await edit_text(query, t._("This event cannot be changed any more."))
        return
    await repos.staff_drafts.discard(user.id)
    if promoted:
        context.outbox.wake()  # residents moved up are told through the outbox
    keyboard = None
    # Announcing to nobody would be a broadcast that reaches no one: not offered.
    audience = await repos.broadcasts.count_recipients([event.quarter_id], event.topic_id, None)
    if draft.kind == "event" and audience:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t._("📣 Announce now"), callback_data=f"evann:{event.id}")]]
        )
    await edit_text(
        query,
        t._(
            "Saved as event #{number}. Change it with /event_edit {number}, cancel it with "
            "/event_cancel {number}.",
            number=event.id,
        ),
        reply_markup=keyboard,
    )


async def event_cancel(update: Update, context: BotContext) -> None:
    """/event_cancel <id>: asks for confirmation."""
    event = await editable_event(update, context, "event.cancel")
    if event is None:
        return
    t = context.t
    counts = await context.repos.events.counts(event.id)
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t._("Yes, cancel the event"), callback_data=f"evx:{event.id}")],
            [InlineKeyboardButton(t._("No, keep it"), callback_data="evx:keep")],
        ]
    )
    await message_of(update).reply_text(
        t._n(
            "Cancel “{title}”? {count} registered person will be told.",
            "Cancel “{title}”? {count} registered people will be told.",
            counts.going + counts.waiting,
            title=event.title,
            count=counts.going + counts.waiting,
        ),
        reply_markup=keyboard,
    )


async def cancel_confirmed(update: Update, context: BotContext) -> None:
    """Confirmation of /event_cancel; authorised again, as buttons can be forged."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    repos = context.repos
    raw = query.data.removeprefix("evx:")
    if raw == "keep":
        await query.answer()
        await edit_text(query, t._("The event stays."))
        return
    event_id = parse_id(raw)
    event = await repos.events.get(event_id) if event_id is not None else None
    if event is None or event.quarter_id not in await repos.staff.quarters_of(user.id):
        await audit_denied(context, user.id, "event.cancel", f"event:{raw[:12]}")
        await query.answer(t._("Sorry, this is only for staff."), show_alert=True)
        return
    await query.answer()
    to_tell = await repos.events.cancel(user.id, event.id)
    # Committed with the cancellation; the outbox tells each of them in their language.
    context.outbox.wake()
    await edit_text(
        query,
        t._n(
            "Cancelled. {count} person was told.",
            "Cancelled. {count} people were told.",
            len(to_tell),
            count=len(to_tell),
        ),
    )


def register(app: QuartierApplication) -> None:
    """Install the staff event commands and their buttons."""
    app.staff_input["event"] = take_input
    app.staff_input["event_edit"] = take_input
    app.add_handler(CommandHandler("event_new", event_new, filters=PRIVATE))
    app.add_handler(CommandHandler("event_edit", event_edit, filters=PRIVATE))
    app.add_handler(CommandHandler("event_cancel", event_cancel, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(flow_button, pattern=r"^(evf|evq|evt|evc):"))
    app.add_handler(CallbackQueryHandler(cancel_confirmed, pattern=r"^evx:"))
    app.add_handler(CallbackQueryHandler(event_picked, pattern=r"^evpick:(edit|cancel):"))
