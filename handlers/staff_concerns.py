"""Staff work on concerns: status buttons and replies in the staff group, and private commands.

Every action is authorised here, on the server, for commands and button presses alike (a button
press can be forged or forwarded), and written to the audit log.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.concerns import (
    MAX_DESCRIPTION,
    STATUS_LABELS,
    StatusStamp,
    attachment_marks,
    ensure_all_translated,
    plain_text,
    refresh_staff_post,
    staff_post,
    status_keyboard,
    status_label,
    topic_label,
    translated_quote,
    voice_line,
)
from bot.context import BotContext, QuartierApplication
from bot.i18n import N_, Translator, folded, shorten
from handlers.common import (
    PRIVATE,
    audit_denied,
    command_argument,
    edit_text,
    fits_one_message,
    hear,
    message_of,
    parse_id,
    user_of,
    voice_of,
)
from storage.concerns import STATUSES, WITHDRAWN, Concern, ConcernEvent, Voice
from storage.db import utc_now
from storage.drafts import StaffDraft
from storage.translations import StoredTranslation, concern_subject, entry_subject

LIST_LIMIT = 20
#: A concern's reference as staff type it: 'BV-0001', 'bv-1'.
REFERENCE = re.compile(r"[A-Za-z]{1,4}-[0-9]{1,9}")


async def concern_for(
    update: Update, context: BotContext, reference: str, action: str
) -> Concern | None:
    """The concern behind a reference typed by staff, if this user may handle it; else explain."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    message = message_of(update)
    if not await repos.staff.is_staff(user.id):
        await audit_denied(context, user.id, action, reference[:20])
        await message.reply_text(t._("Sorry, this command is only for staff."))
        return None
    concern = await repos.concerns.by_reference(reference)
    if concern is None and (number := parse_id(reference.strip())) is not None:
        # Just the number ("/reply 1 …"): the concern of that number in the officer's quarters,
        # if there is exactly one.
        found = await repos.concerns.by_number(number, await repos.staff.quarters_of(user.id))
        if len(found) > 1:
            await message.reply_text(
                t._(
                    "Several concerns have the number {number}: {references}. Please write the "
                    "whole reference.",
                    number=number,
                    references=t.fmt_list([c.reference for c in found]),
                )
            )
            return None
        concern = found[0] if found else None
    if concern is None:
        await message.reply_text(
            t._("There is no concern with the number “{reference}”.", reference=reference[:20])
        )
        return None
    if not await repos.staff.can_handle(user.id, concern):
        await audit_denied(context, user.id, action, concern.reference)
        await message.reply_text(
            t._(
                "You are not responsible for the quarter of {reference}.",
                reference=concern.reference,
            )
        )
        return None
    return concern


async def apply_status(
    context: BotContext, actor: User, concern: Concern, status: str, note: str
) -> Concern | None:
    """Store the new status, tell the resident, and update the staff-group post; None (nothing
    changed) when the status is no longer the one `concern` was read with."""
    repos = context.repos
    updated = await repos.concerns.set_status(concern, status, actor.id, note)
    if updated is None:
        return None
    context.outbox.wake()  # the resident's notice was committed with the status
    await refresh_staff_post(
        context.bot, repos, updated, StatusStamp(by=actor.first_name, status=status)
    )
    return updated


async def status_outcome(context: BotContext, concern: Concern, updated: Concern | None) -> str:
    """'BV-0001 is now “done”.', or that someone changed it meanwhile (and nothing was sent)."""
    t = context.t
    if updated is not None:
        return t._(
            "{reference} is now “{status}”.",
            reference=updated.reference,
            status=status_label(updated.status, t),
        )
    current = await context.repos.concerns.get(concern.id)
    return t._(
        "{reference} was changed meanwhile (now “{status}”); nothing was sent.",
        reference=concern.reference,
        status=status_label(current.status if current else concern.status, t),
    )


#: How long an officer's reply waits to learn whether it was delivered (it is committed anyway).
REPLY_WAIT_SECONDS = 3.0


