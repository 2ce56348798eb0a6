"""Staff broadcasts: /broadcast [quarter id|all] → target → content → preview → send or schedule.

The draft lives in SQLite; delivery runs in the background (bot/broadcasts.py), so residents
keep getting answers while thousands of messages go out.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.broadcasts import MAX_CAPTION, MAX_MESSAGE, prepare_event_languages, translate_versions
from bot.context import BotContext, QuartierApplication
from bot.dateparse import example_day, typed_date
from bot.events import EventInputError, parse_when
from bot.i18n import N_, Translator, native_name, utf16_length
from handlers.common import (
    PRIVATE,
    audit_denied,
    edit_text,
    fits_one_message,
    message_of,
    parse_id,
    user_of,
)
from storage.broadcasts import Broadcast
from storage.drafts import StaffDraft
from storage.translations import StoredTranslation, broadcast_subject


def cancel_button(t: Translator) -> InlineKeyboardButton:
    """Abandon the broadcast draft."""
    return InlineKeyboardButton(t._("✖️ Cancel"), callback_data="bcf:cancel")


async def broadcast_command(update: Update, context: BotContext) -> None:
    """/broadcast [quarter id|all]."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    allowed = await repos.staff.quarters_of(user.id)
    if not allowed:
        await audit_denied(context, user.id, "broadcast")
        await message_of(update).reply_text(t._("Sorry, this command is only for staff."))
        return
    argument = (context.args[0] if context.args else "").lower()
    if argument == "all":
        quarters = sorted(allowed)
    elif argument:
        if argument not in allowed:
            await audit_denied(context, user.id, "broadcast", argument[:40])
            await message_of(update).reply_text(t._("You are not responsible for this quarter."))
            return
        quarters = [argument]
    elif len(allowed) == 1:
        quarters = sorted(allowed)
    else:
        quarters = []
    step = "topic" if quarters else "quarters"
    draft = await repos.staff_drafts.save(user.id, "broadcast", step, {"quarters": quarters})
    await ask(message_of(update), context, draft)


