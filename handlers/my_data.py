"""The resident's own data: /myconcerns, /mydata (download) and /deleteme (erasure)."""

from __future__ import annotations

import html
import io
import json
from typing import Any

from telegram import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.concerns import redact_staff_posts, status_label, topic_label
from bot.context import BotContext, QuartierApplication
from bot.i18n import Translator, bold, native_name
from bot.menu import MENU_MY_CONCERNS
from handlers.common import (
    PRIVATE,
    edit_text,
    message_of,
    parse_id,
    send_resident_page,
    user_of,
)
from storage.concerns import Concern, Voice
from storage.db import to_db_time

#: Concerns /myconcerns lists: one Telegram message holds 4,096 characters, about 80 lines.
LISTED_CONCERNS = 20


async def my_concerns(update: Update, context: BotContext) -> None:
    """List the resident's concerns with reference, topic, date and status."""
    t = context.t
    repos = context.repos
    concerns, total = await repos.concerns.summaries(user_of(update).id, LISTED_CONCERNS)
    if not concerns:
        await message_of(update).reply_text(
            t._("You have not sent any concerns yet. Send /concern to report one.")
        )
        return
    lines = [bold(t._("Your concerns"))]
    for concern in concerns:
        lines.append(
            html.escape(
                t._(
                    "{reference} · {topic} · {date} · {status}",
                    reference=concern.reference,
                    topic=topic_label(concern.topic_id, repos.config, t),
                    date=t.fmt_short_date(concern.created_at.astimezone(t.tz).date()),
                    status=status_label(concern.status, t),
                )
            )
        )
    older = total - len(concerns)
    if older > 0:
        lines.append(
            t._n(
                "… and {count} older concern.",
                "… and {count} older concerns.",
                older,
                count=t.fmt_number(older),
            )
        )
    # Each opens the concern's page: the whole thread, and a way to add information.
    buttons = [
        InlineKeyboardButton(concern.reference, callback_data=f"mypage:{concern.reference}")
        for concern in concerns
    ]
    keyboard = InlineKeyboardMarkup([buttons[i : i + 4] for i in range(0, len(buttons), 4)])
    await message_of(update).reply_text(
        "\n".join(lines), parse_mode=ParseMode.HTML, reply_markup=keyboard
    )


#: Page buttons that name a concern by id: add information, withdraw (ask, yes, no).
PAGE_ACTIONS = ("add", "wd", "wdy", "wdn")


