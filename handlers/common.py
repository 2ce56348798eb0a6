"""Helpers shared by the feature modules, event cards among them (no handlers registered here)."""

from __future__ import annotations

import logging
import re

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import filters

from bot.catalogcheck import MESSAGE_LIMIT
from bot.concerns import MAX_DESCRIPTION, quarter_name, resident_page, topic_label
from bot.config import Quarter
from bot.context import BotContext
from bot.events import event_for_reader, original_button, render_event
from bot.i18n import Translator, utf16_length
from bot.menu import main_menu
from storage.concerns import Concern, Voice
from storage.events import Event, EventCounts
from storage.translations import entry_subject

log = logging.getLogger(__name__)

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


def voice_of(message: Message) -> tuple[Voice, int | None] | None:
    """A voice note, an audio file or a video note in the message, and its size in bytes."""
    for kind, media in (
        ("voice", message.voice),
        ("audio", message.audio),
        ("video_note", message.video_note),
    ):
        if media is not None:
            # The wire value (whole seconds): the attribute itself is turning into a timedelta.
            seconds = int(media.to_dict().get("duration", 0))
            return Voice(media.file_id, kind, seconds), media.file_size
    return None


def command_argument(update: Update) -> str:
    """Everything after the command word, with the user's spacing kept."""
    text = (update.effective_message.text or "") if update.effective_message else ""
    parts = text.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def is_admin(context: BotContext, user_id: int) -> bool:
    """Server-side check of full staff rights (never trust what a button claims)."""
    return context.repos.config.is_admin(user_id)


async def admins_only_text(context: BotContext, user_id: int) -> str:
    """Why an admin command was refused: officers learn it is for admins, others that it is
    for staff (they need not learn more)."""
    t = context.t
    if await context.repos.staff.is_staff(user_id):
        return t._("This command is for admins only. Please ask an admin of your office.")
    return t._("Sorry, this command is only for staff.")


def fits_one_message(text: str) -> bool:
    """Whether Telegram takes `text` as one message, counting UTF-16 code units.

    The strict reading of the 4,096 limit (some measure characters, emoji then count once):
    a combined message that might be refused is sent as two instead.
    """
    return utf16_length(text) <= MESSAGE_LIMIT


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
    """Audit a refused staff action with who tried it (a security record: /deleteme keeps it)."""
    await context.repos.audit.record(user_id, f"{action}.denied", subject)


#: Ids typed or tapped by users: ASCII digits, at most this many (Telegram ids need 16 at most).
MAX_ID_DIGITS = 16
_ID = re.compile(rf"[0-9]{{1,{MAX_ID_DIGITS}}}")


def parse_id(text: str) -> int | None:
    """A positive id from user input, or None: only ASCII digits, bounded (not "²", not 10**30)."""
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value > 0 else None


#: The button that turns an event card back into the list of coming events.
EVENT_LIST = "ev:list"


async def event_card(
    context: BotContext,
    event: Event,
    user_id: int,
    known: tuple[EventCounts, str | None] | None = None,
    back_to_list: bool = False,
) -> tuple[str, InlineKeyboardMarkup]:
    """The event in the reader's language, with the buttons that fit their RSVP."""
    t = context.t
    repos = context.repos
    if known is None:
        known = (
            await repos.events.counts(event.id),
            await repos.events.rsvp_state(event.id, user_id),
        )
    counts, state = known
    topic = topic_label(event.topic_id, repos.config, t) if event.topic_id else None
    quarter = quarter_name(event.quarter_id, repos.config)
    reader = await event_for_reader(repos, event, t.language)
    return render_card(
        reader.event, counts, state, quarter, topic, t, back_to_list, reader.source_language
    )


