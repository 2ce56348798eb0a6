"""Offline Telegram for unit tests: a recording BaseRequest and scripted chat participants.

Modelled on python-telegram-bot's tests/auxil offline request: the real Bot, Application and
handlers run unchanged; only the HTTP boundary is replaced.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.error import BadRequest, Forbidden

from bot.app import build_application
from bot.broadcasts import BroadcastService, Pacer, SystemClock
from bot.context import QuartierApplication
from bot.offline import Files, OfflineRequest, chat_info
from bot.outbox import OutboxService
from bot.repositories import Repositories

BOT_ID = 5550001
BOT_USERNAME = "quartier_test_bot"
TOKEN = "5550001:TEST-unit-token-abcdefghijklmnopqrstu"


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]


@dataclass
class RecordingRequest(OfflineRequest):
    """Answers Bot API calls like Telegram would and records them."""

    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    #: Uploaded files by (chat id, message id): (file name, content).
    files: dict[tuple[int, int], tuple[str, bytes]] = field(default_factory=dict)
    #: Files users sent, by file id, for getFile and the download after it.
    user_files: dict[str, bytes] = field(default_factory=dict)
    #: (method, chat id) → the error Telegram answers: a Bad Request, e.g. for a user who does
    #: not accept voice messages, or "Forbidden: …" for one who never started the bot.
    refusals: dict[tuple[str, int], str] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def answer(self, method: str, params: dict[str, Any], files: Files) -> Any:
        """Record the call and return a plausible result (keeping uploaded files)."""
        self.calls.append(Call(method, params))
        refusal = self.refusals.get((method, int(params.get("chat_id", 0) or 0)))
        if refusal is not None:
            if refusal.startswith("Forbidden:"):
                raise Forbidden(refusal)  # e.g. a user who never started the bot
            raise BadRequest(refusal)
        result = self.result_for(method, params)
        if files and isinstance(result, dict):
            for name, content, *_ in files.values():
                self.files[(int(params["chat_id"]), result["message_id"])] = (name, content)
        return result

    def download(self, url: str) -> bytes | None:
        """A file a user sent (getFile answered `files/<file id>`)."""
        return self.user_files.get(url.rsplit("/files/", 1)[-1])

    def result_for(self, method: str, params: dict[str, Any]) -> Any:
        """What Telegram would answer."""
        if method == "getChat":
            return chat_info(int(params["chat_id"]), f"Person {params['chat_id']}")
        if method == "getFile":
            file_id = str(params["file_id"])
            if file_id not in self.user_files:
                raise BadRequest("Bad Request: invalid file_id")
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.user_files[file_id]),
                "file_path": f"files/{file_id}",
            }
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Quartierbot",
                "username": BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in {
            "sendMessage",
            "sendDocument",
            "sendPhoto",
            "sendLocation",
            "sendVoice",
            "sendAudio",
            "sendVideoNote",
        }:
            chat_id = int(params["chat_id"])
            message = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Quartierbot"},
                "text": params.get("text", params.get("caption", "")),
            }
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self.messages[(chat_id, message["message_id"])] = message
            return message
        if method in {"editMessageText", "editMessageReplyMarkup"}:
            key = (int(params["chat_id"]), int(params["message_id"]))
            message = dict(self.messages.get(key, {"message_id": key[1], "date": 0}))
            message["chat"] = {"id": key[0], "type": "private" if key[0] > 0 else "supergroup"}
            if "text" in params:
                message["text"] = params["text"]
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            self.messages[key] = message
            return message
        return True

    def to_chat(self, chat_id: int) -> list[Call]:
        """Calls addressed to one chat."""
        return [c for c in self.calls if str(c.params.get("chat_id")) == str(chat_id)]

    def of(self, method: str) -> list[Call]:
        """Calls of one method."""
        return [c for c in self.calls if c.method == method]


_update_ids = itertools.count(1000)


def message_update(
    user_id: int,
    text: str,
    language_code: str | None = "en",
    chat_id: int | None = None,
    chat_type: str = "private",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A raw message update as Telegram sends it."""
    chat_id = user_id if chat_id is None else chat_id
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": chat_type},
        "from": {
            "id": user_id,
            "is_bot": False,
            "first_name": "Resident",
            **({"language_code": language_code} if language_code else {}),
        },
    }
    if text:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    message.update(extra or {})
    return {"update_id": next(_update_ids), "message": message}