async def apply_reply(
    context: BotContext,
    actor: User,
    concern: Concern,
    text: str,
    t: Translator,
    voice: Voice | None = None,
    transcribed: bool = False,
) -> str:
    """Store and relay a reply (kept as a note for anonymous concerns); returns the outcome."""
    repos = context.repos
    if concern.anonymous or concern.resident_id is None:
        await repos.concerns.add_staff_entry(concern, "note", actor.id, text, voice, transcribed)
        return t._(
            "{reference} is anonymous, so nobody can be answered: your text was kept as an "
            "internal note.",
            reference=concern.reference,
        )
    outgoing = await repos.concerns.add_staff_entry(
        concern, "reply", actor.id, text, voice, transcribed
    )
    delivered = None
    if outgoing is not None:
        # Committed; a short wait tells the officer whether Telegram took it.
        delivered = await context.outbox.delivered_within(outgoing, REPLY_WAIT_SECONDS)
    if delivered:
        return t._("Sent to the resident of {reference}.", reference=concern.reference)
    if delivered is None:
        return t._(
            "Saved in {reference}. Telegram is busy right now; the reply goes out as soon as "
            "it allows.",
            reference=concern.reference,
        )
    return t._(
        "Saved in {reference}, but it could not be delivered (the resident may have blocked "
        "the bot).",
        reference=concern.reference,
    )


def split_argument(text: str, parts: int) -> list[str]:
    """Split the argument text into at most `parts` pieces, keeping the rest's spacing."""
    return text.split(None, parts - 1) if text else []


async def reply_command(update: Update, context: BotContext) -> None:
    """/reply <ref> <text>."""
    t = context.t
    args = split_argument(command_argument(update), 2)
    if len(args) < 2:
        await message_of(update).reply_text(t._("Usage: /reply <number> <text>"))
        return
    concern = await concern_for(update, context, args[0], "concern.reply")
    if concern is None:
        return
    text = args[1].strip()
    if len(text) > MAX_DESCRIPTION:
        await message_of(update).reply_text(
            t._("The text is too long (at most {count} characters).", count=MAX_DESCRIPTION)
        )
        return
    outcome = await apply_reply(context, user_of(update), concern, text, t)
    await message_of(update).reply_text(outcome)


async def note_command(update: Update, context: BotContext) -> None:
    """/note <ref> <text>: internal, never sent to the resident."""
    t = context.t
    args = split_argument(command_argument(update), 2)
    if len(args) < 2:
        await message_of(update).reply_text(t._("Usage: /note <number> <text>"))
        return
    concern = await concern_for(update, context, args[0], "concern.note")
    if concern is None:
        return
    text = args[1].strip()[:MAX_DESCRIPTION]
    await context.repos.concerns.add_staff_entry(concern, "note", user_of(update).id, text)
    await message_of(update).reply_text(
        t._("Internal note added to {reference}.", reference=concern.reference)
    )


async def status_command(update: Update, context: BotContext) -> None:
    """/status <ref> <new|in_progress|done|rejected> [message to the resident]."""
    t = context.t
    args = split_argument(command_argument(update), 3)
    usage = (
        t._("Usage: /status <number> <new|in_progress|done|rejected> [note]")
        + "\n"
        + t._(
            "The note after the status goes to the resident with the new status (in their "
            "language). For a note only the office sees, use /note."
        )
    )
    if len(args) < 2:
        await message_of(update).reply_text(usage)
        return
    parsed = parse_status(split_argument(command_argument(update), 2)[1], t)
    if parsed is None:
        await message_of(update).reply_text(
            t._("Unknown status “{status}”.", status=args[1][:20]) + "\n" + usage
        )
        return
    status, note = parsed
    concern = await concern_for(update, context, args[0], "concern.status")
    if concern is None:
        return
    note = note[:MAX_DESCRIPTION]
    if not note and await ask_closing(update, context, concern, status):
        return
    updated = await apply_status(context, user_of(update), concern, status, note)
    await message_of(update).reply_text(await status_outcome(context, concern, updated))


