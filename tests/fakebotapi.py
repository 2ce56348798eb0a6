"""Loopback fake of the Telegram Bot API for end-to-end tests.

The bot under test talks to :class:`FakeBotApi` over real HTTP exactly as it talks to
api.telegram.org (point ``TELEGRAM_API_BASE_URL`` at :attr:`FakeBotApi.base_url`). Tests script
residents with the ``push_*`` methods, observe the bot with ``calls`` / ``sent_messages`` /
``wait_for_*`` and inject faults with ``fail_next`` / ``drop_next`` / ``set_delay`` /
``block_user``.

Only the standard library is used so the fake cannot drift with dependency upgrades. Every
public method is thread-safe; the ``wait_*`` methods block (bounded by a timeout) and have
``*_async`` twins for tests whose bot runs on the same event loop.

Received parameters are normalised before they are recorded in :class:`Call`: JSON objects and
arrays (``reply_markup``, ``commands``, ``scope``...) are decoded, well-known numeric and boolean
fields are converted (``chat_id`` becomes an ``int``) and uploaded files become
:class:`UploadedFile` objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.parser
import email.utils
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message as MimeHeaders
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "ApiError",
    "Call",
    "FakeApiTimeout",
    "FakeBotApi",
    "FakeUser",
    "UploadedFile",
]

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
Handler = Callable[[JsonDict], Any]
T = TypeVar("T")

DEFAULT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
# Telegram itself caps long polling at 50 s; tests never want to wait that long.
MAX_POLL_TIMEOUT = 30.0
IDLE_QUIET_SECONDS = 0.3
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
# Mirrors the Bot API default: these update types must be requested explicitly.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Per-chat faults (blocked user, chat not found) apply to these methods only: getChat and
# answerCallbackQuery keep working for a blocked user on the real API too.
CHAT_TARGETED_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendLocation",
        "sendVoice",
        "sendAudio",
        "sendVideoNote",
        "sendChatAction",
        "editMessageText",
        "editMessageMedia",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
    }
)

# Parameters that arrive as strings in form/multipart bodies but are numbers/booleans.
INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "live_period",
        "heading",
        "proximity_alert_radius",
    }
)
FLOAT_PARAMS = frozenset({"latitude", "longitude", "horizontal_accuracy"})
BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
    }
)
# Free text must never be JSON-decoded, even when it happens to look like JSON.
TEXT_PARAMS = frozenset({"text", "caption", "description", "short_description", "title"})
_INT_RE = re.compile(r"-?\d+")


# --------------------------------------------------------------------------- public records


@dataclass
class FakeUser:
    """A scripted Telegram user (resident or staff member)."""

    id: int
    first_name: str = "Test"
    language_code: str | None = "en"
    username: str | None = None
    last_name: str | None = None

    def to_dict(self) -> JsonDict:
        """The Bot API ``User`` object."""
        user: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        _put(user, "last_name", self.last_name)
        _put(user, "username", self.username)
        _put(user, "language_code", self.language_code)
        return user

    def private_chat(self) -> JsonDict:
        """The Bot API ``Chat`` object of this user's private chat with the bot."""
        chat: JsonDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        _put(chat, "last_name", self.last_name)
        _put(chat, "username", self.username)
        return chat


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content: bytes
    content_type: str | None = None


@dataclass
class Call:
    """One API request as the fake saw it; ``response`` is None when the connection was dropped."""

    method: str
    params: JsonDict
    at: float
    response: JsonDict | None

    @property
    def ok(self) -> bool:
        """Whether the fake answered with ``ok: true``."""
        return bool(self.response and self.response.get("ok"))

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call (None otherwise)."""
        return self.response.get("result") if self.response else None

    @property
    def error_code(self) -> int | None:
        """The ``error_code`` of a failed call (None otherwise)."""
        return self.response.get("error_code") if self.response else None


class ApiError(Exception):
    """A Bot API error response; raise it from a method handler."""

    def __init__(
        self,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters: JsonDict = {}
        _put(self.parameters, "retry_after", retry_after)
        _put(self.parameters, "migrate_to_chat_id", migrate_to_chat_id)

    def to_response(self) -> JsonDict:
        """The JSON body Telegram sends for this error."""
        body: JsonDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


class FakeApiTimeout(AssertionError):
    """A ``wait_*`` call timed out; an AssertionError so pytest reports it as a test failure."""


# --------------------------------------------------------------------------- internal records


@dataclass
class _Fault:
    """A queued failure for one method."""

    remaining: int
    error: ApiError | None  # None: drop the connection without answering
    processed: bool = False  # for drops: whether the request took effect before the drop


@dataclass
class _StoredFile:
    """A file known to the fake, downloadable via getFile."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


@dataclass
class _ChatState:
    """Messages of one chat; user and bot messages share the message_id sequence as on Telegram."""

    chat: JsonDict
    messages: dict[int, JsonDict] = field(default_factory=dict)
    last_message_id: int = 0

    def next_message_id(self) -> int:
        """Allocate the next message id of this chat."""
        self.last_message_id += 1
        return self.last_message_id


@dataclass
class _Event:
    """An entry of the event log that cursors point into."""

    kind: str  # "call", "sent", "edited" or "deleted"
    chat_id: int | None = None
    message: JsonDict | None = None
    call: Call | None = None


@dataclass
class _Outcome:
    """What the HTTP layer should send back."""

    status: int
    body: bytes
    content_type: str = "application/json"
    drop: bool = False
    on_sent: Callable[[], None] | None = None


class _EntityParseError(Exception):
    """Malformed parse_mode=HTML text."""


# --------------------------------------------------------------------------- the fake


