"""`quartierbot chat`: the real bot in a terminal, without Telegram, a token or a network.

The real Application (same handlers, a real SQLite file, the job queue) talks to an in-process
fake Bot API. What the bot sends is printed readably: formatting rendered, inline buttons and the
menu keyboard as numbered choices (typing the number presses it), documents saved to a folder.
`/as staff` and `/as resident <n>` switch persona, so a broadcast or a staff reply can be seen
arriving at the other side.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from telegram import Update

from bot.app import build_application
from bot.config import Config
from bot.context import QuartierApplication
from bot.offline import Files, OfflineRequest, chat_info
from bot.repositories import Repositories
from bot.runner import running

BOT_ID = 1
TOKEN = "1:terminal-chat-no-network"
RESIDENT_BASE = 100_000
HELP = (
    "Type a message as a resident would. A number presses the button with that number\n"
    "(of the bot's newest message; to send a number as text, start with a quote: '12);\n"
    "m1, m2, … press the buttons of the menu keyboard.\n"
    "/as staff, /as resident <n> switch persona; /location <lat> <lon> shares a place;\n"
    "/voice <file> [seconds] sends a recording (.ogg, .oga, .opus, .mp3, .m4a, .wav, .mp4);\n"
    "/photo <file> [caption] sends a picture; /re <text> answers the bot's last message with\n"
    "Telegram's reply (as a swipe would); /quit ends."
)
#: A recording's kind on Telegram, by its file name's suffix.
VOICE_KINDS = {
    ".ogg": "voice",
    ".oga": "voice",
    ".opus": "voice",
    ".mp3": "audio",
    ".m4a": "audio",
    ".wav": "audio",
    ".flac": "audio",
    ".mp4": "video_note",
}
#: What the bot sends as a recording, and how the terminal shows it.
RECORDING_METHODS = {"sendVoice": "voice", "sendAudio": "audio", "sendVideoNote": "video_note"}


@dataclass
class Outgoing:
    """Something the bot did that the terminal shows."""

    kind: str  # message | edit | toast | document
    chat_id: int
    message: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    path: Path | None = None


class TerminalRequest(OfflineRequest):
    """An in-process Bot API: answers every call like Telegram and reports what was sent."""

    def __init__(
        self,
        files: Path,
        on_output: Callable[[Outgoing], None],
        recordings: dict[str, bytes] | None = None,
    ) -> None:
        self.files = files
        self.on_output = on_output
        #: Recordings the user sent with /voice, by file id (getFile and the download).
        self.recordings = recordings if recordings is not None else {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def answer(self, method: str, params: dict[str, Any], files: Files) -> Any:
        """The result Telegram would give."""
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Quartierbot",
                "username": "quartierbot_terminal",
                "can_join_groups": True,
            }
        if method == "getUpdates":
            return []
        if method in {"sendMessage", "sendPhoto", "sendDocument", "sendLocation"}:
            return self._send(method, params, files)
        if method in RECORDING_METHODS:
            return self._send(method, params, files)
        if method == "getFile" and str(params.get("file_id")) in self.recordings:
            file_id = str(params["file_id"])
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.recordings[file_id]),
                "file_path": f"recordings/{file_id}",
            }
        if method == "getChat":
            chat_id = int(params["chat_id"])
            return chat_info(chat_id, "Staff" if chat_id < RESIDENT_BASE else f"Resident {chat_id}")
        if method == "editMessageMedia":
            return self._edit({**params, "text": "🗑 " + str(_media_caption(params))})
        if method in {"editMessageText", "editMessageReplyMarkup"}:
            return self._edit(params)
        if method == "answerCallbackQuery" and params.get("text"):
            self.on_output(Outgoing("toast", 0, text=str(params["text"])))
        return True

    def _send(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        """A new message in a chat."""
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Quartierbot"},
            "text": str(params.get("text", params.get("caption", "")) or ""),
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            message["reply_markup"] = markup
        if params.get("parse_mode"):
            message["parse_mode"] = params["parse_mode"]
        if method == "sendLocation":
            message["text"] = f"📍 {params.get('latitude')}, {params.get('longitude')}"
        if method in RECORDING_METHODS:
            kind = RECORDING_METHODS[method]
            message[kind] = {"file_id": str(params.get(kind)), "file_unique_id": "r", "duration": 1}
            message["text"] = f"🎤 ({kind} {params.get(kind)}) {message['text']}".rstrip()
        self.messages[(chat_id, message["message_id"])] = message
        saved = None
        for name, content, *_ in files.values():  # (file name, bytes, mime type)
            self.files.mkdir(parents=True, exist_ok=True)
            saved = self.files / f"{message['message_id']}-{Path(str(name)).name}"
            saved.write_bytes(content)
        kind = "document" if saved is not None else "message"
        self.on_output(Outgoing(kind, chat_id, message=message, path=saved))
        return _as_telegram_returns(message)

    def _edit(self, params: dict[str, Any]) -> dict[str, Any]:
        """A message changed in place."""
        key: tuple[int, int] = (int(params["chat_id"]), int(params["message_id"]))
        message = dict(
            self.messages.get(
                key, {"message_id": key[1], "date": 0, "chat": {"id": key[0], "type": "private"}}
            )
        )
        if "text" in params:
            message["text"] = str(params["text"])
        message["parse_mode"] = params.get("parse_mode")
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        self.messages[key] = message
        self.on_output(Outgoing("edit", key[0], message=message))
        return _as_telegram_returns(message)

    def download(self, url: str) -> bytes | None:
        """A recording the user sent (getFile answered `recordings/<file id>`)."""
        return self.recordings.get(url.rsplit("/recordings/", 1)[-1])


def _labels(keyboard: list[list[Any]]) -> list[str]:
    """The labels of a menu keyboard, row by row."""
    return [b["text"] if isinstance(b, dict) else str(b) for row in keyboard for b in row]


def _media_caption(params: dict[str, Any]) -> str:
    """The caption of editMessageMedia's new media (a JSON string or a dict)."""
    media = params.get("media")
    if isinstance(media, str):
        try:
            media = json.loads(media)
        except ValueError:
            return ""
    return str(media.get("caption", "")) if isinstance(media, dict) else ""