async def ask_closing(update: Update, context: BotContext, concern: Concern, status: str) -> bool:
    """Closing (done, rejected) a concern whose resident can be answered: ask for the message
    they will read, instead of closing without a word. False: nothing to ask.

    Asked in the officer's private chat, also for a status button in the staff group: there the
    answer would have to be told apart from everyone's messages. A button press is acknowledged
    here (the toast says where the question went).
    """
    closing = status in ("done", "rejected") and not concern.anonymous
    if not closing or concern.resident_id is None:
        return False
    t = context.t
    user = user_of(update)
    query = update.callback_query
    data = {
        "concern_id": concern.id,
        "status": status,
        "changed": concern.status_changed_at.isoformat(),
        "was": concern.status,
    }
    if not await start_answer(update, context, "closing", data):
        busy = t._(BUSY_WITH_DRAFT)
        if query is not None:
            await query.answer(busy, show_alert=True)
        else:
            await message_of(update).reply_text(busy)
        return True
    prompt = t._(
        "What should the resident of {reference} read with “{status}”? Send the closing "
        "message, or “-” for none.",
        reference=concern.reference,
        status=status_label(status, t),
    )
    try:
        await context.bot.send_message(
            user.id, prompt, reply_markup=closing_keyboard(concern, status, t)
        )
    except TelegramError as exc:
        # Unasked, the officer's next private message must not become the resident's message.
        await context.repos.staff_drafts.discard(user.id)
        if query is None:
            raise
        if isinstance(exc, Forbidden):
            why = t._("Please start a private chat with the bot first (/start), then press again.")
        else:
            why = t._("Telegram did not take the question; please press again.")
        await query.answer(why, show_alert=True)
        return True
    if query is not None:
        in_group = query.message is not None and query.message.chat.id < 0
        await query.answer(
            t._("The closing message is asked for in your private chat with the bot.")
            if in_group
            else None
        )
    return True


