"""Concerns between residents and staff: labels, staff-group posts, relays and notifications."""

from __future__ import annotations

import html
import logging
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.config import Config
from bot.i18n import N_, Translator, shorten, utf16_length
from bot.ratelimit import RateLimitArgs
from bot.repositories import Repositories
from storage.concerns import WITHDRAWN, Concern, ConcernEvent, Link, Voice
from storage.translations import StoredTranslation, concern_subject

log = logging.getLogger(__name__)

# The longest description we accept: the staff post adds a header and must fit Telegram's
# 4096-character message limit.
MAX_DESCRIPTION = 3500

STATUS_LABELS: dict[str, str] = {
    # TRANSLATORS: the status of a concern (grammatically agreeing with your word for "concern"):
    # received and not yet looked at by the office.
    "new": N_("new"),
    # TRANSLATORS: status of a concern: the office is working on it.
    "in_progress": N_("in progress"),
    # TRANSLATORS: status of a concern: the office has finished it (agrees with "concern").
    "done": N_("done"),
    # TRANSLATORS: status of a concern: the office will not take it up.
    "rejected": N_("rejected"),
    # TRANSLATORS: status of a concern: the resident took it back (agrees with "concern").
    "withdrawn": N_("withdrawn"),
}

STATUS_BUTTONS: tuple[tuple[str, str], ...] = (
    ("in_progress", N_("▶️ In progress")),
    ("done", N_("✅ Done")),
    ("rejected", N_("✖️ Reject")),
)


def status_label(status: str, t: Translator) -> str:
    """The status in the reader's language."""
    return t._(STATUS_LABELS.get(status, status))


def topic_label(topic_id: str, config: Config, t: Translator) -> str:
    """The topic's name in the reader's language (the id if the topic was since removed)."""
    for topic in config.topics:
        if topic.id == topic_id:
            return topic.label(t, config.default_language)
    return topic_id


def quarter_name(quarter_id: str, config: Config) -> str:
    """The quarter's display name (the id if it was since removed)."""
    quarter = config.quarter(quarter_id)
    return quarter.name if quarter else quarter_id


def staff_translator(repos: Repositories) -> Translator:
    """Translator for the staff group: `[translation] staff_language`, else the default language."""
    return repos.catalogs.translator(repos.translation.staff_language)


@dataclass(frozen=True)
class StatusStamp:
    """Who set the current status, for the staff post."""

    by: str
    status: str


def status_keyboard(concern: Concern, t: Translator) -> InlineKeyboardMarkup:
    """Status buttons under a staff post (the current status is not offered again).

    A location is never posted where a whole group reads it: a button sends it privately to
    the officer who presses it (handlers/staff_concerns.py checks the quarter and audits).
    """
    # A withdrawn concern offers none: taking it up again is a deliberate /status.
    buttons = [
        InlineKeyboardButton(t._(label), callback_data=f"cst:{concern.id}:{status}")
        for status, label in STATUS_BUTTONS
        if status != concern.status and concern.status != WITHDRAWN
    ]
    rows = [buttons] if buttons else []
    if concern.latitude is not None and concern.anonymised_at is None:
        rows += [list(row) for row in location_keyboard(concern, t).inline_keyboard]
    return InlineKeyboardMarkup(rows)


def location_keyboard(concern: Concern, t: Translator) -> InlineKeyboardMarkup:
    """The button that sends a concern's location privately to the officer who presses it."""
    location = t._("📍 Send me the location")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(location, callback_data=f"cloc:{concern.id}")]]
    )


def placeholder_image() -> bytes:
    """A plain grey PNG that replaces an erased photo in a staff group (made with zlib only)."""
    width, height = 320, 200
    row = b"\x00" + bytes([0xDD, 0xDD, 0xDD]) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        """One PNG chunk with its CRC."""
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


#: Bidirectional embedding, override and isolate controls: in a resident's text they can reorder
#: what staff read ("‮gnp.exe" shows as "exe.png"). Ordinary right-to-left text needs none.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)], None)


def plain_text(text: str) -> str:
    """What a resident typed, without bidi controls, trimmed."""
    return text.translate(BIDI_CONTROLS).strip()