async def ask(message: Message, context: BotContext, draft: StaffDraft) -> None:
    """Ask the draft's current question."""
    t = context.t
    repos = context.repos
    rows: list[list[InlineKeyboardButton]] = []
    if draft.step == "quarters":
        text, keyboard = await quarters_question(context, draft)
        await message.reply_text(text, reply_markup=keyboard)
        return
    if draft.step == "topic":
        config = repos.config
        buttons = [
            InlineKeyboardButton(
                topic.label(t, config.default_language), callback_data=f"bct:{topic.id}"
            )
            for topic in config.topics
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        rows.append(
            [InlineKeyboardButton(t._("All topics"), callback_data="bct:*"), cancel_button(t)]
        )
        text = t._("Which topic is it about? Residents who chose topics only get their topics.")
    elif draft.step == "language":
        buttons = [
            InlineKeyboardButton(native_name(code), callback_data=f"bcl:{code}")
            for code in repos.catalogs.offered
        ]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        rows.append(
            [InlineKeyboardButton(t._("All languages"), callback_data="bcl:*"), cancel_button(t)]
        )
        text = t._("Only to residents of one language? (For a message in that language.)")
    elif draft.step == "content":
        rows = [[cancel_button(t)]]
        text = t._(
            "Now send the message as residents should see it: text (bold, italic and links "
            "work) or a photo with a caption."
        )
    elif draft.step == "schedule":
        rows = [[cancel_button(t)]]
        today = repos.now().astimezone(repos.config.timezone).date()
        text = t._(
            "When should it be sent? Write the date and time, for example {example}.",
            example=typed_date(example_day(today), t.locale) + " 09:00",
        )
    else:
        await show_preview(message, context, draft)
        return
    await message.reply_text(text, reply_markup=InlineKeyboardMarkup(rows))


def _mark(chosen: bool) -> str:
    """A toggle's state in front of its label."""
    return "✅ " if chosen else "▫️ "


async def quarters_question(
    context: BotContext, draft: StaffDraft
) -> tuple[str, InlineKeyboardMarkup]:
    """Which quarters: one toggle per quarter of the officer's, all of them, next, cancel."""
    t = context.t
    repos = context.repos
    allowed = await repos.staff.quarters_of(draft.user_id)
    chosen = set(draft.data.get("quarters", []))
    rows = [
        [
            InlineKeyboardButton(
                ("✅ " if q.id in chosen else "▫️ ") + q.name, callback_data=f"bcq:{q.id}"
            )
        ]
        for q in repos.config.quarters
        if q.id in allowed
    ]
    rows.append([InlineKeyboardButton(t._("All my quarters"), callback_data="bcq:*")])
    rows.append([InlineKeyboardButton(t._("➡️ Next"), callback_data="bcf:next"), cancel_button(t)])
    return t._("To which quarters? Their subscribers get the message."), InlineKeyboardMarkup(rows)


async def recipients(context: BotContext, data: dict[str, Any]) -> int:
    """How many residents the draft would reach right now."""
    return await context.repos.broadcasts.count_recipients(
        list(data.get("quarters", [])), data.get("topic_id"), data.get("language")
    )


#: What the preview says about one language's version (staff read it in their language).
VERSION_NOTES = {
    "machine": N_("🌐 Machine translation: check it, or replace it with your own text."),
    "officer": N_("✍️ Your own version."),
    "unavailable": N_("⚠️ Translation unavailable: these residents get the original."),
    "formatting": N_("⚠️ The translation lost the formatting: these residents get the original."),
    "too_long": N_(
        "⚠️ The translation is too long for one message: these residents get the original."
    ),
}


async def language_versions(context: BotContext, draft: StaffDraft) -> StaffDraft:
    """Machine versions for every audience language that has none yet (one call each)."""
    repos = context.repos
    data = dict(draft.data)
    text = str(data.get("text") or "")
    if not repos.translation.enabled or not text:
        return draft
    audience = await repos.broadcasts.recipients_by_language(
        list(data.get("quarters", [])), data.get("topic_id"), data.get("language")
    )
    versions: dict[str, Any] = dict(data.get("versions") or {})
    # Unavailable before (an outage): worth asking again on the next preview.
    missing = [
        language
        for language in audience
        if language and versions.get(language, {}).get("kind", "unavailable") == "unavailable"
    ]
    if not missing:
        return draft
    limit = MAX_CAPTION if data.get("photo") else MAX_MESSAGE
    answered = await translate_versions(repos, text, missing, limit)
    for language, version in answered.items():
        versions[language] = {
            "text": version.text,
            "kind": version.kind,
            "source": version.source_language,
        }
    for language in missing:
        if language not in answered:
            versions[language] = {"kind": "same"}  # written in it already
    data["versions"] = versions
    return await repos.staff_drafts.save(draft.user_id, "broadcast", draft.step, data)


async def show_versions(message: Message, context: BotContext, draft: StaffDraft) -> None:
    """Per audience language: how many residents, and the version they get, with 'Replace'."""
    t = context.t
    data = draft.data
    versions: dict[str, Any] = data.get("versions") or {}
    if not versions:
        return
    audience = await context.repos.broadcasts.recipients_by_language(
        list(data.get("quarters", [])), data.get("topic_id"), data.get("language")
    )
    for language, count in audience.items():
        version = versions.get(language)
        if not language or version is None or version["kind"] == "same":
            continue
        name = t.language_name(language)
        lines = [
            "<b>"
            + html.escape(
                t._n(
                    "{language}: {count} resident",
                    "{language}: {count} residents",
                    count,
                    language=name[:1].upper() + name[1:],  # "Türkisch", "Турецкий"
                    count=t.fmt_number(count),
                )
            )
            + "</b>",
            html.escape(t._(VERSION_NOTES[version["kind"]])),
        ]
        button = InlineKeyboardButton(
            t._("✏️ Replace the {language} version", language=name),
            callback_data=f"bcv:{language}",
        )
        version_text = str(version.get("text") or "")
        combined = "\n".join([*lines, "", version_text]) if version_text else "\n".join(lines)
        if version_text and not fits_one_message(combined):
            # A version near Telegram's limit comes alone, its heading and button after it.
            await message.reply_text(version_text, parse_mode=ParseMode.HTML)
            combined = "\n".join(lines)
        await message.reply_text(
            combined, parse_mode=ParseMode.HTML, reply_markup=InlineKeyboardMarkup([[button]])
        )


async def show_preview(message: Message, context: BotContext, draft: StaffDraft) -> None:
    """The message exactly as residents will see it, then the recipient count and the choices."""
    t = context.t
    draft = await language_versions(context, draft)
    data = draft.data
    if data.get("photo"):
        await message.reply_photo(
            data["photo"], caption=data.get("text") or None, parse_mode=ParseMode.HTML
        )
    else:
        await message.reply_text(str(data.get("text", "")), parse_mode=ParseMode.HTML)
    await show_versions(message, context, draft)
    count = await recipients(context, data)
    if not count:
        # Sending to nobody is not offered: say why, and let the officer start again.
        await message.reply_text(
            t._(
                "Nobody would get this message: no resident follows these quarters with this "
                "topic and language yet. Nothing was sent."
            ),
            reply_markup=InlineKeyboardMarkup([[cancel_button(t)]]),
        )
        return
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t._("📣 Send now"), callback_data="bcf:now")],
            [
                InlineKeyboardButton(t._("🕒 Schedule"), callback_data="bcf:schedule"),
                cancel_button(t),
            ],
        ]
    )
    await message.reply_text(
        t._n(
            "This is the preview. It goes to {count} resident.",
            "This is the preview. It goes to {count} residents.",
            count,
            count=t.fmt_number(count),
        ),
        reply_markup=keyboard,
    )