def closing_keyboard(concern: Concern, status: str, t: Translator) -> InlineKeyboardMarkup:
    """Under the question for a closing message: close without one, or cancel. The button names
    the status it was asked for: an older question's button cannot close with a newer one's."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t._("Close without a message"), callback_data=f"ccl:{concern.id}:{status}"
                ),
                InlineKeyboardButton(t._("✖️ Cancel"), callback_data="crep:x"),
            ]
        ]
    )


def parse_status(text: str, t: Translator) -> tuple[str, str] | None:
    """The status at the start of `text` and the note after it: the status id ('in_progress')
    or its name in the staff member's language or English ('in Bearbeitung', 'erledigt',
    'in progress'), any case; None if it starts with no status."""
    words = text.split()
    best: tuple[int, str] | None = None
    for status in STATUSES:
        names = {
            status,
            status.replace("_", " "),
            t._(STATUS_LABELS[status]),
            STATUS_LABELS[status],
        }
        for name in names:
            size = len(name.split())
            if folded(" ".join(words[:size])) == folded(name) and (best is None or size > best[0]):
                best = (size, status)
    if best is None:
        return None
    size, status = best
    return status, text.split(None, size)[size] if len(words) > size else ""


async def concerns_command(update: Update, context: BotContext) -> None:
    """/concerns [open|all] [quarter id]: the newest concerns of the staff member's quarters."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    allowed = await repos.staff.quarters_of(user.id)
    if not allowed:
        await audit_denied(context, user.id, "concern.list", "")
        await message_of(update).reply_text(t._("Sorry, this command is only for staff."))
        return
    first = (context.args or [""])[0]
    if REFERENCE.fullmatch(first) or parse_id(first) is not None:
        # "/concerns BV-0001" (or "/concerns 1"): that concern's details, as its button shows.
        concern = await concern_for(update, context, first, "concern.view")
        if concern is not None:
            await repos.audit.record(user.id, "concern.view", concern.reference)
            await message_of(update).reply_text(
                await concern_detail(concern, context),
                parse_mode=ParseMode.HTML,
                reply_markup=detail_keyboard(concern, t),
            )
        return
    open_only = True
    quarters = set(allowed)
    for token in (context.args or [])[:2]:
        word = token.lower()
        if word in ("open", "all"):
            open_only = word == "open"
        elif repos.config.quarter(word) is None:
            await message_of(update).reply_text(
                t._("Usage: /concerns [open|all] [quarter]")
                + "\n"
                + t._("Unknown quarter “{quarter}”.", quarter=word[:40])
            )
            return
        elif word not in allowed:
            await audit_denied(context, user.id, "concern.list", word)
            await message_of(update).reply_text(t._("You are not responsible for this quarter."))
            return
        else:
            quarters = {word}
    concerns, total = await repos.concerns.listing(sorted(quarters), open_only, LIST_LIMIT)
    await repos.audit.record(user.id, "concern.list", ",".join(sorted(quarters)))
    if not concerns:
        await message_of(update).reply_text(
            t._("There are no open concerns.") if open_only else t._("There are no concerns.")
        )
        return
    header = (
        t._n("{count} open concern", "{count} open concerns", total, count=total)
        if (open_only)
        else t._n("{count} concern", "{count} concerns", total, count=total)
    )
    lines = [
        header
        + (t._(" (newest {shown} shown)", shown=len(concerns)) if total > len(concerns) else "")
    ]
    lines += [concern_line(concern, context, t) for concern in concerns]
    buttons = [
        InlineKeyboardButton(concern.reference, callback_data=f"cshow:{concern.id}")
        for concern in concerns
    ]
    rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
    await message_of(update).reply_text("\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


def concern_line(concern: Concern, context: BotContext, t: Translator) -> str:
    """'BV-0042 · Housing · 21.11.2026 · new'."""
    return t._(
        "{reference} · {topic} · {date} · {status}",
        reference=concern.reference,
        topic=topic_label(concern.topic_id, context.repos.config, t),
        date=t.fmt_short_date(concern.created_at.astimezone(t.tz).date()),
        status=status_label(concern.status, t),
    )


#: Entries of a concern's thread shown in its details, newest last.
DETAIL_ENTRIES = 10
#: Room (UTF-16 units) for the concern's text and for each entry's text in the details, so the
#: post and the newest entries share one message; full texts are in the group and the export.
DETAIL_TEXT_ROOM = 1500
DETAIL_ENTRY_ROOM = 700


async def concern_detail(concern: Concern, context: BotContext) -> str:
    """The post plus the thread, for a staff member's private chat (HTML, one message).

    What residents wrote comes in the reader's language beside the original; missing
    translations are asked for now, all in one request (a later view tries again). Long texts
    are shortened, and the oldest entries left out, so that the newest always fit.
    """
    t = context.t
    repos = context.repos
    events = await repos.concerns.events(concern.id)
    shown = events[-DETAIL_ENTRIES:]
    live = concern.text if concern.anonymised_at is None else None
    texts = [(concern_subject(concern.id), live or "")] + [
        (entry_subject(e.id), e.text if e.kind == "resident" and e.text else "") for e in shown
    ]
    (translation, *entries), failed = await ensure_all_translated(repos, texts, t.language)
    post = staff_post(
        concern,
        repos,
        t,
        None,
        translation,
        failed and translation is None,
        DETAIL_TEXT_ROOM,
        private=True,
    )
    blocks = [
        detail_entry(event, entry, failed and entry is None, context)
        for event, entry in zip(shown, entries, strict=True)
    ]
    hidden = len(events) - len(shown)
    while True:
        lines = [post]
        if events:
            lines += ["", "<b>" + html.escape(t._("History")) + "</b>"]
        if hidden:
            count = t.fmt_number(hidden)
            older = t._n(
                "{count} older entry not shown.",
                "{count} older entries not shown.",
                hidden,
                count=count,
            )
            lines.append(html.escape(older))
        detail = "\n".join(lines + blocks)
        if fits_one_message(detail) or not blocks:
            return detail
        blocks.pop(0)  # the oldest entry goes first
        hidden += 1


def detail_entry(
    event: ConcernEvent, translation: StoredTranslation | None, failed: bool, context: BotContext
) -> str:
    """One entry of a concern's history (HTML): a resident's text beside its translation."""
    t = context.t
    when = t.fmt_datetime(event.created_at)
    kinds = {
        "resident": t._("Resident"),
        "reply": t._("Reply"),
        "note": t._("Internal note"),
        "status": t._("Status"),
    }
    voice = (" " + voice_line(event.voice, event.transcribed, t)) if event.voice else ""
    voice += attachment_marks(event, t)
    if event.kind == "resident" and event.text and context.repos.translation.enabled:
        quote = translated_quote(event.text, translation, t, failed, DETAIL_ENTRY_ROOM)
        return html.escape(f"{when} · {kinds[event.kind]}:{voice}") + "\n" + quote
    what = status_label(event.status, t) if event.kind == "status" and event.status else ""
    text = shorten(" ".join(part for part in (what, event.text or "") if part), DETAIL_ENTRY_ROOM)
    return html.escape(f"{when} · {kinds[event.kind]}:{voice} {text}".rstrip())


def detail_keyboard(concern: Concern, t: Translator) -> InlineKeyboardMarkup:
    """Status buttons, the location on request, and Reply where the resident can be answered."""
    rows = [list(row) for row in status_keyboard(concern, t).inline_keyboard]
    if not concern.anonymous and concern.resident_id is not None:
        rows.append([InlineKeyboardButton(t._("✍️ Reply"), callback_data=f"crep:{concern.id}")])
    return InlineKeyboardMarkup(rows)


async def reply_button(update: Update, context: BotContext) -> None:
    """'✍️ Reply' under a concern's details: the officer's next message is the answer."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    raw = query.data.removeprefix("crep:")
    if raw == "x":
        await query.answer()
        draft = await context.repos.staff_drafts.get(user.id)
        if draft is not None and draft.kind in ANSWER_DRAFTS:  # never an event or broadcast
            await context.repos.staff_drafts.discard(user.id)
        await edit_text(query, t._("Cancelled. Nothing was sent."))
        return
    concern = await button_concern(update, context, raw, "concern.reply")
    if concern is None:
        return
    await query.answer()
    if not await start_answer(update, context, "reply", {"concern_id": concern.id}):
        if isinstance(query.message, Message):
            await query.message.reply_text(t._(BUSY_WITH_DRAFT))
        return
    if isinstance(query.message, Message):
        await query.message.reply_text(
            t._(
                "Write your answer to {reference} now. The resident gets it in their language.",
                reference=concern.reference,
            ),
            reply_markup=answer_cancel_keyboard(t),
        )


BUSY_WITH_DRAFT = N_("Please finish or cancel the event or broadcast you are preparing first.")
#: Staff drafts that only wait for one typed answer, and how long they wait for it.
ANSWER_DRAFTS = ("reply", "closing")
ANSWER_WAIT = timedelta(minutes=30)


def answer_cancel_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """Cancel under a prompt for an answer (/cancel works too)."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(t._("✖️ Cancel"), callback_data="crep:x")]])


async def start_answer(
    update: Update, context: BotContext, kind: str, data: dict[str, Any]
) -> bool:
    """Wait for the officer's next message as an answer — unless an event or a broadcast is
    being prepared, which must not be lost (False: the caller tells them, BUSY_WITH_DRAFT)."""
    user = user_of(update)
    current = await context.repos.staff_drafts.get(user.id)
    if current is not None and current.kind not in ANSWER_DRAFTS:
        return False
    await context.repos.staff_drafts.save(user.id, kind, "text", data)
    return True


async def answer_expired(update: Update, context: BotContext, draft: StaffDraft) -> bool:
    """A prompt left unanswered for long: the message is not taken as the answer."""
    if utc_now() - draft.updated_at <= ANSWER_WAIT:
        return False
    await context.repos.staff_drafts.discard(draft.user_id)
    application = context.application
    if isinstance(application, QuartierApplication) and application.resident_input is not None:
        await application.resident_input(update, context)
    return True


async def answer_text(update: Update, context: BotContext, draft: StaffDraft) -> str | None:
    """The officer's typed answer to a prompt, the prompt then done; None (and they are told,
    or the message goes its ordinary way) when it expired, is empty or too long."""
    message = message_of(update)
    t = context.t
    if await answer_expired(update, context, draft):
        return None
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(t._("Please send your answer as text."))
        return None
    if len(text) > MAX_DESCRIPTION:
        await message.reply_text(
            t._("The text is too long (at most {count} characters).", count=MAX_DESCRIPTION)
        )
        return None
    await context.repos.staff_drafts.discard(draft.user_id)
    return text


async def take_closing(update: Update, context: BotContext, draft: StaffDraft) -> None:
    """The closing message asked for by /status … done|rejected or a status button."""
    text = await answer_text(update, context, draft)
    if text is None:
        return
    note = "" if text in ("-", "–") else text
    await message_of(update).reply_text(await finish_closing(update, context, draft, note))


async def closing_button(update: Update, context: BotContext) -> None:
    """ "Close without a message" under the question for a closing message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    draft = await context.repos.staff_drafts.get(user.id)
    raw = query.data.removeprefix("ccl:")
    if (
        draft is None
        or draft.kind != "closing"
        or raw != f"{draft.data.get('concern_id')}:{draft.data.get('status')}"
        or utc_now() - draft.updated_at > ANSWER_WAIT
    ):
        await audit_denied(context, user.id, "concern.status", raw[:30])
        await query.answer(t._("This button is no longer active."), show_alert=True)
        return
    await query.answer()
    await context.repos.staff_drafts.discard(user.id)
    await edit_text(query, await finish_closing(update, context, draft, ""))


async def finish_closing(update: Update, context: BotContext, draft: StaffDraft, note: str) -> str:
    """Close the concern a closing draft names, with the resident's message (authorised again:
    rights may have changed); returns what the officer is told."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    concern = await repos.concerns.get(int(draft.data.get("concern_id", 0)))
    status = str(draft.data.get("status"))
    if (
        concern is None
        or status not in STATUSES
        or not await repos.staff.can_handle(user.id, concern)
    ):
        await audit_denied(context, user.id, "concern.status", str(draft.data.get("concern_id")))
        return t._("Sorry, you may not change this concern.")
    if (concern.status, concern.status_changed_at.isoformat()) != (
        draft.data.get("was"),
        draft.data.get("changed"),
    ):
        # Someone else (or the resident) changed it meanwhile: not overwritten unseen.
        return await status_outcome(context, concern, None)
    # Compared again when writing: a change between this read and the write is not lost either.
    return await status_outcome(
        context, concern, await apply_status(context, user, concern, status, note)
    )


