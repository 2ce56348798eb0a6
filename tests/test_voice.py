"""Voice messages in concerns, follow-ups and replies, transcribed through a loopback fake of the
OpenAI-compatible API (tests/fake_transcription.py) and translated through the LibreTranslate fake.

Handler tests through the real Application with the recording Bot API: the user's recordings
are kept in `RecordingRequest.user_files`, so getFile and the download work as on Telegram.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.context import QuartierApplication
from bot.repositories import Repositories
from tests.conftest import ADMIN_ID, GROUP_ID, MONDAY_11, TEST_CONFIG
from tests.fake_transcription import FakeTranscription, spoken
from tests.fake_translation import PHRASES, FakeTranslation
from tests.recording import Person, RecordingRequest, running_app

TURKISH = "Merdiven ışığı iki haftadır yanmıyor."
GERMAN = "Das Treppenlicht brennt seit zwei Wochen nicht."
API_KEY = "stt-key-0815-never-logged"
LANGUAGES = '["de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl"]'

World = tuple[QuartierApplication, RecordingRequest, Repositories]


@pytest.fixture
def stt() -> Iterator[FakeTranscription]:
    """The loopback transcription service."""
    service = FakeTranscription()
    yield service
    service.close()


@pytest.fixture
def translation() -> Iterator[FakeTranslation]:
    """The loopback translation service."""
    service = FakeTranslation()
    yield service
    service.close()


def voice_config(stt_url: str | None, translation_url: str | None) -> str:
    """The test configuration in every language, with the services given."""
    config = TEST_CONFIG.replace('languages = ["de", "en"]', f"languages = {LANGUAGES}")
    if translation_url:
        config += (
            f'\n[translation]\nbackend = "libretranslate"\nurl = "{translation_url}"\n'
            'staff_language = "de"\ntimeout_seconds = 1\n'
        )
    if stt_url:
        config += (
            f'\n[transcription]\nbackend = "openai"\nurl = "{stt_url}"\n'
            'model = "Systran/faster-whisper-small"\nmax_seconds = 180\ntimeout_seconds = 2\n'
        )
    return config


async def world_with(config: str, tmp_path: Path) -> AsyncIterator[World]:
    """The bot over a fresh database with this configuration."""
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")
    repos = Repositories.create(load_config(path))
    repos.clock = lambda: MONDAY_11
    async with running_app(repos) as (app, recording):
        yield app, recording, repos


@pytest.fixture
async def world(
    stt: FakeTranscription,
    translation: FakeTranslation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    """Transcription and translation both configured."""
    monkeypatch.setenv("QUARTIERBOT_TRANSCRIPTION_API_KEY", API_KEY)
    async for value in world_with(voice_config(stt.url, translation.url), tmp_path):
        yield value


@pytest.fixture
async def plain_world(tmp_path: Path) -> AsyncIterator[World]:
    """No outside service at all (the default)."""
    async for value in world_with(voice_config(None, None), tmp_path):
        yield value


def recording(
    request: RecordingRequest,
    words: str,
    seconds: int = 42,
    kind: str = "voice",
    file_id: str = "voice-file-1",
    size: int | None = None,
) -> dict[str, Any]:
    """A voice note (or audio file, video note) whose audio says `words`; Telegram keeps it."""
    audio = spoken(words)
    request.user_files[file_id] = audio
    media: dict[str, Any] = {
        "file_id": file_id,
        "file_unique_id": file_id,
        "duration": seconds,
        "file_size": len(audio) if size is None else size,
    }
    if kind == "video_note":
        media["length"] = 240
    return {kind: media}


async def start_concern(resident: Person, language: str = "tr") -> None:
    """A reader of this language, onboarded, at the description step."""
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press_callback(f"lang:{language}")
    await resident.send("/concern")
    await resident.press_callback("ctopic:housing")


async def finish_concern(resident: Person) -> list[str]:
    """Contact yes, consent, and the summary's texts before submitting; then submit."""
    await resident.press_callback("ccontact:yes")
    calls = await resident.press_callback("cconsent:yes")
    summary = [str(c.params.get("text", "")) for c in calls]
    await resident.press_callback("cflow:submit")
    return summary


def group_post_id(request: RecordingRequest) -> int:
    """The message id of the concern's post in the staff group."""
    for (chat, message_id), message in request.messages.items():
        if chat == GROUP_ID and "BV-0001" in str(message.get("text", "")):
            return message_id
    raise AssertionError("no post")


def staff_copy(request: RecordingRequest) -> tuple[str, bytes]:
    """The newest file the bot uploaded into the staff group: (name, content)."""
    keys = [key for key in request.files if key[0] == GROUP_ID]
    return request.files[max(keys)]