async def take_input(update: Update, context: BotContext, draft: StaffDraft) -> None:
    """Typed content or schedule time."""
    message = message_of(update)
    t = context.t
    repos = context.repos
    data = dict(draft.data)
    if draft.step == "content":
        if message.photo:
            caption = message.caption_html or ""
            if utf16_length(message.caption or "") > MAX_CAPTION:
                await message.reply_text(t._("The caption is too long for a photo."))
                return
            data.update(photo=message.photo[-1].file_id, text=caption)
        elif message.text:
            data.update(photo=None, text=message.text_html)
        else:
            await message.reply_text(t._("Please send text or a photo."))
            return
        draft = await repos.staff_drafts.save(draft.user_id, "broadcast", "preview", data)
        await show_preview(message, context, draft)
        return
    if draft.step == "version":
        # The officer's own text for one language replaces its machine version.
        language = str(data["version_language"])
        written = message.text_html if message.text else message.caption_html
        limit = MAX_CAPTION if data.get("photo") else MAX_MESSAGE
        if written and utf16_length(message.text or message.caption or "") > limit:
            await message.reply_text(
                t._("The text is too long (at most {count} characters).", count=limit)
            )
            return
        if not written:
            await message.reply_text(
                t._(
                    "Send the {language} version as these residents should see it.",
                    language=t.language_name(language),
                )
            )
            return
        versions = dict(data.get("versions") or {})
        versions[language] = {"text": written, "kind": "officer", "source": language}
        data["versions"] = versions
        draft = await repos.staff_drafts.save(draft.user_id, "broadcast", "preview", data)
        await show_preview(message, context, draft)
        return
    if draft.step == "schedule":
        try:
            when = parse_when(message.text or "", t, repos.config.timezone, repos.now())
        except EventInputError as exc:
            await message.reply_text(str(exc))
            return
        # The same check as "Send now": the quarters may have changed since the draft began.
        quarters = list(data.get("quarters", []))
        if not set(quarters) <= await repos.staff.quarters_of(draft.user_id):
            await audit_denied(context, draft.user_id, "broadcast", ",".join(quarters))
            await message.reply_text(t._("Sorry, this is only for staff."))
            return
        broadcast = await create(context, draft, when.isoformat())
        await message.reply_text(
            t._(
                "Scheduled for {when} as broadcast #{number}. /broadcasts lists it.",
                when=t.fmt_datetime(when),
                number=broadcast.id,
            )
        )
        return
    await message.reply_text(t._("Please choose one of the buttons above."))
    await ask(message, context, draft)


async def create(context: BotContext, draft: StaffDraft, scheduled: str | None) -> Broadcast:
    """Store the broadcast (audited) and forget the draft."""
    repos = context.repos
    data = draft.data
    broadcast = await repos.broadcasts.create(
        created_by=draft.user_id,
        quarters=list(data["quarters"]),
        topic_id=data.get("topic_id"),
        language=data.get("language"),
        text=str(data.get("text") or ""),
        photo_file_id=data.get("photo"),
        scheduled_at=datetime.fromisoformat(scheduled) if scheduled else None,
    )
    await repos.broadcasts.set_progress_message(broadcast.id, draft.user_id, None)
    for language, version in (data.get("versions") or {}).items():
        if version.get("text") and version["kind"] in ("machine", "officer"):
            # An officer's version is stored as written in its own language (sent unlabelled).
            source = language if version["kind"] == "officer" else str(version.get("source"))
            stored = StoredTranslation(str(version["text"]), source)
            await repos.translations.put(broadcast_subject(broadcast.id), language, stored)
    await repos.audit.record(
        draft.user_id,
        "broadcast.create",
        f"broadcast:{broadcast.id}",
        {"quarters": list(data["quarters"]), "scheduled": scheduled},
    )
    await repos.staff_drafts.discard(draft.user_id)
    return broadcast


