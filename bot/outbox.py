"""Delivers the outbox: messages to someone other than the update's sender, in the background.

Handlers and repositories only write outbox rows (storage/outbox.py), in the transaction of the
change they report; this service sends them. One message is on its way at a time, so a crash
repeats at most one. Each target chat keeps Telegram's pace (a message per second into a private
chat, about 20 a minute into a group), every send takes its turn from the bot-wide pacer that
broadcasts use, a 429 holds back only its chat, and server errors or timeouts are tried again
with growing pauses. The text is rendered at delivery, in the recipient's language. Times here
are the real clock (storage.db.utc_now), as in the rows: delivery is physical, not office time.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.broadcasts import NO_RETRY, Pacer, SendOutcome, classify
from bot.concerns import (
    ensure_translated,
    location_keyboard,
    quarter_name,
    refresh_staff_post,
    resident_translator,
    staff_post,
    staff_translator,
    status_keyboard,
    status_label,
    topic_label,
    translated_quote,
    voice_line,
)
from bot.events import (
    ReaderEvent,
    build_ics,
    event_for_reader,
    machine_label,
    original_text,
    title_label,
)
from bot.i18n import N_, Translator
from bot.notify import cancelled_text, changed_text, promoted_text, translator_for_user
from bot.ratelimit import RateLimitArgs
from bot.repositories import Repositories
from bot.transcription import fetch_recording
from storage.concerns import Concern, ConcernEvent, Voice
from storage.db import utc_now
from storage.outbox import OutboxMessage
from storage.translations import concern_subject, entry_subject

log = logging.getLogger(__name__)

#: Telegram's pace per target: about one message a second into a private chat, 20 a minute
#: into a group.
PRIVATE_INTERVAL = 1.0
GROUP_INTERVAL = 3.0
#: Retries after a timeout or server error wait 2, 4, 8 … seconds, at most this long.
MAX_BACKOFF = timedelta(minutes=10)
#: Given up after this many tries (about a day of an unreachable Telegram).
MAX_ATTEMPTS = 150
#: A staff reply as the resident reads it (plain, or HTML around a translated quote).
STAFF_REPLY = N_(
    "Reply from the quarter office about your concern {reference}:\n\n{text}\n\n"
    "To answer, reply to this message."
)
#: An officer's note with a status change, as the resident reads it.
OFFICE_NOTE = N_("Message from the quarter office: {note}")
#: Recordings that follow a text announcing them ("voice message below").
VOICE_KINDS = frozenset({"concern_voice", "followup_voice", "reply_voice"})
#: How often the outbox is looked at when nobody wakes it (a row may wait for its time).
IDLE_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Delivered:
    """What a send produced: the message in the target chat, and its link kind for a concern."""

    message: Message | None
    link_kind: str | None = None


Send = Callable[[], Awaitable[Delivered]]


class OutboxService:
    """The background task that delivers outbox rows, and the handlers' way to wake it."""

    def __init__(
        self,
        repos: Repositories,
        bot: ExtBot[RateLimitArgs],
        pacer: Pacer,
        *,
        private_interval: float = PRIVATE_INTERVAL,
        group_interval: float = GROUP_INTERVAL,
    ) -> None:
        self.repos = repos
        self.bot = bot
        self.pacer = pacer
        self.private_interval = private_interval
        self.group_interval = group_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Per target chat: when (time.monotonic) its next message may go.
        self._next_send: dict[int, float] = {}
        #: Outbox ids a handler waits for (to tell staff "sent" or "not delivered").
        self._watched: dict[int, asyncio.Future[bool]] = {}
        self._busy = False

    def start(self) -> None:
        """Run the delivery loop in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    def wake(self) -> None:
        """Something new was committed to the outbox."""
        self._wake.set()

    async def shutdown(self) -> None:
        """Stop delivering; what is left goes out after the next start."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for future in self._watched.values():
            future.cancel()

    async def delivered_within(self, message_id: int, seconds: float) -> bool | None:
        """Wait briefly for one message: True delivered, False refused, None still waiting."""
        # Watched first, then looked up: a delivery in between settles the future itself.
        future = self._watched.setdefault(message_id, asyncio.get_running_loop().create_future())
        state = await self.repos.outbox.state_of(message_id)
        if state is None or state == "failed":
            self._settle(message_id, state is None)
        self.wake()
        try:
            return await asyncio.wait_for(asyncio.shield(future), seconds)
        except TimeoutError:
            return None

    async def deliver_due(self) -> int:
        """Deliver what may go now, one message after another; returns how many were handled."""
        handled = 0
        self._busy = True
        try:
            while await self._deliver_one():
                handled += 1
        finally:
            self._busy = False
        return handled

    async def settled(self, seconds: float = 10.0) -> None:
        """Until nothing due waits and nothing is on its way (at most `seconds`; for tests)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self._busy and not await self.repos.outbox.due(utc_now(), limit=1):
                return
            self.wake()
            await asyncio.sleep(0.005)

    async def _run(self) -> None:
        """Deliver due messages one at a time, for ever."""
        await self.repos.outbox.requeue_interrupted()
        while True:
            try:
                await self.deliver_due()
            except Exception:
                # A bug or a database problem must not end deliveries for good.
                log.exception("outbox delivery failed")
            await self._sleep()

    async def _sleep(self) -> None:
        """Until woken, or until the next chat may receive (at most IDLE_POLL_SECONDS)."""
        now = time.monotonic()
        later = [moment - now for moment in self._next_send.values() if moment > now]
        delay = min([IDLE_POLL_SECONDS, *later])
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.05, delay))

    async def _deliver_one(self) -> bool:
        """Send the oldest due message of a chat that may receive now; False if there is none."""
        now = time.monotonic()
        held: set[int] = set()
        for message in await self.repos.outbox.due(utc_now()):
            if message.chat_id in held:
                continue
            # Later messages of a chat wait for its earlier ones: order within a chat holds.
            held.add(message.chat_id)
            if self._next_send.get(message.chat_id, 0.0) > now:
                continue
            if message.kind in VOICE_KINDS and await self.repos.outbox.behind_its_text(message):
                continue
            await self._deliver(message)
            return True
        return False

    async def _deliver(self, message: OutboxMessage) -> None:
        """Claim, send, and record one message."""
        if not await self.repos.outbox.claim(message.id):
            return
        interval = self.group_interval if message.chat_id < 0 else self.private_interval
        try:
            send = await self._prepare(message)
        except Exception:
            # A bug or a database hiccup while rendering: try again later, never lose the row.
            log.exception("outbox: %s could not be prepared", message.kind)
            await self.repos.outbox.retry_at(message.id, utc_now() + MAX_BACKOFF)
            return
        if send is None:
            # Its subject is gone (erased, anonymised): nothing to say any more.
            await self._finish(message, False)
            return
        await self.pacer.wait()
        try:
            delivered = await send()
        except TelegramError as exc:
            self._next_send[message.chat_id] = time.monotonic() + interval
            await self._failed(message, exc)
            return
        self._next_send[message.chat_id] = time.monotonic() + interval
        await self._record(message, delivered)
        await self._finish(message, True)

    async def _record(self, message: OutboxMessage, delivered: Delivered) -> None:
        """Link a delivered message to its concern (replies to it find the concern)."""
        concerns = self.repos.concerns
        if delivered.message is not None and message.concern_id is not None and delivered.link_kind:
            await concerns.link(
                message.chat_id,
                delivered.message.message_id,
                message.concern_id,
                delivered.link_kind,
            )
        if message.kind == "concern_post" and message.concern_id is not None:
            await concerns.mark_posted(message.concern_id)

    async def _failed(self, message: OutboxMessage, error: TelegramError) -> None:
        """Try again later, or give up for good."""
        result = classify(error)
        outbox = self.repos.outbox
        now = utc_now()
        if result.outcome is SendOutcome.RETRY_AFTER:
            # Only this chat waits (a group's flood limit), everything else goes on.
            self._next_send[message.chat_id] = time.monotonic() + result.retry_after
            await outbox.retry_at(message.id, now + timedelta(seconds=result.retry_after))
            log.info("outbox: flood limit for a chat, %.0f s", result.retry_after)
            return
        if result.outcome is SendOutcome.TRANSIENT and message.attempts + 1 < MAX_ATTEMPTS:
            backoff = min(MAX_BACKOFF, timedelta(seconds=2 ** min(message.attempts + 1, 10)))
            await outbox.retry_at(message.id, now + backoff)
            log.info("outbox: %s not delivered (%s), retrying", message.kind, result.error)
            return
        if result.outcome is SendOutcome.BLOCKED and message.chat_id > 0:
            await self.repos.residents.mark_inactive(message.chat_id)
        log.warning("outbox: %s refused for good (%s)", message.kind, result.error)
        await outbox.failed(message.id)
        self._settle(message.id, False)

    async def _finish(self, message: OutboxMessage, delivered: bool) -> None:
        """Forget a delivered row and tell whoever waits for it."""
        await self.repos.outbox.delivered(message.id)
        self._settle(message.id, delivered)

    def _settle(self, message_id: int, delivered: bool) -> None:
        """Resolve a handler's wait for this message, if any."""
        future = self._watched.pop(message_id, None)
        if future is not None and not future.done():
            future.set_result(delivered)

    # -- what each kind of message says ------------------------------------------------------

    async def _prepare(self, message: OutboxMessage) -> Send | None:
        """The send for one row, rendered now; None when there is nothing left to send."""
        if message.kind in ("promoted", "event_cancelled", "event_changed"):
            return await self._event_notice(message)
        send = await self._render(message)
        if send is not None:
            # Rendering may have waited for the translation service: if the concern was erased
            # meanwhile (/deleteme, retention), render again from what is left.
            concern = await self.repos.concerns.get(message.concern_id or 0)
            if concern is None or concern.anonymised_at is not None:
                return await self._render(message)
        return send

    async def _render(self, message: OutboxMessage) -> Send | None:
        """The send for a row about a concern, from the concern as stored now."""
        concern = await self.repos.concerns.get(message.concern_id or 0)
        # A resident hears nothing more about an anonymised concern; staff see "deleted".
        if concern is None or (concern.anonymised_at is not None and message.chat_id > 0):
            return None
        entry = await self._entry(concern, message.entry_id)
        if message.kind == "concern_post":
            return await self._post(message.chat_id, concern)
        if message.kind == "concern_photo" and concern.photo_file_id:
            return await self._photo(message.chat_id, concern)
        if message.kind == "concern_voice" and concern.voice:
            return await self._voice(message.chat_id, concern, concern.voice)
        if message.kind == "followup" and entry is not None and has_content(entry):
            return await self._followup(message.chat_id, concern, entry)
        if message.kind == "reply" and entry is not None and (entry.text or entry.voice):
            return await self._reply(message.chat_id, concern, entry)
        if message.kind == "followup_photo" and entry is not None and entry.photo_file_id:
            return await self._photo(message.chat_id, concern, entry.photo_file_id)
        if message.kind in ("followup_voice", "reply_voice") and entry and entry.voice:
            return await self._voice(message.chat_id, concern, entry.voice)
        if message.kind == "status" and entry is not None:
            return await self._status(message.chat_id, concern, entry)
        if message.kind == "withdrawn":
            return await self._withdrawn(message.chat_id, concern)
        return None

    async def _entry(self, concern: Concern, entry_id: int | None) -> ConcernEvent | None:
        """One entry of the concern's thread."""
        if entry_id is None:
            return None
        return next(
            (e for e in await self.repos.concerns.events(concern.id) if e.id == entry_id), None
        )

    async def _post(self, chat_id: int, concern: Concern) -> Send:
        """The staff-group post of a new concern (translated for staff), with its buttons."""
        t = staff_translator(self.repos)
        # Here, in the background, not in the resident's submit: a slow service delays no one.
        translation, failed = await ensure_translated(
            self.repos, concern_subject(concern.id), concern.text or "", t.language
        )
        post = staff_post(concern, self.repos, t, None, translation, failed)

        async def send() -> Delivered:
            """One sendMessage."""
            sent = await self.bot.send_message(
                chat_id,
                post,
                parse_mode=ParseMode.HTML,
                reply_markup=status_keyboard(concern, t),
                rate_limit_args=NO_RETRY,
            )
            return Delivered(sent, "text")

        return send

    async def _under_post(self, chat_id: int, concern: Concern) -> int | None:
        """The message id of the concern's post in this chat, to answer under it."""
        links = await self.repos.concerns.links(concern.id, chat_id)
        return next((link.message_id for link in links if link.kind == "text"), None)

    async def _photo(self, chat_id: int, concern: Concern, file_id: str | None = None) -> Send:
        """The concern's photo (or one added later) under its post."""
        post = await self._under_post(chat_id, concern)

        async def send() -> Delivered:
            """One sendPhoto."""
            sent = await self.bot.send_photo(
                chat_id,
                file_id or str(concern.photo_file_id),
                caption=concern.reference,
                reply_to_message_id=post,
                allow_sending_without_reply=True,
                rate_limit_args=NO_RETRY,
            )
            return Delivered(sent, "photo")

        return send

    async def _voice(self, chat_id: int, concern: Concern, voice: Voice) -> Send:
        """A recording: under the post in a staff group, or to a resident after the office's
        reply; captioned with the reference (a video note takes no caption)."""
        post = await self._under_post(chat_id, concern) if chat_id < 0 else None
        caption = concern.reference
        # A staff group's copy must stay replaceable: editMessageMedia takes no voice or video
        # notes, and bots may delete only for 48 hours. So it goes up again as a file, which
        # /deleteme and retention can turn into the placeholder at any age.
        upload = None
        if chat_id < 0 and voice.kind in ("voice", "video_note"):
            upload = await fetch_recording(self.bot, voice.file_id)
        under: dict[str, Any] = {
            "reply_to_message_id": post,
            "allow_sending_without_reply": True,
            "rate_limit_args": NO_RETRY,
        }

        async def as_file(content: bytes) -> Message:
            """The recording as a document (kept as one: no server-side type detection)."""
            name = (
                f"{concern.reference}-{voice.kind}.{'mp4' if voice.kind == 'video_note' else 'ogg'}"
            )
            return await self.bot.send_document(
                chat_id,
                InputFile(content, filename=name),
                caption=caption,
                disable_content_type_detection=True,
                **under,
            )

        async def send() -> Delivered:
            """One sendDocument, sendAudio, sendVideoNote or sendVoice."""
            if upload is not None:
                sent = await as_file(upload)
            elif voice.kind == "audio":
                sent = await self.bot.send_audio(chat_id, voice.file_id, caption=caption, **under)
            elif voice.kind == "video_note":
                sent = await self.bot.send_video_note(chat_id, voice.file_id, **under)
            else:
                try:
                    sent = await self.bot.send_voice(
                        chat_id, voice.file_id, caption=caption, **under
                    )
                except BadRequest:
                    # The resident does not accept voice messages (a privacy setting): a file.
                    content = await fetch_recording(self.bot, voice.file_id)
                    if content is None:
                        raise
                    sent = await as_file(content)
            return Delivered(sent, "voice")

        return send

    async def _followup(self, chat_id: int, concern: Concern, entry: ConcernEvent) -> Send:
        """A resident's follow-up (translated for staff), under the concern's post; a voice
        message follows as its own send."""
        t = staff_translator(self.repos)
        post = await self._under_post(chat_id, concern)
        text = entry.text or ""
        parts = []
        if text:
            translation, failed = await ensure_translated(
                self.repos, entry_subject(entry.id), text, t.language
            )
            # HTML: the resident's text is escaped and set apart (resident_quote).
            parts.append(translated_quote(text, translation, t, failed))
        if entry.voice:
            parts.append(html.escape(voice_line(entry.voice, entry.transcribed, t)))
        if entry.photo_file_id:
            parts.append(html.escape(t._("📷 Photo below")))
        keyboard = None
        if entry.latitude is not None and concern.latitude is not None:
            # Never the place itself in the group: the button sends it to the officer who asks.
            parts.append(
                html.escape(t._("📍 With a location: the button below sends it to you privately."))
            )
            keyboard = location_keyboard(concern, t)
        body = t._(
            "💬 Message about {reference}:\n\n{text}",
            reference=concern.reference,
            text="\n".join(parts),
        )

        async def send() -> Delivered:
            """One sendMessage."""
            sent = await self.bot.send_message(
                chat_id,
                body,
                parse_mode=ParseMode.HTML,
                reply_to_message_id=post,
                allow_sending_without_reply=True,
                reply_markup=keyboard,
                rate_limit_args=NO_RETRY,
            )
            return Delivered(sent, "followup")

        return send

    async def _reply(self, chat_id: int, concern: Concern, entry: ConcernEvent) -> Send | None:
        """A staff reply in the resident's language (machine-translated and labelled, with the
        officer's original expandable); their Telegram reply joins the thread."""
        t = await resident_translator(self.repos, concern)
        if t is None:
            return None
        text = entry.text or ""
        translation = None
        if text:
            translation, _ = await ensure_translated(
                self.repos, entry_subject(entry.id), text, t.language
            )
        if entry.voice is None and (
            translation is None or translation.source_language == t.language
        ):
            plain = t._(STAFF_REPLY, reference=concern.reference, text=text)
            return self._plain(chat_id, plain, "text")
        parts = [translated_quote(text, translation, t)] if text else []
        if entry.voice is not None:
            # The recording follows as its own message (the outbox's "reply_voice").
            parts.append(html.escape(voice_line(entry.voice, entry.transcribed, t)))
        body = t._(STAFF_REPLY, reference=concern.reference, text="\n".join(parts))
        return self._plain(chat_id, body, "text", html=True)

    async def _status(self, chat_id: int, concern: Concern, entry: ConcernEvent) -> Send | None:
        """A status change, with the office's note unless the concern is anonymous."""
        t = await resident_translator(self.repos, concern)
        if t is None:
            return None
        body = t._(
            "Update on your concern {reference} ({topic}): the status is now “{status}”.",
            reference=concern.reference,
            topic=topic_label(concern.topic_id, self.repos.config, t),
            status=status_label(entry.status or concern.status, t),
        )
        # For anonymous concerns staff cannot write to the resident, so a note stays internal.
        if not entry.text or concern.anonymous:
            return self._plain(chat_id, body, "text")
        translation, _ = await ensure_translated(
            self.repos, entry_subject(entry.id), entry.text, t.language
        )
        if translation is None or translation.source_language == t.language:
            body += "\n\n" + t._(OFFICE_NOTE, note=entry.text)
            return self._plain(chat_id, body, "text")
        note = t._(OFFICE_NOTE, note=translated_quote(entry.text, translation, t))
        return self._plain(chat_id, html.escape(body) + "\n\n" + note, "text", html=True)

    async def _withdrawn(self, chat_id: int, concern: Concern) -> Send:
        """The resident withdrew the concern: a notice under its staff post, and the post's
        status brought up to date (a Telegram reply to the notice still answers them)."""
        t = staff_translator(self.repos)
        post = await self._under_post(chat_id, concern)
        body = t._(
            "↩️ The resident withdrew {reference}; it is closed now.",
            reference=concern.reference,
        )

        async def send() -> Delivered:
            """One sendMessage, then the post's edit (best effort)."""
            sent = await self.bot.send_message(
                chat_id,
                body,
                reply_to_message_id=post,
                allow_sending_without_reply=True,
                rate_limit_args=NO_RETRY,
            )
            # As stored now, not as rendered: erased meanwhile (/deleteme, retention), the post
            # must not get the resident's text back.
            current = await self.repos.concerns.get(concern.id)
            if current is not None:
                await refresh_staff_post(self.bot, self.repos, current, None)
            return Delivered(sent, "followup")

        return send

    async def _event_notice(self, message: OutboxMessage) -> Send | None:
        """A waiting-list place, or a called-off event, in the resident's language."""
        event = await self.repos.events.get(message.event_id or 0)
        if event is None:
            return None
        t = await translator_for_user(self.repos, message.chat_id)
        reader = await event_for_reader(self.repos, event, t.language)
        shown = reader.event
        if message.kind == "event_changed":
            return self._event_changed(message.chat_id, reader, t)
        body = promoted_text(shown, t) if message.kind == "promoted" else cancelled_text(shown, t)
        if reader.title_source:
            body += "\n\n" + title_label(reader.title_source, t)
        return self._plain(message.chat_id, body, None)

    def _event_changed(self, chat_id: int, reader: ReaderEvent, t: Translator) -> Send:
        """The new time or place, with a calendar file that replaces the old entry (same UID)."""
        event = reader.event
        caption = changed_text(event, t)
        if reader.title_source:
            caption += "\n\n" + title_label(reader.title_source, t)
        note = ""
        if reader.source_language:
            note = machine_label(reader.source_language, t) + "\n\n" + original_text(event, t)
        ics = build_ics(
            event,
            quarter_name(event.quarter_id, self.repos.config),
            self.bot.username,
            self.repos.config.timezone,
            note,
        )

        async def send() -> Delivered:
            """One sendDocument."""
            sent = await self.bot.send_document(
                chat_id,
                InputFile(ics, filename=f"event-{event.id}.ics"),
                caption=caption,
                rate_limit_args=NO_RETRY,
            )
            return Delivered(sent, None)

        return send

    def _plain(self, chat_id: int, text: str, link_kind: str | None, html: bool = False) -> Send:
        """A text message to one chat (HTML when it quotes a translation)."""
        parse_mode = ParseMode.HTML if html else None

        async def send() -> Delivered:
            """One sendMessage."""
            sent = await self.bot.send_message(
                chat_id, text, parse_mode=parse_mode, rate_limit_args=NO_RETRY
            )
            return Delivered(sent, link_kind)

        return send


def has_content(entry: ConcernEvent) -> bool:
    """A follow-up with something left to tell (erasure empties them)."""
    return bool(entry.text or entry.voice or entry.photo_file_id or entry.latitude is not None)
