"""End to end: voice messages in the real `quartierbot run` process.

The bot runs as a child process against the loopback fake Bot API (which stores the resident's
recording and serves it through getFile and the file download), transcribes through the loopback
fake of the OpenAI-compatible API (tests/fake_transcription.py) and translates through the fake
LibreTranslate. tests/test_voice.py covers the same ground in process, in more detail.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import GROUP_ID, TEST_CONFIG
from tests.e2e import BotProcess, Chat, running_bot, texts
from tests.fake_transcription import FakeTranscription, spoken
from tests.fake_translation import FakeTranslation
from tests.fakebotapi import FakeBotApi, FakeUser
from tests.test_erasure_bytes import database_bytes

API_KEY = "stt-key-0815-never-logged"
LANGUAGES = '["de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl"]'
TURKISH = "Merdiven ışığı iki haftadır yanmıyor."
GERMAN = "Das Treppenlicht brennt seit zwei Wochen nicht."


@dataclass
class World:
    """The bot process and the fakes it talks to."""

    api: FakeBotApi
    stt: FakeTranscription
    bot: BotProcess
    directory: Path


@contextmanager
def running_world(directory: Path, transcription: bool) -> Iterator[World]:
    """Start everything; afterwards: clean exit, no traceback, nothing private in the log."""
    stt, translation = FakeTranscription(), FakeTranslation()
    config = TEST_CONFIG.replace('languages = ["de", "en"]', f"languages = {LANGUAGES}")
    config += (
        f'\n[translation]\nbackend = "libretranslate"\nurl = "{translation.url}"\n'
        'staff_language = "de"\ntimeout_seconds = 2\n'
    )
    if transcription:
        config += (
            f'\n[transcription]\nbackend = "openai"\nurl = "{stt.url}"\n'
            'model = "Systran/faster-whisper-small"\nmax_seconds = 180\ntimeout_seconds = 5\n'
        )
    path = directory / "config.toml"
    path.write_text(config, encoding="utf-8")
    env = {"QUARTIERBOT_TRANSCRIPTION_API_KEY": API_KEY}
    try:
        with FakeBotApi() as api, running_bot(api, path, env, (API_KEY, TURKISH, GERMAN)) as bot:
            yield World(api, stt, bot, directory)
    finally:
        stt.close()
        translation.close()


def resident_at_description(api: FakeBotApi, user_id: int, language: str) -> Chat:
    """A resident onboarded in their language, at the concern's description step."""
    chat = Chat(api, FakeUser(id=user_id, first_name="Ayşe", language_code=language))
    chat.say("/start q-bahnhofsvorstadt")
    chat.tap(f"lang:{language}")
    chat.say("/concern")
    chat.tap("ctopic:housing")
    return chat


def submit(chat: Chat) -> tuple[str, str]:
    """Continue, contact yes, consent (first concern); returns (the summary, the reference)."""
    chat.tap("cflow:next")
    chat.tap("ccontact:yes")
    summary = texts(chat.tap("cconsent:yes"))
    found = re.search(r"BV-\d{4}", texts(chat.tap("cflow:submit")))
    assert found is not None
    return summary, found.group()


def staff_copies(api: FakeBotApi, reference: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The concern's post in the staff group and the recording under it (uploaded as a file,
    so that it can be replaced at any age)."""
    post = api.wait_for_message(GROUP_ID, lambda m: reference in m.get("text", ""), 10)
    copy = api.wait_for_message(
        GROUP_ID, lambda m: "document" in m and m.get("caption") == reference, 10
    )
    return post, copy


def stored_voice(directory: Path, reference: str) -> str:
    """The Telegram file id of a concern's recording, as the database keeps it."""
    with sqlite3.connect(directory / "bot.sqlite3") as conn:
        (file_id,) = conn.execute(
            "SELECT voice_file_id FROM concerns WHERE reference = ?", (reference,)
        ).fetchone()
    return str(file_id)