async def take_reply(update: Update, context: BotContext, draft: StaffDraft) -> None:
    """The officer's answer after '✍️ Reply' (authorised again: rights may have changed)."""
    message = message_of(update)
    user = user_of(update)
    t = context.t
    repos = context.repos
    text = await answer_text(update, context, draft)
    if text is None:
        return
    concern = await repos.concerns.get(int(draft.data.get("concern_id", 0)))
    if concern is None or not await repos.staff.can_handle(user.id, concern):
        await audit_denied(context, user.id, "concern.reply", str(draft.data.get("concern_id")))
        await message.reply_text(t._("Sorry, you may not answer this concern."))
        return
    await message.reply_text(await apply_reply(context, user, concern, text, t))


async def show_button(update: Update, context: BotContext) -> None:
    """A concern button from /concerns: show details with status buttons."""
    query = update.callback_query
    assert query is not None and query.data is not None
    concern = await button_concern(
        update, context, query.data.removeprefix("cshow:"), "concern.view"
    )
    if concern is None:
        return
    await query.answer()
    await context.repos.audit.record(user_of(update).id, "concern.view", concern.reference)
    if isinstance(query.message, Message):
        await query.message.reply_text(
            await concern_detail(concern, context),
            parse_mode=ParseMode.HTML,
            reply_markup=detail_keyboard(concern, context.t),
        )