class FakeBotApi:
    """A Telegram Bot API server on 127.0.0.1 with scripting, recording and fault injection."""

    #: The HTTP server class; None: `_Server` (a subclass may give it a longer listen backlog).
    server_class: type[_Server] | None = None

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "quartier_test_bot",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.internal_errors: list[BaseException] = []
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._cond = threading.Condition(threading.RLock())
        self._log: list[_Event] = []
        self._calls: list[Call] = []
        self._pending: list[JsonDict] = []
        self._last_update_id = 0
        self._delivered_up_to = 0
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._waiting_polls = 0
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._chats: dict[int, _ChatState] = {}
        self._bot_messages: list[tuple[int, int]] = []
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_seq = itertools.count(1)
        self._commands: dict[tuple[str, str], list[JsonDict]] = {}
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str | None, float] = {}
        self._chat_errors: dict[int, ApiError] = {}
        #: What the bot registered with setWebhook (url, secret_token), if it did.
        self.webhook: dict[str, Any] = {}
        self._methods: dict[str, tuple[str, Handler]] = {}
        self._register_builtin_methods()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Bind 127.0.0.1 (the previous port again after a stop) and serve in a daemon thread."""
        if self._server is not None:
            return
        self._stopped.clear()
        server = (self.server_class or _Server)(("127.0.0.1", self._port), self)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakebotapi:{self._port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and cut open connections (like an outage); recorded state is kept."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()  # release long polls so their threads can finish
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeBotApi:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if not self._port:
            raise RuntimeError("FakeBotApi is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Value for TELEGRAM_API_BASE_URL / ``Bot(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for TELEGRAM_API_BASE_FILE_URL / ``Bot(base_file_url=...)``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    def bot_env(self) -> dict[str, str]:
        """Environment for a bot subprocess: os.environ plus token and API URLs."""
        env = dict(os.environ)
        env.update(
            TELEGRAM_BOT_TOKEN=self.token,
            TELEGRAM_API_BASE_URL=self.base_url,
            TELEGRAM_API_BASE_FILE_URL=self.base_file_url,
        )
        return env

    # ------------------------------------------------------------------ scripting users

    def push_message(
        self,
        user: FakeUser,
        text: str,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        entities: list[JsonDict] | None = None,
    ) -> int:
        """A user sends a text message; returns the update_id.

        ``entities`` adds formatting (bold, links…) as a Telegram client would send it.
        """
        content: JsonDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        if entities:
            content["entities"] = [*content.get("entities", []), *copy.deepcopy(entities)]
        return self._push_user_message(user, chat_id, content, reply_to_message_id)

    def push_location(
        self, user: FakeUser, latitude: float, longitude: float, chat_id: int | None = None
    ) -> int:
        """A user shares a location; returns the update_id."""
        content = {"location": {"latitude": latitude, "longitude": longitude}}
        return self._push_user_message(user, chat_id, content)

    def push_photo(
        self,
        user: FakeUser,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        """A user sends a photo (downloadable by the bot); returns the update_id."""
        with self._cond:
            stored = self._store_file(content, "photos", "photo.jpg")
        message: JsonDict = {"photo": [_photo_size(stored, 320, 240)]}
        _put(message, "caption", caption)
        return self._push_user_message(user, chat_id, message)

    def push_voice(
        self,
        user: FakeUser,
        content: bytes,
        seconds: int,
        kind: str = "voice",
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        file_size: int | None = None,
    ) -> int:
        """A user sends a voice note, an audio file or a video note (downloadable by the bot).

        `file_size` overrides the reported size (a recording too large for bots to download).
        """
        extension = {"voice": ".oga", "audio": ".mp3", "video_note": ".mp4"}[kind]
        with self._cond:
            stored = self._store_file(content, kind + "s", kind + extension)
        media: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": seconds,
            "file_size": len(content) if file_size is None else file_size,
        }
        if kind == "voice":
            media["mime_type"] = "audio/ogg"
        if kind == "video_note":
            media["length"] = 240
        return self._push_user_message(user, chat_id, {kind: media}, reply_to_message_id)

    def push_document(
        self,
        user: FakeUser,
        content: bytes,
        filename: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        """A user sends a file (downloadable by the bot); returns the update_id."""
        with self._cond:
            stored = self._store_file(content, "documents", filename)
        document = _document(stored, filename, mime_type)
        message: JsonDict = {"document": document}
        _put(message, "caption", caption)
        return self._push_user_message(user, chat_id, message)

    def push_sticker(self, user: FakeUser, emoji: str = "👍", chat_id: int | None = None) -> int:
        """A user sends a sticker; returns the update_id."""
        with self._cond:
            stored = self._store_file(b"RIFF-fake-webp", "stickers", "sticker.webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(stored.content),
        }
        return self._push_user_message(user, chat_id, {"sticker": sticker})

    def push_callback(self, user: FakeUser, message: JsonDict, data: str) -> int:
        """A user presses an inline button of ``message``; returns the update_id.

        The callback query id is ``callback_query_id(update_id)``.
        """
        chat_id = message["chat"]["id"]
        with self._cond:
            state = self._chats.get(chat_id)
            # Telegram attaches the message as it currently is, not the test's stale copy.
            current = state.messages.get(message["message_id"]) if state else None
            update_id = self._allocate_update_id()
            query_id = self.callback_query_id(update_id)
            self._callback_queries[query_id] = False
            query = {
                "id": query_id,
                "from": user.to_dict(),
                "chat_instance": f"ci{chat_id}",
                "data": data,
                "message": copy.deepcopy(current if current is not None else message),
            }
            return self._enqueue({"update_id": update_id, "callback_query": query})

    @staticmethod
    def callback_query_id(update_id: int) -> str:
        """The callback query id used by ``push_callback`` for that update."""
        return f"cbq{update_id}"

    def push_update(self, update: JsonDict) -> int:
        """Queue a raw update (for odd or hostile payloads); assigns update_id if missing."""
        update = copy.deepcopy(update)
        with self._cond:
            if "update_id" not in update:
                update["update_id"] = self._allocate_update_id()
            else:
                self._last_update_id = max(self._last_update_id, int(update["update_id"]))
            return self._enqueue(update)

    # ------------------------------------------------------------------ observing the bot

    @property
    def calls(self) -> list[Call]:
        """Every API request so far, in completion order (``at`` is the arrival time)."""
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """Requests to one method (case-insensitive)."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def file_content(self, file_id: str) -> bytes:
        """What a stored file (sent by a user or uploaded by the bot) contains."""
        with self._cond:
            return self._files[file_id].content

    def sent_messages(self, chat_id: int | None = None) -> list[JsonDict]:
        """Bot messages that still exist, current state after edits, in send order."""
        with self._cond:
            found = []
            for cid, message_id in self._bot_messages:
                message = self._chats[cid].messages.get(message_id)
                if message is not None and (chat_id is None or cid == chat_id):
                    found.append(copy.deepcopy(message))
            return found

    def current_message(self, chat_id: int, message_id: int) -> JsonDict | None:
        """The current state of any message (user or bot) in a chat, or None if unknown/deleted."""
        with self._cond:
            state = self._chats.get(chat_id)
            message = state.messages.get(message_id) if state else None
            return copy.deepcopy(message)

    def file_bytes(self, file_id: str) -> bytes:
        """Content of a file the bot uploaded or a user sent."""
        with self._cond:
            return self._files[file_id].content

    def cursor(self) -> int:
        """An opaque position in the event log, for ``after=`` of the ``wait_*`` methods."""
        with self._cond:
            return len(self._log)

    def commands(self, scope: JsonDict | None = None, language_code: str = "") -> list[JsonDict]:
        """Commands the bot set for exactly this scope and language."""
        with self._cond:
            return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    def find_button(self, message: JsonDict, text_contains: str) -> str:
        """callback_data of the first inline button whose text contains ``text_contains``."""
        buttons = _buttons(message)
        for button in buttons:
            if text_contains in button.get("text", "") and "callback_data" in button:
                return str(button["callback_data"])
        listing = ", ".join(repr(b.get("text")) for b in buttons) or "no inline buttons"
        raise AssertionError(
            f"no callback button containing {text_contains!r} in message "
            f"{message.get('message_id')} ({_summary(message)}); buttons: {listing}"
        )

    def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[JsonDict], bool] | None = None,
        timeout: float = 10.0,
        after: int = 0,
    ) -> JsonDict:
        """Wait for a bot message sent or edited in ``chat_id`` after cursor ``after``."""

        def matches(event: _Event) -> bool:
            return (
                event.kind in ("sent", "edited")
                and event.chat_id == chat_id
                and event.message is not None
                and (predicate is None or predicate(event.message))
            )

        event = self._wait_for_event(matches, timeout, after)
        if event is None or event.message is None:
            raise FakeApiTimeout(self._describe_message_timeout(chat_id, timeout, after))
        return copy.deepcopy(event.message)

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        after: int = 0,
    ) -> Call:
        """Wait for a request to ``method`` (case-insensitive) completed after cursor ``after``."""
        wanted = method.lower()

        def matches(event: _Event) -> bool:
            return (
                event.call is not None
                and event.call.method.lower() == wanted
                and (predicate is None or predicate(event.call))
            )

        event = self._wait_for_event(matches, timeout, after)
        if event is None or event.call is None:
            with self._cond:
                recent = [_call_summary(c) for c in self._calls[-10:]]
            raise FakeApiTimeout(
                f"no matching {method} call within {timeout}s after cursor {after}; "
                f"recent calls:\n  " + ("\n  ".join(recent) or "(none)")
            )
        return event.call

    def wait_idle(self, timeout: float = 10.0, quiet: float = IDLE_QUIET_SECONDS) -> None:
        """Wait until every pushed update was fetched and the bot was quiet for ``quiet`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                quiet_for = time.monotonic() - self._last_activity
                if not self._undelivered() and self._inflight == 0 and quiet_for >= quiet:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise FakeApiTimeout(self._describe_idle_timeout(timeout))
                self._cond.wait(min(remaining, max(quiet - quiet_for, 0.01)))

    def wait_polling(self, timeout: float = 10.0) -> None:
        """Wait until the bot is blocked in a long-poll getUpdates (it is up and listening)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting_polls == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = [_call_summary(c) for c in self._calls[-5:]]
                    raise FakeApiTimeout(
                        f"no long-poll getUpdates waiting within {timeout}s; recent calls:\n  "
                        + ("\n  ".join(recent) or "(none)")
                    )
                self._cond.wait(remaining)

    async def wait_for_message_async(
        self,
        chat_id: int,
        predicate: Callable[[JsonDict], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - bounds the worker thread, see class docstring
        after: int = 0,
    ) -> JsonDict:
        """``wait_for_message`` without blocking the event loop (for in-process bots)."""
        return await asyncio.to_thread(self.wait_for_message, chat_id, predicate, timeout, after)

    async def wait_for_call_async(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - bounds the worker thread
        after: int = 0,
    ) -> Call:
        """``wait_for_call`` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for_call, method, predicate, timeout, after)

    async def wait_idle_async(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109 - bounds the worker thread
        quiet: float = IDLE_QUIET_SECONDS,
    ) -> None:
        """``wait_idle`` without blocking the event loop."""
        await asyncio.to_thread(self.wait_idle, timeout, quiet)

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` requests to ``method`` fail with this error."""
        error = ApiError(error_code, description, retry_after=retry_after)
        self._queue_fault(method, _Fault(remaining=times, error=error))

    def drop_next(self, method: str, times: int = 1, after_processing: bool = False) -> None:
        """The next ``times`` requests to ``method`` get their connection closed, no answer.

        With ``after_processing`` the request still takes effect (a sent message exists), as
        when Telegram handled a request but the response was lost: the retry-duplicate case.
        """
        fault = _Fault(remaining=times, error=None, processed=after_processing)
        self._queue_fault(method, fault)

    def set_delay(self, method: str | None, seconds: float) -> None:
        """Delay handling of ``method`` (None: every method) by ``seconds``; 0 removes it."""
        key = method.lower() if method else None
        with self._cond:
            if seconds > 0:
                self._delays[key] = seconds
            else:
                self._delays.pop(key, None)

    def flood_chat(self, chat_id: int, retry_after: int) -> None:
        """Sends to ``chat_id`` fail with 429 (flood control) until ``unblock_user``."""
        error = ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        self._set_chat_error(chat_id, error)

    def block_user(self, chat_id: int) -> None:
        """Sends to ``chat_id`` fail with 403 as if the user blocked the bot."""
        self._set_chat_error(chat_id, ApiError(403, "Forbidden: bot was blocked by the user"))

    def set_chat_not_found(self, chat_id: int) -> None:
        """Sends to ``chat_id`` fail with 400 chat not found."""
        self._set_chat_error(chat_id, ApiError(400, "Bad Request: chat not found"))

    def unblock_user(self, chat_id: int) -> None:
        """Undo ``block_user`` / ``set_chat_not_found``."""
        with self._cond:
            self._chat_errors.pop(chat_id, None)

    def clear_faults(self) -> None:
        """Remove all queued failures, delays and per-chat errors."""
        with self._cond:
            self._faults.clear()
            self._delays.clear()
            self._chat_errors.clear()

    def register_method(self, name: str, handler: Handler) -> None:
        """Add or replace a Bot API method; ``handler(params)`` returns the result or raises."""
        with self._cond:
            self._methods[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ HTTP entry points

    def _handle_http(self, path: str, headers: MimeHeaders, body: bytes) -> _Outcome:
        """Route one HTTP request (called from server threads)."""
        url = urlsplit(path)
        route = unquote(url.path)
        if route.startswith("/file/bot"):
            return self._serve_file(route.removeprefix("/file/bot"))
        if not route.startswith("/bot"):
            return _json_outcome(ApiError(404, "Not Found").to_response())
        token, _, method = route.removeprefix("/bot").partition("/")
        params: JsonDict = {}
        parse_error: ApiError | None = None
        try:
            params = _read_params(url.query, headers.get("Content-Type", ""), body)
        except ValueError as exc:  # includes malformed JSON and non-UTF-8 text
            parse_error = ApiError(400, f"Bad Request: {exc}")
        return self._serve_api(token, method, params, parse_error)

    def _serve_api(
        self, token: str, method: str, params: JsonDict, parse_error: ApiError | None
    ) -> _Outcome:
        """Run one API method through faults and handler, record it, build the answer."""
        at = time.time()
        with self._cond:
            entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        # Idle long polls must not count as activity, or wait_idle would never settle.
        busy = name != "getUpdates"
        self._track(+1 if busy else 0)
        try:
            response = self._execute(token, name, entry, params, parse_error)
        finally:
            self._track(-1 if busy else 0)
        call = Call(method=name, params=params, at=at, response=response)
        with self._cond:
            self._calls.append(call)
            self._log.append(_Event("call", call=call))
            self._cond.notify_all()
        if response is None:
            return _Outcome(status=0, body=b"", drop=True)
        outcome = _json_outcome(response)
        if name == "getUpdates" and call.ok and call.result:
            last_id = max(u["update_id"] for u in call.result)
            # Only updates that reached the socket count as fetched (a killed bot never saw them).
            outcome.on_sent = lambda: self._mark_delivered(last_id)
        return outcome

    def _execute(
        self,
        token: str,
        name: str,
        entry: tuple[str, Handler] | None,
        params: JsonDict,
        parse_error: ApiError | None,
    ) -> JsonDict | None:
        """The JSON response for one call, or None to drop the connection."""
        try:
            if token != self.token:
                # Like Telegram: malformed tokens are 404, well-formed but wrong ones 401.
                raise ApiError(401, "Unauthorized") if ":" in token else ApiError(404, "Not Found")
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            if parse_error is not None:
                raise parse_error
            self._apply_delay(name)
            with self._cond:
                fault = self._take_fault(name)
            if fault is not None and fault.error is not None:
                raise fault.error
            if fault is not None and not fault.processed:
                return None
            with self._cond:
                self._check_chat_error(name, params)
                result = entry[1](params)
            return None if fault is not None else {"ok": True, "result": result}
        except ApiError as error:
            return error.to_response()
        except Exception as exc:
            # A bug in the fake must fail loudly, not look like a Telegram error.
            logger.exception("fakebotapi: %s crashed", name)
            self.internal_errors.append(exc)
            return ApiError(
                500, f"Internal Server Error: fake {name} crashed: {exc!r}"
            ).to_response()

    def _serve_file(self, rest: str) -> _Outcome:
        """Serve ``/file/bot<token>/<file_path>``."""
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return _json_outcome(ApiError(401, "Unauthorized").to_response())
        with self._cond:
            stored = self._files_by_path.get(file_path)
        if stored is None:
            return _json_outcome(ApiError(404, "Not Found").to_response())
        return _Outcome(status=200, body=stored.content, content_type="application/octet-stream")

    def _track(self, delta: int) -> None:
        """Account a request start/end for wait_idle."""
        with self._cond:
            self._inflight += delta
            if delta:
                self._last_activity = time.monotonic()
            self._cond.notify_all()

    def _mark_delivered(self, last_update_id: int) -> None:
        """Remember that updates up to ``last_update_id`` reached the bot."""
        with self._cond:
            self._delivered_up_to = max(self._delivered_up_to, last_update_id)
            self._last_activity = time.monotonic()
            self._cond.notify_all()

    def _apply_delay(self, name: str) -> None:
        """Sleep for the configured delay, waking early when the server stops."""
        with self._cond:
            delay = self._delays.get(name.lower(), self._delays.get(None, 0.0))
        if delay > 0:
            self._stopped.wait(delay)

    def _queue_fault(self, method: str, fault: _Fault) -> None:
        """Append a fault for a method."""
        with self._cond:
            self._faults.setdefault(method.lower(), deque()).append(fault)

    def _take_fault(self, name: str) -> _Fault | None:
        """Consume one use of the oldest queued fault for ``name``."""
        queue = self._faults.get(name.lower())
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        return fault

    def _set_chat_error(self, chat_id: int, error: ApiError) -> None:
        """Make chat-targeted methods fail for one chat."""
        with self._cond:
            self._chat_errors[chat_id] = error

    def _check_chat_error(self, name: str, params: JsonDict) -> None:
        """Raise the per-chat error configured for the call's chat, if any."""
        chat_id = params.get("chat_id")
        if name in CHAT_TARGETED_METHODS and isinstance(chat_id, int):
            error = self._chat_errors.get(chat_id)
            if error is not None:
                raise error

    # ------------------------------------------------------------------ update queue

    def _allocate_update_id(self) -> int:
        """Next update id (caller holds the lock)."""
        self._last_update_id += 1
        return self._last_update_id

    def _enqueue(self, update: JsonDict) -> int:
        """Queue an update and wake long polls (caller holds the lock)."""
        self._pending.append(update)
        self._cond.notify_all()
        return int(update["update_id"])

    def _push_user_message(
        self,
        user: FakeUser,
        chat_id: int | None,
        content: JsonDict,
        reply_to_message_id: int | None = None,
    ) -> int:
        """Store a user message in its chat and queue the ``message`` update."""
        with self._cond:
            state = self._chat_for_user(user, chat_id)
            message: JsonDict = {
                "message_id": state.next_message_id(),
                "from": user.to_dict(),
                "chat": copy.deepcopy(state.chat),
                "date": int(time.time()),
                **copy.deepcopy(content),
            }
            target = state.messages.get(reply_to_message_id) if reply_to_message_id else None
            if target is not None:
                message["reply_to_message"] = _as_reply(target)
            state.messages[message["message_id"]] = message
            update_id = self._allocate_update_id()
            return self._enqueue({"update_id": update_id, "message": copy.deepcopy(message)})

    def _undelivered(self) -> list[int]:
        """Ids of queued updates the bot has not fetched yet."""
        return [u["update_id"] for u in self._pending if u["update_id"] > self._delivered_up_to]

    def _is_allowed(self, update: JsonDict) -> bool:
        """Whether the bot's allowed_updates setting lets this update through."""
        kinds = {key for key in update if key != "update_id"}
        if self._allowed_updates is None:
            return not kinds & OPT_IN_UPDATE_TYPES
        return bool(kinds & self._allowed_updates)

    # ------------------------------------------------------------------ chats and files

    def _chat(self, chat_id: int) -> _ChatState:
        """State of a chat, created on first use (caller holds the lock)."""
        state = self._chats.get(chat_id)
        if state is None:
            state = self._chats[chat_id] = _ChatState(chat=_default_chat(chat_id))
        return state

    def _chat_for_user(self, user: FakeUser, chat_id: int | None) -> _ChatState:
        """The chat a user writes in; a private chat mirrors the user's current profile."""
        target = user.id if chat_id is None else chat_id
        state = self._chat(target)
        if target == user.id:
            state.chat = user.private_chat()
        return state

    def _store_file(self, content: bytes, folder: str, filename: str | None) -> _StoredFile:
        """Keep file content so getFile and downloads work (caller holds the lock)."""
        number = next(self._file_seq)
        extension = os.path.splitext(filename or "")[1] or ".bin"
        stored = _StoredFile(
            file_id=f"FILE{number:06d}-{folder}",
            file_unique_id=f"U{number:06d}",
            file_path=f"{folder}/file_{number}{extension}",
            content=content,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _input_file(self, params: JsonDict, name: str, folder: str) -> tuple[_StoredFile, str]:
        """The stored file and filename for an upload or a file_id re-send."""
        value = params.get(name)
        if isinstance(value, UploadedFile):
            filename = value.filename or f"{name}.bin"
            return self._store_file(value.content, folder, filename), filename
        if isinstance(value, str) and value in self._files:
            stored = self._files[value]
            return stored, os.path.basename(stored.file_path)
        if isinstance(value, str) and value:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        raise ApiError(400, f"Bad Request: there is no {name} in the request")

    # ------------------------------------------------------------------ bot messages

    def _new_bot_message(self, chat_id: int, content: JsonDict) -> JsonDict:
        """Store a message sent by the bot and log it (caller holds the lock)."""
        state = self._chat(chat_id)
        message: JsonDict = {
            "message_id": state.next_message_id(),
            "from": self._bot_user(),
            "chat": copy.deepcopy(state.chat),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        state.messages[message["message_id"]] = message
        self._bot_messages.append((chat_id, message["message_id"]))
        self._log_message("sent", chat_id, message)
        return copy.deepcopy(message)

    def _log_message(self, kind: str, chat_id: int, message: JsonDict) -> None:
        """Append a message event (snapshot) to the log (caller holds the lock)."""
        self._log.append(_Event(kind, chat_id=chat_id, message=copy.deepcopy(message)))
        self._cond.notify_all()

    def _editable(self, params: JsonDict) -> tuple[int, JsonDict]:
        """The bot message an edit call targets."""
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat_id = _chat_id(params)
        message_id = _int_param(params, "message_id")
        message = self._chat(chat_id).messages.get(message_id)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"].get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat_id, message

    def _apply_edit(self, chat_id: int, message: JsonDict, changes: JsonDict) -> JsonDict:
        """Apply changes (None removes a field) unless nothing changes, like Telegram."""
        if all(message.get(key) == value for key, value in changes.items()):
            raise ApiError(400, NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = int(time.time())
        self._log_message("edited", chat_id, message)
        return copy.deepcopy(message)

    def _reply_target(self, chat_id: int, params: JsonDict) -> JsonDict | None:
        """The ``reply_to_message`` for a send call, validating the target exists."""
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = params.get("reply_to_message_id")
            allow_missing = bool(params.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        target = self._chat(chat_id).messages.get(_coerce_int(message_id))
        if target is None and not allow_missing:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return _as_reply(target) if target is not None else None

    # ------------------------------------------------------------------ method handlers

    def _register_builtin_methods(self) -> None:
        """Fill the method table."""
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendVoice": self._send_voice,
            "sendAudio": self._send_audio,
            "sendVideoNote": self._send_video_note,
            "editMessageMedia": self._edit_message_media,
            "sendLocation": self._send_location,
            "getChat": self._get_chat,
            "getFile": self._get_file,
            "close": _returns_true,
            "logOut": _returns_true,
        }
        for name, handler in handlers.items():
            self._methods[name.lower()] = (name, handler)

    def _bot_user(self) -> JsonDict:
        """The bot as it appears in ``from`` of its messages."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Quartier Test Bot",
            "username": self.bot_username,
        }

    def _get_me(self, params: JsonDict) -> JsonDict:
        """getMe."""
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        """getUpdates with Telegram's offset confirmation and long polling."""
        offset = _optional_int(params, "offset", 0)
        limit = min(max(_optional_int(params, "limit", 100), 1), 100)
        timeout = min(max(_optional_int(params, "timeout", 0), 0), MAX_POLL_TIMEOUT)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            # An empty list means "the default set", as on Telegram; the setting persists.
            self._allowed_updates = frozenset(allowed) if allowed else None
        self._confirm(offset)
        # A newer poll terminates an older one with 409, like two bot instances on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._cond.notify_all()
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)
            batch = self._take_batch(limit)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._stopped.is_set():
                return batch
            self._waiting_polls += 1
            self._cond.notify_all()  # wake wait_polling()
            try:
                self._cond.wait(remaining)
            finally:
                self._waiting_polls -= 1

    def _confirm(self, offset: int) -> None:
        """Forget updates confirmed by ``offset`` (negative: keep only the last -offset)."""
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._cond.notify_all()

    def _take_batch(self, limit: int) -> list[JsonDict]:
        """Up to ``limit`` pending updates; disallowed types are dropped as Telegram does."""
        self._pending = [u for u in self._pending if self._is_allowed(u)]
        return copy.deepcopy(self._pending[:limit])

    def _set_webhook(self, params: JsonDict) -> bool:
        """setWebhook: remembered; the test itself then posts updates to the bot's endpoint."""
        with self._cond:
            self.webhook = {key: params.get(key) for key in ("url", "secret_token")}
            self._cond.notify_all()
        return True

    def _delete_webhook(self, params: JsonDict) -> bool:
        """deleteWebhook (optionally dropping pending updates)."""
        if params.get("drop_pending_updates"):
            self._pending.clear()
            self._cond.notify_all()
        return True

    def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        """getWebhookInfo for a bot without webhook."""
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def _set_my_commands(self, params: JsonDict) -> bool:
        """setMyCommands, validated like Telegram."""
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: command description is empty or too long")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        """getMyCommands for exactly the given scope and language."""
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, params: JsonDict) -> bool:
        """deleteMyCommands."""
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True

    def _send_message(self, params: JsonDict) -> JsonDict:
        """sendMessage."""
        chat_id = _chat_id(params)
        text, entities = _formatted(params, "text", required=True)
        content = {
            "text": text,
            "entities": entities or None,
            "reply_markup": _inline_markup(params),
            "reply_to_message": self._reply_target(chat_id, params),
        }
        return self._new_bot_message(chat_id, content)

    def _edit_message_text(self, params: JsonDict) -> JsonDict:
        """editMessageText; omitting reply_markup removes the keyboard, as on Telegram."""
        chat_id, message = self._editable(params)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = _formatted(params, "text", required=True)
        changes = {
            "text": text,
            "entities": entities or None,
            "reply_markup": _inline_markup(params),
        }
        return self._apply_edit(chat_id, message, changes)

    def _edit_message_caption(self, params: JsonDict) -> JsonDict:
        """editMessageCaption."""
        chat_id, message = self._editable(params)
        caption, entities = _formatted(params, "caption", required=False)
        changes = {
            "caption": caption,
            "caption_entities": entities or None,
            "reply_markup": _inline_markup(params),
        }
        return self._apply_edit(chat_id, message, changes)

    def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        """editMessageReplyMarkup."""
        chat_id, message = self._editable(params)
        return self._apply_edit(chat_id, message, {"reply_markup": _inline_markup(params)})

    def _delete_message(self, params: JsonDict) -> bool:
        """deleteMessage."""
        chat_id = _chat_id(params)
        message = self._chat(chat_id).messages.pop(_int_param(params, "message_id"), None)
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        self._log_message("deleted", chat_id, message)
        return True

    def _answer_callback_query(self, params: JsonDict) -> bool:
        """answerCallbackQuery; each query can be answered once."""
        query_id = str(params.get("callback_query_id", ""))
        if self._callback_queries.get(query_id, True):
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._callback_queries[query_id] = True
        return True

    def _send_chat_action(self, params: JsonDict) -> bool:
        """sendChatAction."""
        self._chat(_chat_id(params))
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _send_document(self, params: JsonDict) -> JsonDict:
        """sendDocument (upload or file_id)."""
        chat_id = _chat_id(params)
        stored, filename = self._input_file(params, "document", "documents")
        upload = params.get("document")
        mime_type = upload.content_type if isinstance(upload, UploadedFile) else None
        return self._send_media(
            chat_id, params, {"document": _document(stored, filename, mime_type)}
        )

    def _send_photo(self, params: JsonDict) -> JsonDict:
        """sendPhoto (upload or file_id); one fixed-size PhotoSize is reported."""
        chat_id = _chat_id(params)
        stored, _ = self._input_file(params, "photo", "photos")
        return self._send_media(chat_id, params, {"photo": [_photo_size(stored, 800, 600)]})

    def _send_voice(self, params: JsonDict) -> JsonDict:
        """sendVoice (upload or file_id)."""
        chat_id = _chat_id(params)
        stored, _ = self._input_file(params, "voice", "voices")
        return self._send_media(chat_id, params, {"voice": _recording(stored)})

    def _send_audio(self, params: JsonDict) -> JsonDict:
        """sendAudio (upload or file_id)."""
        chat_id = _chat_id(params)
        stored, _ = self._input_file(params, "audio", "audios")
        return self._send_media(chat_id, params, {"audio": _recording(stored)})

    def _send_video_note(self, params: JsonDict) -> JsonDict:
        """sendVideoNote (upload or file_id); video notes have no caption."""
        chat_id = _chat_id(params)
        stored, _ = self._input_file(params, "video_note", "video_notes")
        if params.get("caption"):
            raise ApiError(400, "Bad Request: video notes can't have a caption")
        note = {**_recording(stored), "length": 240}
        return self._send_media(chat_id, params, {"video_note": note})

    def _edit_message_media(self, params: JsonDict) -> JsonDict:
        """editMessageMedia: documented for animation, audio, document, photo and video messages
        only, so a voice note, a video note or a text message is refused."""
        chat_id, message = self._editable(params)
        media = params.get("media")
        if isinstance(media, str):
            media = json.loads(media)
        kind = media.get("type") if isinstance(media, dict) else None
        if kind not in _EDITABLE_MEDIA:
            raise ApiError(400, "Bad Request: can't parse InputMedia: media type is invalid")
        if not any(key in message for key in _EDITABLE_MEDIA):
            raise ApiError(400, "Bad Request: there is no media in the message to edit")
        reference = media.get("media", "")
        if isinstance(reference, UploadedFile):  # an attach:// part, already resolved
            stored = self._store_file(reference.content, kind + "s", reference.filename)
        elif str(reference).startswith("attach://"):
            upload = params.get(str(reference).removeprefix("attach://"))
            if not isinstance(upload, UploadedFile):
                raise ApiError(400, "Bad Request: can't find attached file")
            stored = self._store_file(upload.content, kind + "s", upload.filename)
        elif reference in self._files:
            stored = self._files[reference]
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        changes: JsonDict = {key: None for key in _EDITABLE_MEDIA}
        changes[kind] = [_photo_size(stored, 800, 600)] if kind == "photo" else _recording(stored)
        changes["caption"] = media.get("caption")
        return self._apply_edit(chat_id, message, changes)

    def _send_media(self, chat_id: int, params: JsonDict, media: JsonDict) -> JsonDict:
        """Shared tail of media sends: caption, keyboard, reply."""
        caption, entities = _formatted(params, "caption", required=False)
        content = {
            **media,
            "caption": caption,
            "caption_entities": entities or None,
            "reply_markup": _inline_markup(params),
            "reply_to_message": self._reply_target(chat_id, params),
        }
        return self._new_bot_message(chat_id, content)

    def _send_location(self, params: JsonDict) -> JsonDict:
        """sendLocation."""
        chat_id = _chat_id(params)
        latitude = params.get("latitude")
        longitude = params.get("longitude")
        if not isinstance(latitude, float) or not -90 <= latitude <= 90:
            raise ApiError(400, "Bad Request: wrong latitude specified")
        if not isinstance(longitude, float) or not -180 <= longitude <= 180:
            raise ApiError(400, "Bad Request: wrong longitude specified")
        content = {
            "location": {"latitude": latitude, "longitude": longitude},
            "reply_markup": _inline_markup(params),
            "reply_to_message": self._reply_target(chat_id, params),
        }
        return self._new_bot_message(chat_id, content)

    def _get_chat(self, params: JsonDict) -> JsonDict:
        """getChat: a minimal ChatFullInfo."""
        chat = copy.deepcopy(self._chat(_chat_id(params)).chat)
        chat.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat

    def _get_file(self, params: JsonDict) -> JsonDict:
        """getFile."""
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    # ------------------------------------------------------------------ diagnostics

    def _wait_for_event(
        self, matches: Callable[[_Event], bool], timeout: float, after: int
    ) -> _Event | None:
        """First log event at or after ``after`` that matches, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        position = max(after, 0)
        with self._cond:
            while True:
                for event in self._log[position:]:
                    if matches(event):
                        return event
                position = len(self._log)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def _describe_message_timeout(self, chat_id: int, timeout: float, after: int) -> str:
        """Explain a wait_for_message timeout with what the bot actually did."""
        with self._cond:
            events = [
                (index, e)
                for index, e in enumerate(self._log)
                if e.chat_id == chat_id and e.message is not None
            ]
            failures = [c for c in self._calls if c.response is None or not c.ok][-5:]
        newer = [f"  [{i}] {e.kind}: {_summary(e.message or {})}" for i, e in events if i >= after]
        older = [f"  [{i}] {e.kind}: {_summary(e.message or {})}" for i, e in events if i < after]
        lines = [
            f"no matching bot message in chat {chat_id} within {timeout}s after cursor {after}.",
            "Bot messages/edits in that chat after the cursor:",
            *(newer[-10:] or ["  (none)"]),
        ]
        if older:
            lines += ["Before the cursor:", *older[-5:]]
        if failures:
            lines += ["Recent failed calls:", *(f"  {_call_summary(c)}" for c in failures)]
        return "\n".join(lines)

    def _describe_idle_timeout(self, timeout: float) -> str:
        """Explain a wait_idle timeout (caller holds the lock)."""
        polled = any(c.method == "getUpdates" for c in self._calls)
        recent = [_call_summary(c) for c in self._calls[-5:]]
        hint = "" if polled else " The bot never called getUpdates - is it running?"
        return (
            f"bot not idle within {timeout}s: unfetched updates {self._undelivered()}, "
            f"{self._inflight} request(s) in flight.{hint}\nRecent calls:\n  "
            + ("\n  ".join(recent) or "(none)")
        )


# --------------------------------------------------------------------------- HTTP server


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its fake and can cut open connections."""

    daemon_threads = True
    # Idle keep-alive connections would otherwise make server_close() wait forever.
    block_on_close = False

    def __init__(self, address: tuple[str, int], fake: FakeBotApi) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection so stop() can cut it."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection once it is closed."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        """Shut down every open client connection (the client sees a network error)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler delegating to the fake."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, every keep-alive
    # response would stall ~40 ms waiting for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        """Handle a POST."""
        self._respond(self.server.fake._handle_http(self.path, self.headers, self._read_body()))

    def do_GET(self) -> None:
        """Handle a GET (API calls with query strings, file downloads)."""
        self._respond(self.server.fake._handle_http(self.path, self.headers, self._read_body()))

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; Call records carry the information."""

    def _read_body(self) -> bytes:
        """Read a Content-Length or chunked body."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        """Decode a chunked request body."""
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # skip trailers
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _respond(self, outcome: _Outcome) -> None:
        """Write the outcome, or close the connection without an answer."""
        if outcome.drop:
            self.close_connection = True
            return
        try:
            self.send_response(outcome.status)
            self.send_header("Content-Type", outcome.content_type)
            self.send_header("Content-Length", str(len(outcome.body)))
            self.end_headers()
            self.wfile.write(outcome.body)
            self.wfile.flush()
        except OSError:
            # The client went away (killed bot, timeout); nothing was delivered.
            self.close_connection = True
            return
        if outcome.on_sent is not None:
            outcome.on_sent()


# --------------------------------------------------------------------------- helpers


def _put(target: JsonDict, key: str, value: Any) -> None:
    """Set ``target[key]`` only when ``value`` is not None."""
    if value is not None:
        target[key] = value


def _returns_true(params: JsonDict) -> bool:
    """Handler for methods that just succeed (close, logOut)."""
    return True


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _json_outcome(response: JsonDict) -> _Outcome:
    """HTTP outcome for a JSON response; the status mirrors error_code like Telegram."""
    code = response.get("error_code", 200)
    status = code if isinstance(code, int) and 100 <= code < 600 else 500
    return _Outcome(status=status, body=json.dumps(response).encode())


def _default_chat(chat_id: int) -> JsonDict:
    """Chat object for a chat the fake has not seen a user write in."""
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": f"Test group {-chat_id}"}
    return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}


def _as_reply(message: JsonDict) -> JsonDict:
    """A message as embedded in ``reply_to_message`` (Telegram does not nest further)."""
    reply = copy.deepcopy(message)
    reply.pop("reply_to_message", None)
    return reply


def _photo_size(stored: _StoredFile, width: int, height: int) -> JsonDict:
    """A PhotoSize object for a stored file."""
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
        "file_size": len(stored.content),
    }


#: What editMessageMedia may put into (and replace in) a message, per the Bot API.
_EDITABLE_MEDIA = ("animation", "audio", "document", "photo", "video")


def _recording(stored: _StoredFile) -> JsonDict:
    """A Voice, Audio or VideoNote object for a stored file (the fake does not decode audio)."""
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "duration": 1,
        "file_size": len(stored.content),
    }


def _document(stored: _StoredFile, filename: str, mime_type: str | None) -> JsonDict:
    """A Document object for a stored file."""
    document: JsonDict = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": filename,
        "file_size": len(stored.content),
    }
    _put(document, "mime_type", mime_type)
    return document


def _buttons(message: JsonDict) -> list[JsonDict]:
    """All inline keyboard buttons of a message, row by row."""
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def _summary(message: JsonDict) -> str:
    """One-line description of a message for error output."""
    if "text" in message:
        body = repr(message["text"])
    elif "document" in message:
        body = f"document {message['document'].get('file_name')!r}"
    elif "photo" in message:
        body = "photo"
    elif "location" in message:
        body = f"location {message['location']}"
    else:
        body = "message without text"
    if "caption" in message:
        body += f" caption={message['caption']!r}"
    buttons = [b.get("text") for b in _buttons(message)]
    if buttons:
        body += f" buttons={buttons}"
    return f"#{message.get('message_id')} {body}"


def _call_summary(call: Call) -> str:
    """One-line description of a call for error output."""
    outcome = "dropped" if call.response is None else ("ok" if call.ok else call.error_code)
    shown = {k: v for k, v in call.params.items() if k in ("chat_id", "message_id", "text")}
    return f"{call.method}({shown}) -> {outcome}"


def _scope_key(scope: Any) -> str:
    """Normalised JSON of a BotCommandScope, so equal scopes compare equal."""
    if not isinstance(scope, dict):
        scope = {"type": "default"}
    normalised = {
        key: _coerce_int(value) if key in ("chat_id", "user_id") else value
        for key, value in scope.items()
    }
    return json.dumps(normalised, sort_keys=True)


def _coerce_int(value: Any) -> Any:
    """int for integer-looking strings, the value unchanged otherwise."""
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    return value


def _int_param(params: JsonDict, name: str) -> int:
    """A required integer parameter."""
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(400, f"Bad Request: {name} is empty")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, f"Bad Request: invalid {name} specified")
    return value


def _optional_int(params: JsonDict, name: str, default: int) -> int:
    """An optional integer parameter."""
    return default if params.get(name) in (None, "") else _int_param(params, name)


def _chat_id(params: JsonDict) -> int:
    """The numeric chat_id of a call; @usernames are unknown to the fake."""
    if isinstance(params.get("chat_id"), str) and str(params["chat_id"]).startswith("@"):
        raise ApiError(400, "Bad Request: chat not found")
    return _int_param(params, "chat_id")


def _formatted(params: JsonDict, name: str, required: bool) -> tuple[str | None, list[JsonDict]]:
    """Text or caption after applying parse_mode, with its entities, validated."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(400, "Bad Request: message text is empty")
        return None, []
    raw = str(raw)
    entities_param = params.get("entities" if name == "text" else "caption_entities")
    if str(params.get("parse_mode") or "").lower() == "html":
        try:
            text, entities = _parse_html(raw)
        except _EntityParseError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
    else:
        # Markdown modes are recorded verbatim: the fake does not emulate their parser.
        text = raw
        entities = entities_param if isinstance(entities_param, list) else []
    if required and not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    limit = MAX_TEXT_LENGTH if name == "text" else MAX_CAPTION_LENGTH
    if _utf16_len(text) > limit:
        what = "message" if name == "text" else "message caption"
        raise ApiError(400, f"Bad Request: {what} is too long")
    return text, entities


def _inline_markup(params: JsonDict) -> JsonDict | None:
    """The inline keyboard of a call (validated), None for other or empty markups."""
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None  # reply keyboards are not part of the returned Message
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, "Bad Request: can't parse inline keyboard button: not an array")
    for button in (button for row in rows for button in row):
        _check_button(button)
    return copy.deepcopy(markup) if any(rows) else None


def _check_button(button: Any) -> None:
    """Validate one inline keyboard button like Telegram does."""
    if not isinstance(button, dict) or not str(button.get("text") or "").strip():
        raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text is empty")
    if "callback_data" in button:
        size = len(str(button["callback_data"]).encode())
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    elif len(button) == 1:
        raise ApiError(
            400,
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        )


# --------------------------------------------------------------------------- request parsing


def _read_params(query: str, content_type: str, body: bytes) -> JsonDict:
    """Parameters from query string and body (form, JSON or multipart), normalised."""
    raw: JsonDict = {k: _decode_value(k, v) for k, v in parse_qsl(query, keep_blank_values=True)}
    headers = MimeHeaders()
    headers["Content-Type"] = content_type or "application/octet-stream"
    media_type = headers.get_content_type()
    if not body:
        pass
    elif media_type == "application/json":
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        raw.update(decoded)
    elif media_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        raw.update({k: _decode_value(k, v) for k, v in pairs})
    elif media_type == "multipart/form-data":
        raw.update(_parse_multipart(headers.get_param("boundary"), body))
    return _normalise(_resolve_attachments(raw, raw))


def _parse_multipart(boundary: Any, body: bytes) -> JsonDict:
    """Parse multipart/form-data: text fields are decoded, file parts become UploadedFile."""
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart boundary missing")
    delimiter = b"\r\n--" + boundary.encode()
    fields: JsonDict = {}
    # Prefixing CRLF lets the first delimiter match the same pattern as the others.
    for chunk in (b"\r\n" + body).split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        head, separator, content = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("malformed multipart part")
        part = email.parser.HeaderParser().parsestr(head.decode("utf-8").strip() + "\r\n\r\n")
        name = part.get_param("name", header="content-disposition")
        if name is None:
            raise ValueError("multipart part without name")
        name = email.utils.collapse_rfc2231_value(name)
        filename = part.get_filename()
        if filename is None and part.get_content_maintype() != "application":
            fields[name] = _decode_value(name, content.decode("utf-8"))
        else:
            content_type = part.get("Content-Type")
            fields[name] = UploadedFile(
                filename=filename, content=content, content_type=content_type
            )
    return fields


def _decode_value(name: str, value: str) -> Any:
    """Decode JSON objects/arrays sent as strings (reply_markup, commands, scope...)."""
    if name in TEXT_PARAMS or not value.startswith(("{", "[")):
        return value
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, dict | list) else value


def _resolve_attachments(value: Any, fields: JsonDict) -> Any:
    """Replace ``attach://name`` references by the uploaded file they point to."""
    if isinstance(value, str) and value.startswith("attach://"):
        return fields.get(value.removeprefix("attach://"), value)
    if isinstance(value, dict):
        return {k: _resolve_attachments(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_attachments(v, fields) for v in value]
    return value


def _normalise(params: JsonDict) -> JsonDict:
    """Convert well-known numeric and boolean parameters from their string form."""
    normalised = dict(params)
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        if key in INT_PARAMS:
            normalised[key] = _coerce_int(value)
        elif key in FLOAT_PARAMS:
            with contextlib.suppress(ValueError):
                normalised[key] = float(value)
        elif key in BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
            normalised[key] = value.lower() in ("true", "1")
    for key in FLOAT_PARAMS & normalised.keys():
        if isinstance(normalised[key], int) and not isinstance(normalised[key], bool):
            normalised[key] = float(normalised[key])
    return normalised


# --------------------------------------------------------------------------- parse_mode=HTML

_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    """Converts Telegram-flavoured HTML into plain text plus MessageEntity dicts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.text_length = 0
        self.open_tags: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[JsonDict] = []

    def handle_data(self, data: str) -> None:
        """Collect visible text."""
        self.parts.append(data)
        self.text_length += _utf16_len(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an entity; unknown tags are an error like on Telegram."""
        attributes = dict(attrs)
        if tag not in _HTML_ENTITY_TYPES:
            raise _EntityParseError(f'Unsupported start tag "{tag}"')
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise _EntityParseError('Tag "span" must have class "tg-spoiler"')
        self.open_tags.append((tag, self.text_length, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Self-closing tags such as <br/> are not supported by Telegram."""
        raise _EntityParseError(f'Unsupported start tag "{tag}"')

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost entity; mismatches are an error."""
        if not self.open_tags or self.open_tags[-1][0] != tag:
            raise _EntityParseError(f'Unmatched end tag "{tag}"')
        name, start, attributes = self.open_tags.pop()
        self._add_entity(name, start, attributes)

    def _add_entity(self, name: str, start: int, attributes: dict[str, str | None]) -> None:
        """Record the entity for a closed tag."""
        css_class = attributes.get("class") or ""
        if name == "code" and self.open_tags and self.open_tags[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre entity with a language.
            if css_class.startswith("language-"):
                self.open_tags[-1][2]["data-language"] = css_class.removeprefix("language-")
            return
        length = self.text_length - start
        if length == 0:
            return  # Telegram drops empty entities
        entity: JsonDict = {"type": _HTML_ENTITY_TYPES[name], "offset": start, "length": length}
        if name == "a":
            entity["url"] = attributes.get("href") or ""
        elif name == "pre" and attributes.get("data-language"):
            entity["language"] = attributes["data-language"]
        elif name == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif name == "tg-emoji":
            entity["custom_emoji_id"] = attributes.get("emoji-id") or ""
        self.entities.append(entity)

    def result(self) -> tuple[str, list[JsonDict]]:
        """Plain text and entities sorted like Telegram (by offset, outer first)."""
        if self.open_tags:
            tag = self.open_tags[-1][0]
            raise _EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def _parse_html(text: str) -> tuple[str, list[JsonDict]]:
    """Plain text and entities of a parse_mode=HTML text."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    return parser.result()