def sent_text(api: FakeBotApi, message: dict[str, Any]) -> str:
    """The HTML the bot sent for one of its messages."""
    for call in reversed(api.calls_to("sendMessage")):
        result = call.response.get("result") if call.response else None
        if (
            isinstance(result, dict)
            and result.get("message_id") == message["message_id"]
            and result["chat"]["id"] == message["chat"]["id"]
        ):
            return str(call.params["text"])
    raise AssertionError("not sent")


def test_voice_concerns_end_to_end(tmp_path: Path) -> None:
    with running_world(tmp_path, transcription=True) as world:
        api, stt = world.api, world.stt

        # With transcription: after the privacy notice (which names the service) the transcript
        # is in the summary, to confirm or correct; then staff get all three.
        chat = resident_at_description(api, 731001, "tr")
        answer = texts(chat.voice(spoken(TURKISH), 42))
        assert "(0:42)" in answer and not stt.calls  # nothing leaves before the consent
        summary, reference = submit(chat)
        ((path, fields, headers),) = stt.calls
        assert path == "/v1/audio/transcriptions" and fields["language"] == "tr"
        assert fields["file"][1] == spoken(TURKISH)  # the bytes the resident recorded
        assert headers["Authorization"] == f"Bearer {API_KEY}"
        assert "🎤 Sesli mesaj (0:42)" in summary and TURKISH in summary
        post, copy = staff_copies(api, reference)
        html = sent_text(api, post)
        assert f"<blockquote>{GERMAN}</blockquote>" in html  # the translation
        assert f"<blockquote expandable>{TURKISH}</blockquote>" in html  # the transcript
        assert "automatische Abschrift" in html
        assert copy["reply_to_message"]["message_id"] == post["message_id"]
        file_id = stored_voice(world.directory, reference)
        assert api.file_content(copy["document"]["file_id"]) == spoken(TURKISH)

        # Over the limit: a clear answer, nothing fetched, the draft still waits for text.
        calls_before = len(stt.calls)
        chat = resident_at_description(api, 731002, "en")
        answer = texts(chat.voice(spoken("A very long story."), 181))
        assert "Your voice message is 3:01 long" in answer
        assert len(stt.calls) == calls_before

        # The service down: the concern goes out with the voice, untranscribed, in time.
        stt.fail = True
        chat = resident_at_description(api, 731003, "en")
        chat.voice(spoken("Hello office."), 9)
        summary, reference = submit(chat)
        assert "🎤 Voice message (0:09)" in summary and "Transcript" not in summary
        post, _ = staff_copies(api, reference)
        assert "Sprachnachricht (0:09) unten." in sent_text(api, post)
        stt.fail = False

        # /deleteme after a voice concern: the file id is in none of the database's files.
        before = database_bytes(world.directory)
        assert file_id.encode() in before  # the test can see it
        erased = Chat(api, FakeUser(id=731001, first_name="Ayşe", language_code="tr"))
        erased.say("/deleteme")
        erased.tap("delme:yes")
        api.wait_idle(timeout=15)
        assert file_id.encode() not in database_bytes(world.directory)
        # The staff group's copy became the placeholder picture (possible at any age).
        replaced = api.wait_for_message(
            GROUP_ID, lambda m: m["message_id"] == copy["message_id"] and "photo" in m, 10
        )
        assert "document" not in replaced and "(Datenschutz)" in replaced["caption"]
    assert file_id.encode() not in database_bytes(tmp_path)


def test_a_voice_concern_without_transcription_goes_to_staff_as_it_is(tmp_path: Path) -> None:
    with running_world(tmp_path, transcription=False) as world:
        api = world.api
        chat = resident_at_description(api, 732001, "en")
        answer = texts(chat.voice(spoken("The stair light is broken."), 42))
        assert "your voice message (0:42) is attached" in answer
        summary, reference = submit(chat)
        assert "🎤 Voice message (0:42)" in summary
        post, copy = staff_copies(api, reference)
        assert "Sprachnachricht (0:42) unten." in sent_text(api, post)
        content = api.file_content(copy["document"]["file_id"])
        assert content == spoken("The stair light is broken.")
    assert not world.stt.calls