async def location_button(update: Update, context: BotContext) -> None:
    """'Send me the location': privately, to an officer of the concern's quarter (audited)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    concern = await button_concern(
        update, context, query.data.removeprefix("cloc:"), "concern.location"
    )
    if concern is None:
        return
    t = context.t
    user = user_of(update)
    if concern.latitude is None or concern.longitude is None or concern.anonymised_at:
        await query.answer(t._("This concern has no location (any more)."), show_alert=True)
        return
    try:
        await context.bot.send_location(
            user.id, latitude=concern.latitude, longitude=concern.longitude
        )
    except Forbidden:
        await query.answer(
            t._("Please start a private chat with the bot first (/start), then press again."),
            show_alert=True,
        )
        return
    await context.repos.audit.record(user.id, "concern.location", concern.reference)
    await query.answer(t._("The location is in your private chat with the bot."))


async def button_concern(
    update: Update, context: BotContext, raw_id: str, action: str
) -> Concern | None:
    """The concern a staff button names, if the presser may handle it; else a refusal toast."""
    query = update.callback_query
    assert query is not None
    user = user_of(update)
    t = context.t
    concern_id = parse_id(raw_id)
    concern = await context.repos.concerns.get(concern_id) if concern_id is not None else None
    if concern is None:
        await audit_denied(context, user.id, action, raw_id[:20])
        await query.answer(t._("This button is no longer active."), show_alert=True)
        return None
    if not await context.repos.staff.can_handle(user.id, concern):
        await audit_denied(context, user.id, action, concern.reference)
        await query.answer(t._("Sorry, you may not change this concern."), show_alert=True)
        return None
    return concern


async def status_button(update: Update, context: BotContext) -> None:
    """Status buttons under a staff-group post or a private detail view."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, raw_id, status = [*query.data.split(":"), "", ""][:3]
    concern = await button_concern(update, context, raw_id, "concern.status")
    if concern is None:
        return
    if status not in STATUSES:
        await query.answer(context.t._("This button is no longer active."), show_alert=True)
        return
    if status == concern.status:
        await query.answer()  # a double tap: nothing to change
        return
    if concern.status == WITHDRAWN:
        # A button on a post not yet updated must not undo the resident's withdrawal unseen.
        await query.answer(
            context.t._(
                "The resident withdrew {reference}. To take it up again anyway: /status "
                "{reference} in_progress",
                reference=concern.reference,
            ),
            show_alert=True,
        )
        return
    if await ask_closing(update, context, concern, status):
        return  # closing asks for the resident's message first, as /status does
    updated = await apply_status(context, user_of(update), concern, status, "")
    if updated is None:
        await query.answer(await status_outcome(context, concern, None), show_alert=True)
        return
    await query.answer(context.t._("Status: {status}", status=status_label(status, context.t)))
    group = context.repos.config.staff_group_for(updated.quarter_id)
    chat = query.message.chat.id if query.message else None
    if chat is not None and chat != group:
        await edit_text(
            query,
            await concern_detail(updated, context),
            parse_mode=ParseMode.HTML,
            reply_markup=detail_keyboard(updated, context.t),
        )