def group_calls(request: RecordingRequest, method: str) -> list[Any]:
    """Calls of one method into the staff group."""
    return [c for c in request.to_chat(GROUP_ID) if c.method == method]


async def test_a_voice_concern_is_transcribed_confirmed_and_reaches_staff_translated(
    world: World, stt: FakeTranscription, caplog: pytest.LogCaptureFixture
) -> None:
    app, request, repos = world
    caplog.set_level(logging.DEBUG)
    resident = Person(app, request, 707001, "tr")
    await start_concern(resident)
    calls = await resident.send_extra(recording(request, TURKISH))
    assert "(0:42)" in str(calls[-1].params["text"])
    # A first concern: the recording leaves the bot only after the privacy notice, which names
    # the service.
    assert not stt.calls
    await resident.press_callback("cflow:next")
    await resident.press_callback("ccontact:yes")
    calls = await resident.press_callback("cconsent:yes")
    summary = "\n".join(str(c.params.get("text", "")) for c in calls)
    assert "🎤 Sesli mesaj (0:42)" in summary and TURKISH in summary  # to confirm or correct
    assert [c.method for c in calls if c.method == "sendChatAction"]  # "typing" meanwhile
    # The request: the audio as a multipart file, the model, the resident's language as a hint.
    ((path, fields, headers),) = stt.calls
    assert path == "/v1/audio/transcriptions"
    assert fields["model"] == "Systran/faster-whisper-small"
    assert fields["language"] == "tr" and fields["response_format"] == "json"
    assert fields["file"][1] == spoken(TURKISH)
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    await resident.press_callback("cflow:submit")
    concern = await repos.concerns.get(1)
    assert concern is not None and concern.text == TURKISH and concern.transcribed
    assert concern.voice is not None and concern.voice.file_id == "voice-file-1"
    # Staff: the post with the German translation and the transcript, then the voice under it.
    (post,) = group_calls(request, "sendMessage")
    text = str(post.params["text"])
    assert f"<blockquote>{GERMAN}</blockquote>" in text
    assert f"<blockquote expandable>{TURKISH}</blockquote>" in text
    assert "🎤 Sprachnachricht (0:42) unten; der Text ist ihre automatische Abschrift." in text
    # The recording goes up again as a file, so that erasure can replace it at any age.
    (copy,) = group_calls(request, "sendDocument")
    assert copy.params["caption"] == "BV-0001"
    assert copy.params["reply_parameters"]["message_id"] == group_post_id(request)
    assert staff_copy(request) == ("BV-0001-voice.ogg", spoken(TURKISH))
    # The key reaches no log at all; the words none of ours or the HTTP client's (aiosqlite's
    # own DEBUG lines are silenced by the bot's logging set-up: tests/test_debug_logs.py).
    assert API_KEY not in caplog.text
    ours = [r for r in caplog.records if not r.name.startswith(("aiosqlite", "telegram"))]
    assert not [r for r in ours if TURKISH in r.getMessage()]


async def test_typing_after_the_voice_message_corrects_the_transcript(world: World) -> None:
    app, request, repos = world
    resident = Person(app, request, 707002, "tr")
    await start_concern(resident)
    await repos.residents.give_consent(707002)  # not their first concern
    calls = await resident.send_extra(recording(request, "Merdiven ışığı yanmıyo"))
    assert "Merdiven ışığı yanmıyo" in str(calls[-1].params["text"])  # shown at once
    await resident.send(TURKISH)  # the corrected text
    draft = await repos.concerns.draft(707002)
    assert draft is not None and draft.text == TURKISH and not draft.transcribed
    assert draft.voice is not None and draft.step == "contact"


async def test_without_transcription_the_voice_goes_to_staff_as_it_is(
    plain_world: World,
) -> None:
    app, request, _ = plain_world
    resident = Person(app, request, 707003, "en")
    await start_concern(resident, "en")
    calls = await resident.send_extra(recording(request, "The stair light is broken."))
    assert str(calls[-1].params["text"]).startswith(
        "🎤 Thank you, your voice message (0:42) is attached; the quarter office will listen"
    )
    await resident.press_callback("cflow:next")
    summary = "\n".join(await finish_concern(resident))
    assert "🎤 Voice message (0:42)" in summary and "Description:" not in summary
    (post,) = group_calls(request, "sendMessage")
    assert "🎤 Sprachnachricht (0:42) unten." in str(post.params["text"])
    assert staff_copy(request) == ("BV-0001-voice.ogg", spoken("The stair light is broken."))