async def flow_button(update: Update, context: BotContext) -> None:
    """Quarter toggles, topic, language, next, send now, schedule, cancel."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    repos = context.repos
    allowed = await repos.staff.quarters_of(user.id)
    draft = await repos.staff_drafts.get(user.id)
    if not allowed:
        await audit_denied(context, user.id, "broadcast")
        await query.answer(t._("Sorry, this is only for staff."), show_alert=True)
        return
    if draft is None or draft.kind != "broadcast":
        await query.answer(t._("This button is no longer active."), show_alert=True)
        return
    if query.data == "bcf:next" and draft.step == "quarters" and not draft.data.get("quarters"):
        await query.answer(t._("Please choose at least one quarter first."), show_alert=True)
        return
    await query.answer()
    message = query.message if isinstance(query.message, Message) else None
    kind, _, value = query.data.partition(":")
    data = dict(draft.data)
    step = draft.step
    if query.data == "bcf:cancel":
        await repos.staff_drafts.discard(user.id)
        await edit_text(query, t._("Cancelled. Nothing was sent."))
        return
    if kind == "bcq" and step == "quarters":
        chosen = set(data.get("quarters", []))
        if value == "*":
            chosen = set(allowed)
        elif value in allowed:
            chosen ^= {value}
        data["quarters"] = sorted(chosen)
        draft = await repos.staff_drafts.save(user.id, "broadcast", step, data)
        # The toggles change in place: one message, not a new one per tap.
        text, keyboard = await quarters_question(context, draft)
        await edit_text(query, text, reply_markup=keyboard)
        return
    elif query.data == "bcf:next" and step == "quarters" and data.get("quarters"):
        draft = await repos.staff_drafts.save(user.id, "broadcast", "topic", data)
    elif kind == "bct" and step == "topic":
        data["topic_id"] = None if value == "*" else value
        draft = await repos.staff_drafts.save(user.id, "broadcast", "language", data)
    elif kind == "bcl" and step == "language":
        data["language"] = None if value == "*" else value
        draft = await repos.staff_drafts.save(user.id, "broadcast", "content", data)
    elif (
        kind == "bcv" and step in ("preview", "version") and value in context.repos.catalogs.offered
    ):
        data["version_language"] = value
        draft = await repos.staff_drafts.save(user.id, "broadcast", "version", data)
        if message is not None:
            await message.reply_text(
                t._(
                    "Send the {language} version as these residents should see it.",
                    language=t.language_name(value),
                ),
                reply_markup=InlineKeyboardMarkup([[cancel_button(t)]]),
            )
        return
    elif query.data == "bcf:schedule" and step == "preview":
        draft = await repos.staff_drafts.save(user.id, "broadcast", "schedule", data)
    elif query.data == "bcf:now" and step == "preview":
        if not set(data.get("quarters", [])) <= allowed:
            await audit_denied(context, user.id, "broadcast", ",".join(data.get("quarters", [])))
            return
        broadcast = await create(context, draft, None)
        context.broadcaster.start(broadcast.id)
        await edit_text(
            query,
            t._("Sending broadcast #{number}. You see the progress here.", number=broadcast.id),
        )
        return
    else:
        return
    if message is not None:
        await ask(message, context, draft)


async def announce_event(update: Update, context: BotContext) -> None:
    """'Announce now' after saving an event: each subscriber gets the card in their language."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    repos = context.repos
    raw = query.data.removeprefix("evann:")
    event_id = parse_id(raw)
    event = await repos.events.get(event_id) if event_id is not None else None
    if event is None or event.quarter_id not in await repos.staff.quarters_of(user.id):
        await audit_denied(context, user.id, "broadcast", f"event:{raw[:12]}")
        await query.answer(t._("Sorry, this is only for staff."), show_alert=True)
        return
    await query.answer()
    if repos.translation.enabled:
        audience = await repos.broadcasts.recipients_by_language(
            [event.quarter_id], event.topic_id, None
        )
        await prepare_event_languages(repos, event, audience)
    broadcast = await repos.broadcasts.create(
        created_by=user.id,
        quarters=[event.quarter_id],
        topic_id=event.topic_id,
        language=None,
        text="",
        photo_file_id=None,
        event_id=event.id,
    )
    await repos.broadcasts.set_progress_message(broadcast.id, user.id, None)
    await repos.audit.record(
        user.id, "broadcast.create", f"broadcast:{broadcast.id}", {"event": event.id}
    )
    context.broadcaster.start(broadcast.id)
    await edit_text(
        query, t._("Sending broadcast #{number}. You see the progress here.", number=broadcast.id)
    )


