"""Shared end-to-end helpers: the real bot process and scripted chats over the fake Bot API."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.repositories import Repositories
from tests.conftest import ADMIN_ID
from tests.fakebotapi import FakeBotApi, FakeUser


class BotProcess:
    """The bot as a child process, with its combined log."""

    def __init__(self, api: FakeBotApi, config: Path, log: Path) -> None:
        self.api = api
        self.config = config
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None
        #: Log at DEBUG instead of INFO.
        self.debug = False
        #: Extra environment variables for the process (an API key, say).
        self.env: dict[str, str] = {}

    def start(self) -> None:
        """Start `quartierbot run` and wait until it long-polls."""
        level = "DEBUG" if self.debug else "INFO"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(self.config)],
                env={**self.api.bot_env(), "QUARTIERBOT_LOG_LEVEL": level, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.config.parent,
            )
        self.api.wait_polling(timeout=30)

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, exactly like a power cut for the process."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> int:
        """SIGTERM, as systemd or docker would; returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    @property
    def log(self) -> str:
        """Everything the process printed."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_bot(
    api: FakeBotApi, config: Path, env: dict[str, str], private: Iterable[str]
) -> Iterator[BotProcess]:
    """`quartierbot run` on this config (its database next to it); afterwards: a clean exit, no
    traceback, neither the token nor any of `private` in the log, an intact database."""
    bot = BotProcess(api, config, config.parent / "bot.log")
    bot.env = env
    bot.start()
    try:
        yield bot
    finally:
        if bot.proc is not None:
            assert bot.stop() == 0, bot.log
    log = bot.log
    assert "Traceback" not in log, log
    for secret in (api.token, *private):
        assert secret not in log, secret
    with sqlite3.connect(config.parent / "bot.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


class Chat:
    """One person's private chat with the bot, driven through the fake API."""

    def __init__(self, api: FakeBotApi, user: FakeUser) -> None:
        self.api = api
        self.user = user

    def say(self, text: str, entities: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Send a message (formatted by `entities`) and return every bot message it caused."""
        cursor, first_call = self.api.cursor(), len(self.api.calls)
        self.api.push_message(self.user, text, entities=entities)
        return self._replies(cursor, first_call)

    def voice(self, audio: bytes, seconds: int, **extra: Any) -> list[dict[str, Any]]:
        """Send a voice message (`FakeBotApi.push_voice` options) and return the bot's answers."""
        cursor, first_call = self.api.cursor(), len(self.api.calls)
        self.api.push_voice(self.user, audio, seconds, **extra)
        return self._replies(cursor, first_call)

    def press(self, label: str) -> list[dict[str, Any]]:
        """Tap the newest inline button whose label contains `label`."""
        for message in reversed(self.api.sent_messages(self.user.id)):
            try:
                data = self.api.find_button(message, label)
            except AssertionError:
                continue
            cursor, first_call = self.api.cursor(), len(self.api.calls)
            self.api.push_callback(self.user, message, data)
            return self._replies(cursor, first_call)
        raise AssertionError(f"no button {label!r} for {self.user.id}")

    def tap(self, data: str) -> list[dict[str, Any]]:
        """Tap the newest inline button with exactly this callback data (`lang:tr`, `bcf:now`)."""
        for message in reversed(self.api.sent_messages(self.user.id)):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            if any(button.get("callback_data") == data for row in rows for button in row):
                cursor, first_call = self.api.cursor(), len(self.api.calls)
                self.api.push_callback(self.user, message, data)
                return self._replies(cursor, first_call)
        raise AssertionError(f"no button with data {data!r} for {self.user.id}")

    def _replies(self, cursor: int, first_call: int) -> list[dict[str, Any]]:
        """Wait for the first reply, then until the bot is idle; return what it sent or edited."""
        self.api.wait_for_message(self.user.id, after=cursor, timeout=15)
        self.api.wait_idle(timeout=15)
        seen: dict[int, dict[str, Any]] = {}
        for call in self.api.calls[first_call:]:
            if call.method in ("sendMessage", "editMessageText") and call.response.get("ok"):
                result = call.response["result"]
                if isinstance(result, dict):
                    seen[result["message_id"]] = result
        return list(seen.values())


def texts(messages: list[dict[str, Any]]) -> str:
    """All texts, joined, for substring assertions."""
    return "\n".join(str(m.get("text", "")) for m in messages)


def sent_keyboard(api: FakeBotApi, chat_id: int) -> list[str]:
    """Labels of the last reply keyboard sent to a chat."""
    for call in reversed(api.calls_to("sendMessage")):
        markup = call.params.get("reply_markup")
        if (
            call.params.get("chat_id") == chat_id
            and isinstance(markup, dict)
            and "keyboard" in markup
        ):
            return [b["text"] for row in markup["keyboard"] for b in row]
    return []


def seed_broadcast(bot: BotProcess, recipients: int) -> list[int]:
    """Residents subscribed to the Bahnhofsvorstadt and one due broadcast, before the bot starts."""

    async def seed() -> list[int]:
        repos = Repositories.create(load_config(bot.config))
        await repos.db.open()
        ids = list(range(5_000_000, 5_000_000 + recipients))
        now = "2026-01-01T00:00:00Z"
        await repos.db.executemany(
            "INSERT INTO residents (user_id, language, quarter_id, first_seen, last_seen) "
            "VALUES (?, 'de', 'bahnhofsvorstadt', ?, ?)",
            [(i, now, now) for i in ids],
        )
        await repos.db.executemany(
            "INSERT INTO subscriptions (user_id, quarter_id, created_at) VALUES (?, ?, ?)",
            [(i, "bahnhofsvorstadt", now) for i in ids],
        )
        await repos.broadcasts.create(
            created_by=ADMIN_ID,
            quarters=["bahnhofsvorstadt"],
            topic_id=None,
            language=None,
            text="Straßenfest am Samstag!",
            photo_file_id=None,
            scheduled_at=datetime.now(UTC),
        )
        await repos.db.close()
        return ids

    return asyncio.run(seed())