async def page_button(update: Update, context: BotContext) -> None:
    """A concern from /myconcerns: its page; or a button on it ("Add information", "Withdraw"
    with its confirmation)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    t = context.t
    parts = query.data.split(":")
    repository = context.repos.concerns
    action = parts[1] if len(parts) == 3 and parts[1] in PAGE_ACTIONS else None
    if action is not None:
        concern_id = parse_id(parts[2])
        concern = await repository.get(concern_id) if concern_id is not None else None
    else:
        concern = await repository.by_reference(parts[1][:20])
    # Only the resident's own concerns, and only while they are theirs (not anonymised).
    if concern is None or concern.resident_id != user_of(update).id:
        await query.answer(t._("This button is no longer active."), show_alert=True)
        return
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if action == "add":
        prompt = await query.message.reply_text(
            t._(
                "Write what you would like to add to {reference}, or send a voice message, a "
                "photo or a location.",
                reference=concern.reference,
            ),
            reply_markup=ForceReply(selective=True),
        )
        # The answer is a Telegram reply to this prompt: it joins the concern's thread.
        await context.repos.concerns.link(prompt.chat_id, prompt.message_id, concern.id)
    elif action in ("wd", "wdy", "wdn"):
        await withdraw_step(query, context, concern, action, user_of(update).id)
    else:
        await send_resident_page(query.message, context, concern)


async def withdraw_step(
    query: CallbackQuery, context: BotContext, concern: Concern, action: str, user_id: int
) -> None:
    """ "↩️ Withdraw" asks first; "Yes" closes the concern and tells the office, "No" keeps it.
    A concern closed meanwhile (a page or question left open for a while) is said to be."""
    t = context.t
    assert isinstance(query.message, Message)
    if concern.is_closed:
        closed = already_closed(concern, t)
        if action == "wd":
            await query.message.reply_text(closed)
        else:
            await edit_text(query, closed)
        return
    if action == "wd":
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t._("Yes, withdraw it"), callback_data=f"mypage:wdy:{concern.id}"
                    ),
                    InlineKeyboardButton(
                        t._("No, keep it"), callback_data=f"mypage:wdn:{concern.id}"
                    ),
                ]
            ]
        )
        await query.message.reply_text(
            t._(
                "Withdraw {reference}? The office stops working on it and is told so. You can "
                "still read it here, but not reopen it yourself.",
                reference=concern.reference,
            ),
            reply_markup=keyboard,
        )
        return
    if action == "wdn":
        await edit_text(query, t._("{reference} stays open.", reference=concern.reference))
        return
    staff_chat = context.repos.config.staff_group_for(concern.quarter_id)
    if await context.repos.concerns.withdraw(concern, user_id, staff_chat):
        context.outbox.wake()  # the staff group's notice was committed with the withdrawal
        await edit_text(
            query,
            t._(
                "{reference} is withdrawn. Thank you for letting the office know.",
                reference=concern.reference,
            ),
        )
        return
    # Closed by the office between the read above and the (conditional) write.
    current = await context.repos.concerns.get(concern.id)
    await edit_text(query, already_closed(current or concern, t))


def already_closed(concern: Concern, t: Translator) -> str:
    """'BV-0001 is already closed (“done”); nothing was changed.'"""
    return t._(
        "{reference} is already closed (“{status}”); nothing was changed.",
        reference=concern.reference,
        status=status_label(concern.status, t),
    )


async def my_data(update: Update, context: BotContext) -> None:
    """Send one JSON document with everything stored about the resident."""
    user = user_of(update)
    t = context.t
    document = await collect_personal_data(context, user.id)
    payload = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    await message_of(update).reply_document(
        io.BytesIO(payload),
        filename="quartierbot-my-data.json",
        caption=t._("This is everything the bot stores about you."),
    )


async def collect_personal_data(context: BotContext, user_id: int) -> dict[str, Any]:
    """Profile, subscriptions, drafts and concerns with their threads."""
    repos = context.repos
    resident = await repos.residents.get(user_id)
    profile: dict[str, Any] | None = None
    if resident is not None:
        profile = {
            "telegram_user_id": resident.user_id,
            "language": resident.language,
            "language_name": native_name(resident.language) if resident.language else None,
            "home_quarter": resident.quarter_id,
            "first_seen": to_db_time(resident.first_seen),
            "last_seen": to_db_time(resident.last_seen),
            "privacy_consent": to_db_time(resident.consent_at) if resident.consent_at else None,
            "unreachable_since": (
                to_db_time(resident.inactive_since) if resident.inactive_since else None
            ),
        }
    draft = await repos.concerns.draft(user_id)
    concerns = []
    for concern in await repos.concerns.for_resident(user_id):
        events = await repos.concerns.events(concern.id)
        concerns.append(
            {
                "reference": concern.reference,
                "kind": concern.kind,
                "quarter": concern.quarter_id,
                "topic": concern.topic_id,
                "status": concern.status,
                "created_at": to_db_time(concern.created_at),
                "status_changed_at": to_db_time(concern.status_changed_at),
                "language": concern.language,
                "text": concern.text,
                "photo_telegram_file_id": concern.photo_file_id,
                "voice_message": voice_record(concern.voice, concern.transcribed),
                "location": (
                    {"latitude": concern.latitude, "longitude": concern.longitude}
                    if concern.latitude is not None
                    else None
                ),
                "staff_may_contact_you": concern.contact_allowed,
                # Internal notes are included: they are data about the resident's concern too.
                "thread": [
                    {
                        "kind": event.kind,
                        "text": event.text,
                        "status": event.status,
                        "voice_message": voice_record(event.voice, event.transcribed),
                        "photo_telegram_file_id": event.photo_file_id,
                        "location": (
                            {"latitude": event.latitude, "longitude": event.longitude}
                            if event.latitude is not None
                            else None
                        ),
                        "at": to_db_time(event.created_at),
                    }
                    for event in events
                ],
            }
        )
    rsvps = []
    for event_id, state in await repos.events.rsvps_of(user_id):
        event = await repos.events.get(event_id)
        rsvps.append(
            {
                "event": event.title if event else event_id,
                "starts_at": to_db_time(event.starts_at) if event else None,
                "state": state,
            }
        )
    return {
        "about": context.t._("This is everything the bot stores about you."),
        "profile": profile,
        "subscriptions": sorted(await repos.subscriptions.quarters_of(user_id)),
        "topics": sorted(await repos.subscriptions.topics_of(user_id)) or "all",
        "event_registrations": rsvps,
        # Every stored row about them, table by table, exactly as stored: complete by
        # construction (storage.privacy.PERSONAL_TABLES; tests/test_privacy.py walks the schema).
        "all_records": await repos.privacy.rows_about(user_id),
        # Messages about their concerns and events that Telegram has not taken yet.
        "messages_waiting_for_you": [
            {"kind": message.kind, "since": to_db_time(message.created_at)}
            for message in await repos.outbox.for_chat(user_id)
        ],
        "concern_draft": (
            {
                "step": draft.step,
                "quarter": draft.quarter_id,
                "topic": draft.topic_id,
                "text": draft.text,
                "photo_telegram_file_id": draft.photo_file_id,
                "voice_message": voice_record(draft.voice, draft.transcribed),
                "location": (
                    {"latitude": draft.latitude, "longitude": draft.longitude}
                    if draft.latitude is not None
                    else None
                ),
            }
            if draft
            else None
        ),
        "concerns": concerns,
    }


def voice_record(voice: Voice | None, transcribed: bool) -> dict[str, object] | None:
    """A voice message as /mydata lists it: Telegram's file id, its length, transcribed or not."""
    if voice is None:
        return None
    return {
        "telegram_file_id": voice.file_id,
        "kind": voice.kind,
        "seconds": voice.seconds,
        "text_is_its_transcript": transcribed,
    }