def ogg_seconds(content: bytes) -> int | None:
    """The length of an Ogg Opus or Vorbis recording, from its last page's granule position."""
    last = content.rfind(b"OggS")
    if not content.startswith(b"OggS") or last < 0 or len(content) < last + 14:
        return None
    granule = int.from_bytes(content[last + 6 : last + 14], "little")
    if b"OpusHead" in content[:200]:
        rate = 48_000  # Opus always counts at 48 kHz
    else:
        header = content.find(b"\x01vorbis")
        if header < 0 or len(content) < header + 16:
            return None
        rate = int.from_bytes(content[header + 12 : header + 16], "little")
    return round(granule / rate) if rate else None


def _as_telegram_returns(message: dict[str, Any]) -> dict[str, Any]:
    """The message as the Bot API returns it: only an inline keyboard is part of a message."""
    result = {k: v for k, v in message.items() if k not in ("parse_mode", "reply_markup")}
    markup = message.get("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        result["reply_markup"] = markup
    return result


def readable(text: str, parse_mode: str | None, bold: Callable[[str], str]) -> str:
    """HTML formatting as the terminal can show it."""
    if parse_mode != "HTML":
        return text
    text = re.sub(r"<b>(.*?)</b>", lambda m: bold(m.group(1)), text, flags=re.S)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


@dataclass
class Choice:
    """A numbered button the user can press by typing its number."""

    label: str
    message: dict[str, Any] | None = None
    callback_data: str | None = None


class TerminalChat:
    """Shows the bot's output and turns typed lines into updates."""

    def __init__(self, config: Config, out: TextIO, files: Path, persona: str) -> None:
        self.config = config
        self.out = out
        self.files = files
        self.tty = out.isatty()
        self.staff_id = min(config.staff.admins) if config.staff.admins else 999_999_999
        self.user_id = self.staff_id if persona == "staff" else RESIDENT_BASE + 1
        self.choices: list[Choice] = []
        #: The persistent menu keyboard stays until the bot sends another one.
        self.menu: list[str] = []
        self._update_ids = itertools.count(1)
        #: Recordings sent with /voice, shared with the request (getFile and the download).
        self.recordings: dict[str, bytes] = {}
        #: The voice message or photo `/voice` or `/photo` prepared for the next update.
        self.pending_voice: dict[str, Any] | None = None
        #: Each persona's menu keyboard, and the bot's newest message in each chat (for /re).
        self.menus: dict[int, list[str]] = {}
        self.last_bot: dict[int, dict[str, Any]] = {}

    # -- output ---------------------------------------------------------------------------

    def bold(self, text: str) -> str:
        """Bold on a terminal, plain in a file."""
        return f"\033[1m{text}\033[0m" if self.tty else text

    def who(self, chat_id: int) -> str:
        """Who a chat belongs to, from the current persona's point of view."""
        if chat_id == self.user_id:
            return "you"
        if chat_id in self.config.staff_groups:
            return "staff group"
        if chat_id == self.staff_id:
            return "staff"
        if chat_id >= RESIDENT_BASE:
            return f"resident {chat_id - RESIDENT_BASE}"
        return f"chat {chat_id}"

    def show(self, item: Outgoing) -> None:
        """Print one thing the bot did."""
        if item.kind == "toast":
            self.print(f"  ({item.text})")
            return
        message = item.message
        text = readable(str(message.get("text", "")), message.get("parse_mode"), self.bold)
        header = "bot → " + self.who(item.chat_id) + (" (edited)" if item.kind == "edit" else "")
        self.print(self.bold(header) + "\n" + "\n".join("  " + line for line in text.split("\n")))
        if item.path is not None:
            self.print(f"  📎 saved to {item.path}")
        if item.kind in ("message", "document"):
            self.last_bot[item.chat_id] = message
        if item.chat_id == self.user_id:
            self.remember_buttons(message)
        elif (message.get("reply_markup") or {}).get("keyboard"):
            # Another persona's menu: it is there when they come back with /as.
            self.menus[item.chat_id] = _labels(message["reply_markup"]["keyboard"])

    def remember_buttons(self, message: dict[str, Any]) -> None:
        """Number the message's inline buttons, or label its menu keyboard, and print them."""
        markup = message.get("reply_markup") or {}
        if not markup.get("inline_keyboard"):
            # The buttons of an older message are not what a typed number means any more.
            self.choices = []
        if markup.get("inline_keyboard"):
            self.choices = [
                Choice(button["text"], message, button.get("callback_data"))
                for row in markup["inline_keyboard"]
                for button in row
            ]
            numbered = "  ".join(f"[{n}] {c.label}" for n, c in enumerate(self.choices, start=1))
            self.print("  " + numbered)
        elif markup.get("keyboard"):
            self.menu = _labels(markup["keyboard"])
            self.menus[self.user_id] = self.menu
            labelled = "  ".join(f"[m{n}] {label}" for n, label in enumerate(self.menu, start=1))
            self.print("  menu: " + labelled)

    def print(self, text: str) -> None:
        """Write a line and flush (the user is waiting for it)."""
        self.out.write(text + "\n")
        self.out.flush()

    # -- input ----------------------------------------------------------------------------

    def persona(self, line: str) -> bool:
        """Handle `/as staff` and `/as resident <n>`; True if the line was one."""
        parts = line.split()
        if parts[:2] == ["/as", "staff"]:
            self.user_id = self.staff_id
        elif len(parts) == 3 and parts[:2] == ["/as", "resident"] and parts[2].isdigit():
            self.user_id = RESIDENT_BASE + int(parts[2])
        else:
            return False
        self.choices = []
        self.menu = self.menus.get(self.user_id, [])
        self.print(f"-- you are now {self.persona_name()} (id {self.user_id})")
        return True

    def prepare_voice(self, line: str) -> str | None:
        """Read `/voice <file> [seconds]` into the next update; None if fine, else the problem."""
        parts = line.split()
        if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].isdigit()):
            return "usage: /voice <file> [seconds]"
        path = Path(parts[1]).expanduser()
        kind = VOICE_KINDS.get(path.suffix.lower())
        if kind is None:
            return f"{path.suffix or path.name}: use one of {', '.join(VOICE_KINDS)}"
        try:
            content = path.read_bytes()
        except OSError as exc:
            return f"cannot read {path}: {exc.strerror}"
        seconds = int(parts[2]) if len(parts) == 3 else ogg_seconds(content)
        if seconds is None:
            return "cannot tell the length of this recording: give it, /voice <file> <seconds>"
        file_id = f"recording-{len(self.recordings) + 1}"
        self.recordings[file_id] = content
        media: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "duration": seconds,
            "file_size": len(content),
        }
        if kind == "video_note":
            media["length"] = 240
        self.pending_voice = {kind: media}
        return None

    def prepare_photo(self, line: str) -> str | None:
        """Read `/photo <file> [caption]` into the next update; None if fine, else the problem."""
        parts = line.split(None, 2)
        if len(parts) < 2:
            return "usage: /photo <file> [caption]"
        path = Path(parts[1]).expanduser()
        try:
            content = path.read_bytes()
        except OSError as exc:
            return f"cannot read {path}: {exc.strerror}"
        file_id = f"photo-{len(self.recordings) + 1}"
        self.recordings[file_id] = content
        size = {"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600}
        self.pending_voice = {"photo": [{**size, "file_size": len(content)}]}
        if len(parts) == 3:
            self.pending_voice["caption"] = parts[2]
        return None

    def persona_name(self) -> str:
        """'staff' or 'resident <n>'."""
        if self.user_id == self.staff_id:
            return "staff"
        return f"resident {self.user_id - RESIDENT_BASE}"

    def update_for(self, line: str, language: str | None) -> dict[str, Any]:
        """The update Telegram would deliver for what was typed."""
        sender = {
            "id": self.user_id,
            "is_bot": False,
            "first_name": "Chat",
            **({"language_code": language} if language else {}),
        }
        literal = line.startswith("'")
        if literal:
            line = line[1:]  # text as typed, even if it is a number or "m1"
        elif line.isdigit() and 1 <= int(line) <= len(self.choices):
            choice = self.choices[int(line) - 1]
            if choice.callback_data is not None and choice.message is not None:
                return {
                    "update_id": next(self._update_ids),
                    "callback_query": {
                        "id": str(next(self._update_ids)),
                        "from": sender,
                        "chat_instance": "t",
                        "data": choice.callback_data,
                        "message": choice.message,
                    },
                }
            line = choice.label
        menu = None if literal else re.fullmatch(r"m(\d+)", line)
        if menu and 1 <= int(menu[1]) <= len(self.menu):
            line = self.menu[int(menu[1]) - 1]
        message: dict[str, Any] = {
            "message_id": next(self._update_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private"},
            "from": sender,
        }
        parts = line.split()
        if parts[:1] == ["/location"] and len(parts) == 3:
            message["location"] = {"latitude": float(parts[1]), "longitude": float(parts[2])}
        elif parts[:1] in (["/voice"], ["/photo"]) and self.pending_voice is not None:
            message.update(self.pending_voice)
            self.pending_voice = None
        elif parts[:1] == ["/re"] and self.user_id in self.last_bot:
            message["text"] = line.split(None, 1)[1] if len(parts) > 1 else ""
            message["reply_to_message"] = self.last_bot[self.user_id]
        else:
            message["text"] = line
            if line.startswith("/"):
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": len(line.split()[0])}
                ]
        return {"update_id": next(self._update_ids), "message": message}


async def run_chat(
    config: Config,
    persona: str,
    language: str | None,
    database: Path | None,
    files: Path | None,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> None:
    """The interactive loop: read lines, feed updates, print what the bot does."""
    workdir = Path(tempfile.mkdtemp(prefix="quartierbot-chat-"))
    config = _with_database(config, database or workdir / "chat.sqlite3")
    chat = TerminalChat(config, out, files or workdir / "files", persona)
    repos = Repositories.create(config)
    request = TerminalRequest(chat.files, chat.show, chat.recordings)
    app: QuartierApplication = build_application(
        repos,
        TOKEN,
        request=request,
        updates_request=TerminalRequest(chat.files, chat.show, chat.recordings),
    )
    async with running(app):
        chat.print(f"quartierbot chat — database {config.database}, files in {chat.files}\n{HELP}")
        chat.print(f"-- you are {chat.persona_name()} (id {chat.user_id})")
        await _converse(app, chat, language, stdin)
        if app.outbox is not None:
            # What is still on its way (a group gets a message every few seconds) shows first.
            await app.outbox.settled(seconds=15)
        await asyncio.sleep(0.2)  # let background work (a broadcast) show its last output


async def _converse(
    app: QuartierApplication, chat: TerminalChat, language: str | None, stdin: TextIO
) -> None:
    """Read lines until /quit or end of input; each line becomes an update."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            return
        line = line.strip()
        if not line or chat.persona(line):
            continue
        if line in ("/quit", "/exit"):
            return
        if line == "/?":
            chat.print(HELP)
            continue
        command = line.split()[0]
        if command in ("/voice", "/photo"):
            prepare = chat.prepare_voice if command == "/voice" else chat.prepare_photo
            problem = prepare(line)
            if problem is not None:
                chat.print(f"-- {problem}")
                continue
        if command == "/re" and chat.user_id not in chat.last_bot:
            chat.print("-- the bot has not written to you yet: nothing to reply to")
            continue
        chat.print(chat.bold("you: ") + line)
        update = Update.de_json(chat.update_for(line, language), app.bot)
        await app.process_update(update)
        await asyncio.sleep(0.05)  # let background work (a broadcast) show its first output


def _with_database(config: Config, path: Path) -> Config:
    """The same configuration with another database file (never the production one)."""
    return replace(config, database=path)