def resident_quote(text: str) -> str:
    """A resident's text for an HTML message to staff: escaped, in a blockquote."""
    return f"<blockquote>{html.escape(plain_text(text))}</blockquote>"


def voice_line(voice: Voice, transcribed: bool, t: Translator) -> str:
    """'🎤 Voice message (0:42) below', saying whether the text shown is its transcript."""
    duration = t.fmt_duration(voice.seconds)
    if transcribed:
        return t._(
            "🎤 Voice message ({duration}) below; the text is its automatic transcript.",
            duration=duration,
        )
    return t._("🎤 Voice message ({duration}) below.", duration=duration)


def translated_quote(
    original: str,
    translation: StoredTranslation | None,
    t: Translator,
    failed: bool = False,
    limit: int = MAX_DESCRIPTION,
) -> str:
    """Someone's text for a reader of another language: the machine translation (labelled, with
    the source language) and the original in an expandable quote; else the original alone.

    Translation and original together stay within `limit` (by default MAX_DESCRIPTION, the
    room a message has for what someone wrote): the original is shortened first (the
    translation is what the reader needs; staff find the whole original in the export).
    """
    if translation is None or translation.source_language == t.language:
        unavailable = "\n" + html.escape(t._("⚠️ Translation unavailable.")) if failed else ""
        return resident_quote(shorten(plain_text(original), limit)) + unavailable
    source = t.language_name(translation.source_language)
    shown = shorten(plain_text(translation.text), limit - limit // 6)
    rest = limit - utf16_length(shown)
    return (
        "<b>"
        + html.escape(t._("🌐 Machine translation from {language}:", language=source))
        + "</b>\n"
        + resident_quote(shown)
        + "\n"
        + html.escape(t._("Original:"))
        + "\n<blockquote expandable>"
        + html.escape(shorten(plain_text(original), rest))
        + "</blockquote>"
    )


async def ensure_translated(
    repos: Repositories, subject: str, text: str, target: str
) -> tuple[StoredTranslation | None, bool]:
    """The stored translation of `text` into `target`, asking the service once if there is none.

    Returns (translation, failed): failed when the service was asked and could not answer (a
    later look tries again). A text already in `target` is stored as such and shown as is.
    """
    (translation,), failed = await ensure_all_translated(repos, [(subject, text)], target)
    return translation, failed


async def ensure_all_translated(
    repos: Repositories, texts: Sequence[tuple[str, str]], target: str
) -> tuple[list[StoredTranslation | None], bool]:
    """Stored translations of several (subject, text) into `target`; the missing ones in one
    request, so a reader waits at most one timeout. Returns (translations, failed)."""
    found: list[StoredTranslation | None] = [None] * len(texts)
    if not repos.translation.enabled:
        return found, False
    for index, (subject, text) in enumerate(texts):
        if text:
            found[index] = await repos.translations.get(subject, target)
    missing = [i for i, (_, text) in enumerate(texts) if text and found[i] is None]
    if not missing:
        return found, False
    answer = await repos.translation.translate([texts[i][1] for i in missing], target)
    if answer is None:
        return found, True
    for index, translated in zip(missing, answer, strict=True):
        stored = StoredTranslation(translated.text, translated.source_language or target)
        await repos.translations.put(texts[index][0], target, stored)
        found[index] = stored
    return found, False


def staff_post(
    concern: Concern,
    repos: Repositories,
    t: Translator,
    stamp: StatusStamp | None = None,
    translation: StoredTranslation | None = None,
    translation_failed: bool = False,
    text_room: int = MAX_DESCRIPTION,
    private: bool = False,
) -> str:
    """The HTML post about a concern for staff; never names or identifies the resident.

    `text_room` bounds the resident's text (with its translation), for views that add more;
    `private`: the officer's own chat, where a Reply button answers (not a Telegram reply).
    """
    config = repos.config
    created = t.fmt_datetime(concern.created_at)
    if concern.kind == "question":
        title = "❓ <b>" + html.escape(t._("Question {reference}", reference=concern.reference))
    else:
        title = "📝 <b>" + html.escape(t._("Concern {reference}", reference=concern.reference))
    lines = [
        title + "</b>",
        html.escape(t._("Quarter: {quarter}", quarter=quarter_name(concern.quarter_id, config))),
        html.escape(t._("Topic: {topic}", topic=topic_label(concern.topic_id, config, t))),
        html.escape(t._("Received: {when}", when=created)),
    ]
    if concern.anonymous:
        lines.append(html.escape(t._("Contact: anonymous — replies are kept as internal notes")))
    elif private:
        lines.append(html.escape(t._("Contact: the resident can be answered: ✍️ Reply below")))
    else:
        lines.append(html.escape(t._("Contact: you can reply to this post; the bot forwards it")))
    status = status_label(concern.status, t)
    if stamp is not None:
        lines.append(
            html.escape(t._("Status: {status} (set by {name})", status=status, name=stamp.by))
        )
    else:
        lines.append(html.escape(t._("Status: {status}", status=status)))
    if concern.anonymised_at is not None:
        lines += ["", html.escape(t._("The content was deleted (privacy)."))]
    elif concern.text:
        # Set apart, so a resident's lines cannot pass for the post's own ("Status: done").
        quote = translated_quote(concern.text, translation, t, translation_failed, text_room)
        lines += ["", quote]
    if concern.photo_file_id and not concern.anonymised_at:
        lines.append(html.escape(t._("📷 Photo below")))
    if concern.voice and not concern.anonymised_at:
        lines.append(html.escape(voice_line(concern.voice, concern.transcribed, t)))
    if concern.latitude is not None and not concern.anonymised_at:
        lines.append(
            html.escape(t._("📍 With a location: the button below sends it to you privately."))
        )
    return "\n".join(lines)


async def staff_post_now(
    concern: Concern, repos: Repositories, t: Translator, stamp: StatusStamp | None = None
) -> str:
    """The staff post with the stored translation of the concern, if there is one."""
    translation = None
    if concern.text and concern.anonymised_at is None:
        translation = await repos.translations.get(concern_subject(concern.id), t.language)
    return staff_post(concern, repos, t, stamp, translation)


async def refresh_staff_post(
    bot: ExtBot[RateLimitArgs], repos: Repositories, concern: Concern, stamp: StatusStamp | None
) -> None:
    """Show the new status (and who set it) in the staff group post."""
    group = repos.config.staff_group_for(concern.quarter_id)
    if group is None:
        return
    t = staff_translator(repos)
    for link in await repos.concerns.links(concern.id, group):
        if link.kind != "text":
            continue
        try:
            await bot.edit_message_text(
                await staff_post_now(concern, repos, t, stamp),
                chat_id=group,
                message_id=link.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=status_keyboard(concern, t),
            )
        except TelegramError as exc:
            log.info("staff post of %s not updated: %s", concern.reference, type(exc).__name__)
        return


async def resident_translator(repos: Repositories, concern: Concern) -> Translator | None:
    """The resident's current language, or None when the concern no longer has a resident."""
    if concern.resident_id is None:
        return None
    resident = await repos.residents.get(concern.resident_id)
    language = resident.language if resident and resident.language else concern.language
    return repos.catalogs.translator(language)


async def redact_staff_posts(
    bot: ExtBot[RateLimitArgs], repos: Repositories, posts: list[Link]
) -> None:
    """Remove erased content from staff-group posts (best effort: Telegram may refuse)."""
    t = staff_translator(repos)
    for post in posts:
        concern = await repos.concerns.get(post.concern_id)
        try:
            if post.kind == "text" and concern is not None:
                await bot.edit_message_text(
                    staff_post(concern, repos, t),
                    chat_id=post.chat_id,
                    message_id=post.message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=status_keyboard(concern, t) if not concern.is_closed else None,
                )
            elif post.kind == "followup":
                # Bots may edit their messages at any age, but delete them only for 48 hours.
                await bot.edit_message_text(
                    t._("🗑 Message deleted (privacy)."),
                    chat_id=post.chat_id,
                    message_id=post.message_id,
                )
            elif post.kind == "photo":
                # Replaced, not deleted: editMessageMedia works on messages of any age.
                reference = concern.reference if concern is not None else ""
                caption = t._("{reference}: photo deleted (privacy)", reference=reference)
                await replace_media(bot, post, caption)
            elif post.kind == "voice":
                reference = concern.reference if concern is not None else ""
                caption = t._("{reference}: voice message deleted (privacy)", reference=reference)
                try:
                    await replace_media(bot, post, caption)
                except BadRequest:
                    # Telegram documents editMessageMedia for photos, videos, audio files and
                    # documents, not voice or video notes: those are deleted (for 48 hours
                    # possible; later the refusal is logged, and the file id is gone anyway).
                    await bot.delete_message(post.chat_id, post.message_id)
            else:
                await bot.delete_message(post.chat_id, post.message_id)
        except TelegramError as exc:
            log.info("staff post not redacted: %s", type(exc).__name__)


async def replace_media(bot: ExtBot[RateLimitArgs], post: Link, caption: str) -> None:
    """A staff-group photo or recording becomes the placeholder picture with this caption."""
    await bot.edit_message_media(
        InputMediaPhoto(placeholder_image(), caption=caption),
        chat_id=post.chat_id,
        message_id=post.message_id,
    )


#: Entries of the thread a resident's concern page shows (newest last), and room for each.
PAGE_ENTRIES = 10
PAGE_ENTRY_ROOM = 500


def resident_page(
    concern: Concern,
    events: Sequence[ConcernEvent],
    config: Config,
    t: Translator,
    translations: Mapping[int, StoredTranslation] | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The resident's own view of a concern (HTML): what they wrote, the office's replies and
    status changes (internal notes stay internal), and buttons to add information or, while it
    is open, to withdraw it.

    `translations`: the office's texts in the resident's language, as they were delivered.
    """
    if concern.kind == "question":
        title = t._("Question {reference}", reference=concern.reference)
    else:
        title = t._("Concern {reference}", reference=concern.reference)
    lines = [
        "<b>" + html.escape(title) + "</b>",
        html.escape(t._("Topic: {topic}", topic=topic_label(concern.topic_id, config, t))),
        html.escape(t._("Received: {when}", when=t.fmt_datetime(concern.created_at))),
        html.escape(t._("Status: {status}", status=status_label(concern.status, t))),
    ]
    if concern.text:
        lines += ["", resident_quote(shorten(concern.text, PAGE_ENTRY_ROOM * 2))]
    visible = [e for e in events if e.kind != "note"]
    for event in visible[-PAGE_ENTRIES:]:
        when = t.fmt_datetime(event.created_at)
        if event.kind == "status":
            what = t._("Status: {status}", status=status_label(event.status or "", t))
        elif event.kind == "reply":
            what = t._("Quarter office:")
        else:
            what = t._("You:")
        if event.voice:
            what += " " + voice_line(event.voice, event.transcribed, t)
        what += attachment_marks(event, t)
        # A status note on an anonymous concern stays internal (the outbox never sent it).
        internal = event.kind == "status" and concern.anonymous
        text = "" if internal else event.text or ""
        translation = (translations or {}).get(event.id) if event.kind != "resident" else None
        quote = translated_quote(text, translation, t, limit=PAGE_ENTRY_ROOM) if text else ""
        lines += ["", html.escape(f"{when} · {what}") + (f"\n{quote}" if quote else "")]
    rows = [
        [InlineKeyboardButton(t._("✍️ Add information"), callback_data=f"mypage:add:{concern.id}")]
    ]
    if not concern.is_closed:
        # Asks first (mypage:wd → mypage:wdy): a withdrawal cannot be taken back by the resident.
        rows.append(
            [InlineKeyboardButton(t._("↩️ Withdraw"), callback_data=f"mypage:wd:{concern.id}")]
        )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def attachment_marks(event: ConcernEvent, t: Translator) -> str:
    """' 📷 A photo is attached.' and the like, for an entry that brought a photo or a place."""
    marks = ""
    if event.photo_file_id:
        marks += " " + t._("📷 A photo is attached.")
    if event.latitude is not None:
        marks += " " + t._("📍 A location is attached.")
    return marks