async def broadcasts_command(update: Update, context: BotContext) -> None:
    """/broadcasts: pending and recent broadcasts, with cancel buttons for pending ones."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    if not await repos.staff.is_staff(user.id):
        await audit_denied(context, user.id, "broadcast.list")
        await message_of(update).reply_text(t._("Sorry, this command is only for staff."))
        return
    mine = None if repos.config.is_admin(user.id) else user.id
    recent = await repos.broadcasts.list_recent(mine, 10)
    if not recent:
        await message_of(update).reply_text(t._("There are no broadcasts yet."))
        return
    lines, rows = [t._("Broadcasts:")], []
    for broadcast in recent:
        lines.append(describe(broadcast, t))
        if broadcast.status in ("scheduled", "sending"):
            rows.append(
                [
                    InlineKeyboardButton(
                        t._("✖️ Cancel #{number}", number=broadcast.id),
                        callback_data=f"bcx:{broadcast.id}",
                    )
                ]
            )
    await message_of(update).reply_text(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )


def describe(broadcast: Broadcast, t: Translator) -> str:
    """One line per broadcast."""
    states = {
        "scheduled": t._(
            "scheduled for {when}",
            when=t.fmt_datetime(broadcast.scheduled_at) if broadcast.scheduled_at else "–",
        ),
        "sending": t._("sending"),
        "done": t._("sent"),
        "cancelled": t._("cancelled"),
    }
    preview = " ".join((broadcast.text or "").split())[:40] or (
        t._("event announcement") if broadcast.event_id else "📷"
    )
    return t._(
        "#{number} · {state} · {preview}",
        number=broadcast.id,
        state=states.get(broadcast.status, broadcast.status),
        preview=preview,
    )


async def cancel_broadcast_button(update: Update, context: BotContext) -> None:
    """Cancel a pending broadcast: its creator, or an admin."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    repos = context.repos
    raw = query.data.removeprefix("bcx:")
    broadcast_id = parse_id(raw)
    broadcast = await repos.broadcasts.get(broadcast_id) if broadcast_id is not None else None
    # Still staff now (an officer may have been removed since), and its author or an admin.
    allowed = (
        broadcast is not None
        and await repos.staff.is_staff(user.id)
        and (broadcast.created_by == user.id or repos.config.is_admin(user.id))
    )
    if broadcast is None or not allowed:
        await audit_denied(context, user.id, "broadcast.cancel", f"broadcast:{raw[:12]}")
        await query.answer(t._("Sorry, you may not cancel this broadcast."), show_alert=True)
        return
    cancelled = await repos.broadcasts.cancel(broadcast.id)
    if cancelled:
        await repos.audit.record(user.id, "broadcast.cancel", f"broadcast:{broadcast.id}")
    await query.answer(t._("Cancelled.") if cancelled else t._("It was already finished."))
    await edit_text(
        query,
        t._("Broadcast #{number} cancelled.", number=broadcast.id)
        if cancelled
        else t._("It was already finished."),
    )


def register(app: QuartierApplication) -> None:
    """Install /broadcast, /broadcasts and their buttons."""
    app.staff_input["broadcast"] = take_input
    app.add_handler(CommandHandler("broadcast", broadcast_command, filters=PRIVATE))
    app.add_handler(CommandHandler("broadcasts", broadcasts_command, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(flow_button, pattern=r"^(bcf|bcq|bct|bcl|bcv):"))
    app.add_handler(CallbackQueryHandler(announce_event, pattern=r"^evann:"))
    app.add_handler(CallbackQueryHandler(cancel_broadcast_button, pattern=r"^bcx:"))