def render_card(
    event: Event,
    counts: EventCounts,
    state: str | None,
    quarter: str,
    topic: str | None,
    t: Translator,
    back_to_list: bool = False,
    source_language: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The card's text and buttons (opened from the event list: a button back to it).

    A machine-translated card is labelled and has a button that shows the original.
    """
    text = render_event(event, t, quarter, topic, counts, event.capacity, source_language)
    if state == "going":
        text += "\n" + t._("✅ You are registered.")
    elif state == "waiting":
        text += "\n" + t._("⏳ You are on the waiting list.")
    rows = []
    if not event.is_cancelled:
        full = event.capacity is not None and counts.going >= event.capacity
        if state is None:
            label = t._("⏳ Join the waiting list") if full else t._("✅ I'll come")
            rows.append([InlineKeyboardButton(label, callback_data=f"ev:go:{event.id}")])
        else:
            rows.append(
                [
                    InlineKeyboardButton(
                        t._("❌ I can't come any more"), callback_data=f"ev:no:{event.id}"
                    )
                ]
            )
    if not event.is_cancelled:
        # A called-off event belongs in nobody's calendar.
        rows.append(
            [InlineKeyboardButton(t._("📅 Add to calendar"), callback_data=f"ev:ics:{event.id}")]
        )
    if source_language:
        rows.append([original_button(event.id, t)])
    if back_to_list:
        rows.append([InlineKeyboardButton(t._("📋 All events"), callback_data=EVENT_LIST)])
    return text, InlineKeyboardMarkup(rows)


async def show_event(message: Message, context: BotContext, event_id: int, user_id: int) -> None:
    """One event (from a deep link)."""
    event = await context.repos.events.get(event_id)
    if event is None:
        await message.reply_text(context.t._("This event does not exist any more."))
        return
    text, keyboard = await event_card(context, event, user_id)
    await message.reply_text(text, reply_markup=keyboard)


def unknown_quarter_text(context: BotContext, quarter_id: str) -> str:
    """Explains an unknown quarter id and lists the valid ones."""
    t = context.t
    choices = t.fmt_list([f"{q.id} ({q.name})" for q in context.repos.config.quarters])
    return t._(
        "I don't know the quarter “{quarter}”. Available: {choices}.",
        quarter=quarter_id[:40],
        choices=choices,
    )


async def apologise(update: Update, context: BotContext) -> None:
    """Tell a resident in a private chat that something failed; never raises."""
    chat = update.effective_chat
    if chat is None or chat.type != chat.PRIVATE:
        return
    t = await translator_for(update, context)
    try:
        await context.bot.send_message(
            chat.id, t._("Sorry, something went wrong. Please try again in a moment.")
        )
    except TelegramError:
        log.warning("could not send the apology for update %s", update.update_id)


async def translator_for(update: Update, context: BotContext) -> Translator:
    """The user's language even though this is a fresh context (the failure may be the database)."""
    catalogs = context.repos.catalogs
    user = update.effective_user
    stored = None
    if user is not None:
        try:
            resident = await context.repos.residents.get(user.id)
            stored = resident.language if resident else None
        except Exception:  # noqa: BLE001 - an apology must not fail because storage did
            log.warning("language of the user unknown while apologising")
    return catalogs.translator(catalogs.negotiate(stored, user.language_code if user else None))


async def send_resident_page(message: Message, context: BotContext, concern: Concern) -> None:
    """A resident's concern page; a Telegram reply to it adds information (it is linked)."""
    repos = context.repos
    events = await repos.concerns.events(concern.id)
    translations = {}
    for event in events:
        if event.kind in ("reply", "status") and event.text:
            stored = await repos.translations.get(entry_subject(event.id), context.t.language)
            if stored is not None:
                translations[event.id] = stored
    text, keyboard = resident_page(concern, events, repos.config, context.t, translations)
    sent = await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    await context.repos.concerns.link(sent.chat_id, sent.message_id, concern.id)


async def hear(update: Update, context: BotContext, voice: Voice, size: int | None) -> str | None:
    """The voice message's transcript, when a service is configured and can give one (in the
    sender's language as a hint; at most a description's length)."""
    service = context.repos.transcription
    if not service.enabled:
        return None
    # Transcribing takes a few seconds: show that the bot is at work.
    await message_of(update).chat.send_action(ChatAction.TYPING)
    transcript = await service.transcribe_voice(context.bot, voice, size, context.t.language)
    return transcript[:MAX_DESCRIPTION] if transcript else None