async def group_reply(update: Update, context: BotContext) -> None:
    """A staff member answers a concern by replying to its post in the staff group."""
    message = message_of(update)
    user = user_of(update)
    reply_to = message.reply_to_message
    heard = voice_of(message)
    if reply_to is None or not (message.text or heard):
        return
    repos = context.repos
    concern = await repos.concerns.linked(message.chat_id, reply_to.message_id)
    if concern is None:
        return  # an ordinary conversation among staff
    t = context.t
    if not await repos.staff.can_handle(user.id, concern):
        await audit_denied(context, user.id, "concern.reply", concern.reference)
        await message.reply_text(t._("Sorry, you may not answer this concern."))
        return
    if heard is None:
        text = (message.text or "").strip()[:MAX_DESCRIPTION]
        await message.reply_text(await apply_reply(context, user, concern, text, t))
        return
    await message.reply_text(await voice_reply(update, context, concern, *heard))


async def voice_reply(
    update: Update, context: BotContext, concern: Concern, voice: Voice, size: int | None
) -> str:
    """An officer's voice message as a reply: relayed to the resident, with its transcript
    (translated for them) when a transcription service is configured."""
    message = message_of(update)
    t = context.t
    service = context.repos.transcription
    if service.too_long(voice):
        return t._(
            "The voice message is longer than {limit}; please send a shorter one.",
            limit=t.fmt_duration(service.settings.max_seconds),
        )
    text = plain_text(message.caption or "")[:MAX_DESCRIPTION]
    transcript = None if text else await hear(update, context, voice, size)
    text = text or transcript or ""
    outcome = await apply_reply(
        context, user_of(update), concern, text, t, voice, transcript is not None
    )
    if transcript is not None:
        # What the resident reads (translated) is the machine's hearing: the officer sees it.
        outcome += "\n\n" + t._("Transcript: {text}", text=text)
    return outcome


def register(app: QuartierApplication) -> None:
    """Install the staff concern commands, buttons and the group reply handler."""
    app.add_handler(CommandHandler("concerns", concerns_command, filters=PRIVATE))
    app.add_handler(CommandHandler("reply", reply_command, filters=PRIVATE))
    app.add_handler(CommandHandler("status", status_command, filters=PRIVATE))
    app.add_handler(CommandHandler("note", note_command, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(status_button, pattern=r"^cst:"))
    app.add_handler(CallbackQueryHandler(show_button, pattern=r"^cshow:"))
    app.add_handler(CallbackQueryHandler(location_button, pattern=r"^cloc:"))
    app.add_handler(CallbackQueryHandler(reply_button, pattern=r"^crep:"))
    app.add_handler(CallbackQueryHandler(closing_button, pattern=r"^ccl:"))
    app.staff_input["reply"] = take_reply
    app.staff_input["closing"] = take_closing
    groups = list(app.repos.config.staff_groups)
    if groups:
        app.add_handler(
            MessageHandler(
                filters.Chat(groups)
                & filters.REPLY
                & (filters.TEXT | filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE)
                & ~filters.COMMAND
                & filters.UpdateType.MESSAGE,
                group_reply,
            )
        )