async def test_a_voice_message_over_the_limit_gets_a_clear_answer_and_changes_nothing(
    world: World, stt: FakeTranscription
) -> None:
    app, request, repos = world
    resident = Person(app, request, 707004, "en")
    await start_concern(resident, "en")
    calls = await resident.send_extra(recording(request, "A long story.", seconds=181))
    assert str(calls[-1].params["text"]).startswith(
        "Your voice message is 3:01 long; the quarter office takes voice messages of up to 3:00."
    )
    draft = await repos.concerns.draft(707004)
    assert draft is not None and draft.voice is None and draft.step == "text"
    assert not stt.calls and not request.of("getFile")


@pytest.mark.parametrize("trouble", ["down", "too large"])
async def test_without_a_transcript_the_concern_still_goes_out_with_the_voice(
    world: World, stt: FakeTranscription, trouble: str
) -> None:
    app, request, repos = world
    stt.fail = trouble == "down"
    size = 25 * 1024 * 1024 if trouble == "too large" else None
    resident = Person(app, request, 707005, "en")
    await start_concern(resident, "en")
    await repos.residents.give_consent(707005)
    calls = await resident.send_extra(recording(request, "Hello.", size=size))
    assert "It could not be written out automatically" in str(calls[-1].params["text"])
    if trouble == "too large":
        assert not request.of("getFile") and not stt.calls  # bots fetch at most 20 MB
    await resident.press_callback("cflow:next")
    await resident.press_callback("ccontact:yes")
    await resident.press_callback("cflow:submit")
    concern = await repos.concerns.get(1)
    assert concern is not None and concern.text is None and concern.voice is not None
    assert staff_copy(request) == ("BV-0001-voice.ogg", spoken("Hello."))


async def test_an_audio_file_is_passed_on_by_its_id_and_a_video_note_as_a_file(
    plain_world: World,
) -> None:
    app, request, repos = plain_world
    resident = Person(app, request, 707006, "en")
    await start_concern(resident, "en")
    await repos.residents.give_consent(707006)
    await resident.send("/cancel")
    for kind, file_id in (("audio", "media-7"), ("video_note", "media-8")):
        await resident.send("/concern")
        await resident.press_callback("ctopic:housing")
        await resident.send_extra(recording(request, "Hi.", kind=kind, file_id=file_id))
        await resident.press_callback("cflow:next")
        await resident.press_callback("ccontact:yes")
        await resident.press_callback("cflow:submit")
    # An audio message can be replaced later as it is; a video note cannot, so it is uploaded.
    (audio,) = group_calls(request, "sendAudio")
    assert audio.params["audio"] == "media-7"
    assert staff_copy(request) == ("BV-0002-video_note.mp4", spoken("Hi."))


async def test_voice_follow_ups_and_an_officers_voice_reply_cross_both_ways(
    world: World, stt: FakeTranscription
) -> None:
    app, request, repos = world
    PHRASES.setdefault("Wir kommen morgen.", ("de", {"tr": "Yarın geliyoruz."}))
    resident = Person(app, request, 707007, "tr")
    await start_concern(resident)
    await resident.send(TURKISH)
    summary = await finish_concern(resident)
    assert summary
    # The officer answers with a voice message, replying to the post in the staff group.
    officer = Person(app, request, ADMIN_ID, "de").in_chat(GROUP_ID)
    post = request.messages[(GROUP_ID, group_post_id(request))]
    calls = await officer.send_extra(
        {
            **recording(request, "Wir kommen morgen.", seconds=5, file_id="officer-voice"),
            "reply_to_message": post,
        }
    )
    assert stt.calls[-1][1]["language"] == "de"
    assert any("gesendet" in str(c.params.get("text", "")) for c in calls)
    to_resident = [c for c in request.to_chat(707007) if c.method in ("sendMessage", "sendVoice")]
    reply, voice = to_resident[-2:]
    assert "Yarın geliyoruz." in str(reply.params["text"])  # transcript, translated, labelled
    assert "🎤" in str(reply.params["text"])
    assert voice.method == "sendVoice" and voice.params["voice"] == "officer-voice"
    # The resident answers that with a voice message: staff get transcript, translation, voice.
    await resident.send_extra(
        {
            **recording(request, "Hâlâ bozuk, bekliyorum.", seconds=7, file_id="resident-2"),
            "reply_to_message": request.messages[(707007, reply_message_id(request, 707007))],
        }
    )
    followup = group_calls(request, "sendMessage")[-1]
    assert "Immer noch kaputt, ich warte." in str(followup.params["text"])
    assert staff_copy(request) == ("BV-0001-voice.ogg", spoken("Hâlâ bozuk, bekliyorum."))
    entries = await repos.concerns.events(1)
    assert [(e.kind, e.voice.file_id if e.voice else None, e.transcribed) for e in entries] == [
        ("reply", "officer-voice", True),
        ("resident", "resident-2", True),
    ]