def callback_update(
    user_id: int, message: dict[str, Any], data: str, language_code: str | None = "en"
) -> dict[str, Any]:
    """A raw callback_query update for a button under `message`."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": "Resident",
                **({"language_code": language_code} if language_code else {}),
            },
            "chat_instance": "test",
            "data": data,
            "message": message,
        },
    }


class Person:
    """A scripted Telegram user talking to the bot in a private chat."""

    def __init__(
        self,
        app: QuartierApplication,
        request: RecordingRequest,
        user_id: int,
        lang: str | None,
        chat_id: int | None = None,
        first_name: str = "Resident",
    ) -> None:
        self.app = app
        self.request = request
        self.user_id = user_id
        self.lang = lang
        #: The chat this person writes in: their private chat, or a group.
        self.chat_id = user_id if chat_id is None else chat_id
        self.first_name = first_name

    def in_chat(self, chat_id: int) -> Person:
        """The same person writing in another chat (e.g. the staff group)."""
        return Person(self.app, self.request, self.user_id, self.lang, chat_id, self.first_name)

    async def process(self, raw: dict[str, Any]) -> list[Call]:
        """Feed one update through the application; return the calls it caused."""
        before = len(self.request.calls)
        await self.app.process_update(Update.de_json(raw, self.app.bot))
        if self.app.outbox is not None:
            await self.app.outbox.settled()
        return self.request.calls[before:]

    async def send(self, text: str, **kwargs: Any) -> list[Call]:
        """Type a message (in this person's chat unless told otherwise)."""
        if self.chat_id != self.user_id:
            kwargs.setdefault("chat_id", self.chat_id)
            kwargs.setdefault("chat_type", "supergroup")
        raw = message_update(self.user_id, text, self.lang, **kwargs)
        raw["message"]["from"]["first_name"] = self.first_name
        return await self.process(raw)

    async def reply(self, to: dict[str, Any], text: str) -> list[Call]:
        """Answer a bot message with Telegram's reply feature."""
        return await self.send(text, extra={"reply_to_message": to})

    async def send_extra(self, extra: dict[str, Any], text: str = "") -> list[Call]:
        """Send a non-text message (photo, sticker, voice, location…)."""
        return await self.send(text, extra=extra)

    def last_message_to(self, chat_id: int | None = None) -> dict[str, Any]:
        """The newest message the bot sent into a chat (default: this person's)."""
        target = self.chat_id if chat_id is None else chat_id
        for (cid, _), message in reversed(list(self.request.messages.items())):
            if cid == target:
                return message
        raise AssertionError(f"no bot message in chat {target}")

    def last_keyboard_message(self, button_text: str) -> tuple[dict[str, Any], str]:
        """The newest bot message in this chat with an inline button containing the text."""
        for (chat_id, _), message in reversed(list(self.request.messages.items())):
            if chat_id != self.chat_id:
                continue
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if button_text in button["text"]:
                        return message, button["callback_data"]
        raise AssertionError(f"no button {button_text!r} in chat {self.chat_id}")

    def old_bot_message(self) -> dict[str, Any]:
        """A bot message in this chat, as a forged or stale callback would carry it."""
        return {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private" if self.chat_id > 0 else "supergroup"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Quartierbot"},
            "text": "old",
        }

    async def press(self, button_text: str) -> list[Call]:
        """Tap an inline button (the newest one whose label contains the text)."""
        message, data = self.last_keyboard_message(button_text)
        return await self.press_data(message, data)

    async def press_callback(self, data: str) -> list[Call]:
        """Tap the newest button carrying this callback data (labels differ per language)."""
        for (chat_id, _), message in reversed(list(self.request.messages.items())):
            if chat_id != self.chat_id:
                continue
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                if any(button.get("callback_data") == data for button in row):
                    return await self.press_data(message, data)
        raise AssertionError(f"no button with data {data!r} in chat {self.chat_id}")

    async def press_data(self, message: dict[str, Any], data: str) -> list[Call]:
        """Send a callback with arbitrary data (for forged-button tests)."""
        raw = callback_update(self.user_id, message, data, self.lang)
        raw["callback_query"]["from"]["first_name"] = self.first_name
        return await self.process(raw)


def texts(calls: list[Call]) -> list[str]:
    """The message texts the bot sent or edited in these calls (not button toasts)."""
    return [
        str(c.params["text"])
        for c in calls
        if c.method in {"sendMessage", "editMessageText"} and "text" in c.params
    ]


def toasts(calls: list[Call]) -> list[str]:
    """Texts of answerCallbackQuery notifications."""
    return [str(c.params.get("text", "")) for c in calls if c.method == "answerCallbackQuery"]


def reply_keyboard(calls: list[Call]) -> list[str]:
    """Labels of the last reply keyboard sent in these calls."""
    for call in reversed(calls):
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict) and "keyboard" in markup:
            return [
                b["text"] if isinstance(b, dict) else b for row in markup["keyboard"] for b in row
            ]
    return []


@asynccontextmanager
async def running_app(
    repos: Repositories,
) -> AsyncIterator[tuple[QuartierApplication, RecordingRequest]]:
    """An initialised application over an open database, shut down afterwards."""
    request = RecordingRequest()
    app = build_application(repos, TOKEN, request=request, updates_request=RecordingRequest())
    await repos.db.open()
    await app.initialize()
    # What post_init does in production (tests do not run the polling loop that calls it).
    app.broadcaster = BroadcastService(repos, app.bot)
    # Without Telegram's pacing, and Person.process waits until it has delivered: a test sees
    # an update's messages to others with the update's own answers.
    app.outbox = OutboxService(
        repos, app.bot, Pacer(1000, SystemClock()), private_interval=0, group_interval=0
    )
    app.outbox.start()
    try:
        yield app, request
    finally:
        await app.outbox.shutdown()
        await app.broadcaster.shutdown()
        await app.shutdown()
        await repos.db.close()