async def delete_me(update: Update, context: BotContext) -> None:
    """Explain what erasure means and ask for confirmation."""
    t = context.t
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t._("Yes, delete my data"), callback_data="delme:yes")],
            [InlineKeyboardButton(t._("No, keep it"), callback_data="delme:no")],
        ]
    )
    await message_of(update).reply_text(
        t._(
            "This deletes everything the bot stores about you: your language and quarter, your "
            "subscriptions, and the text, photos and locations of your concerns. Your concerns "
            "stay only as numbers for statistics (topic, quarter, date, status), without any link "
            "to you. The quarter office can then no longer answer you. This cannot be undone."
        ),
        reply_markup=keyboard,
    )


async def delete_me_button(update: Update, context: BotContext) -> None:
    """Erase after confirmation; redact the staff-group posts afterwards."""
    query = update.callback_query
    assert query is not None
    t = context.t
    await query.answer()
    if query.data != "delme:yes":
        await edit_text(query, t._("Nothing was deleted."))
        return
    repos = context.repos
    user_id = user_of(update).id
    # Give up event places first, so that the waiting list moves up as with any cancellation.
    for event_id, _ in await repos.events.rsvps_of(user_id):
        await repos.events.cancel_rsvp(event_id, user_id, repos.now())
    context.outbox.wake()  # residents who get a freed place are told through the outbox
    posts = await repos.privacy.erase_resident(user_id)
    # Erased and committed; the translator stays valid for this last answer.
    await edit_text(
        query,
        t._(
            "Done. All your data was deleted. If you write to the bot again, you start as a "
            "new user."
        ),
    )
    await redact_staff_posts(context.bot, repos, posts)


def register(app: QuartierApplication) -> None:
    """Install /myconcerns, /mydata and /deleteme."""
    catalogs = app.repos.catalogs
    app.add_handler(CommandHandler("myconcerns", my_concerns, filters=PRIVATE))
    app.add_handler(
        MessageHandler(
            PRIVATE & filters.Text(catalogs.all_translations(MENU_MY_CONCERNS)), my_concerns
        )
    )
    app.add_handler(CommandHandler("mydata", my_data, filters=PRIVATE))
    app.add_handler(CommandHandler("deleteme", delete_me, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(delete_me_button, pattern=r"^delme:(yes|no)$"))
    app.add_handler(
        CallbackQueryHandler(
            page_button, pattern=r"^mypage:((add|wd|wdy|wdn):[0-9]+|[A-Z]{1,4}-[0-9]+)$"
        )
    )