def reply_message_id(request: RecordingRequest, chat_id: int) -> int:
    """The message id of the office's (text) reply in a resident's chat."""
    for (chat, message_id), message in reversed(list(request.messages.items())):
        if chat == chat_id and "Yarın geliyoruz." in str(message.get("text", "")):
            return message_id
    raise AssertionError("no reply")


async def test_deleteme_takes_the_voice_with_it(world: World) -> None:
    app, request, repos = world
    resident = Person(app, request, 707008, "tr")
    await start_concern(resident)
    await resident.send_extra(recording(request, TURKISH, file_id="voice-to-forget"))
    await resident.press_callback("cflow:next")
    await finish_concern(resident)
    await resident.send("/mydata")
    (exported,) = [content for (chat, _), (_, content) in request.files.items() if chat == 707008]
    listed = json.loads(exported)["concerns"][0]["voice_message"]
    assert listed == {
        "telegram_file_id": "voice-to-forget",
        "kind": "voice",
        "seconds": 42,
        "text_is_its_transcript": True,
    }
    await resident.send("/deleteme")
    await resident.press_callback("delme:yes")
    # The staff group's copy is replaced by the placeholder, like a photo.
    (edit,) = request.of("editMessageMedia")
    assert edit.params["chat_id"] == GROUP_ID
    assert "Sprachnachricht gelöscht" in str(edit.params["media"])
    await repos.db.checkpoint()
    database = repos.config.database
    content = b"".join(
        path.read_bytes() for path in database.parent.glob(database.name + "*") if path.is_file()
    )
    assert b"voice-to-forget" not in content


async def test_privacy_names_the_transcription_service(world: World, plain_world: World) -> None:
    for (app, request, _), named in ((world, True), (plain_world, False)):
        person = Person(app, request, 707009, "en")
        await person.send("/start")
        calls = await person.send("/privacy")
        text = " ".join(str(c.params.get("text", "")) for c in calls)
        assert ("speech recognition service (127.0.0.1)" in text) is named
        assert "If you send a voice message about a concern" in text


async def test_retention_forgets_the_voice_and_names_its_staff_copy(plain_world: World) -> None:
    app, request, repos = plain_world
    resident = Person(app, request, 707010, "en")
    await start_concern(resident, "en")
    await resident.send_extra(recording(request, "Hello.", file_id="old-voice"))
    await resident.press_callback("cflow:next")
    await finish_concern(resident)
    concern = await repos.concerns.get(1)
    assert concern is not None
    await repos.concerns.set_status(concern, "done", ADMIN_ID)
    count, posts = await repos.privacy.anonymise_closed(datetime.now(UTC) + timedelta(days=1))
    assert count == 1
    assert "voice" in [post.kind for post in posts]  # its staff-group copy gets redacted
    forgotten = await repos.concerns.get(1)
    assert forgotten is not None and forgotten.voice is None


async def test_a_resident_who_refuses_voice_messages_gets_the_officers_as_a_file(
    plain_world: World,
) -> None:
    app, request, _ = plain_world
    resident = Person(app, request, 707011, "en")
    await start_concern(resident, "en")
    await resident.send("A bench is broken.")
    await finish_concern(resident)
    request.refusals[("sendVoice", 707011)] = "Bad Request: VOICE_MESSAGES_FORBIDDEN"
    officer = Person(app, request, ADMIN_ID, "de").in_chat(GROUP_ID)
    post = request.messages[(GROUP_ID, group_post_id(request))]
    await officer.send_extra(
        {
            **recording(request, "Wir kommen.", seconds=3, file_id="officer-2"),
            "reply_to_message": post,
        }
    )
    keys = [key for key in request.files if key[0] == 707011]
    assert request.files[max(keys)] == ("BV-0001-voice.ogg", spoken("Wir kommen."))


async def test_a_recording_waits_while_the_text_announcing_it_waits(plain_world: World) -> None:
    app, _, repos = plain_world
    assert app.outbox is not None
    await app.outbox.shutdown()  # the rows stay as they are while the test looks at them
    await repos.residents.set_language(707012, "en")
    await repos.concerns.start_draft(707012, "bahnhofsvorstadt")
    await repos.concerns.update_draft(
        707012,
        topic_id="housing",
        voice_file_id="v",
        voice_kind="voice",
        voice_seconds=3,
        contact_allowed=1,
    )
    await repos.concerns.submit(707012, "BV", "en", GROUP_ID - 1)  # a group nobody reads yet
    post, voice = await repos.outbox.for_chat(GROUP_ID - 1)
    assert (post.kind, voice.kind) == ("concern_post", "concern_voice")
    assert await repos.outbox.behind_its_text(voice)
    await repos.outbox.delivered(post.id)
    assert not await repos.outbox.behind_its_text(voice)
