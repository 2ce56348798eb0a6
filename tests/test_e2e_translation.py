"""End to end: machine translation in the real `quartierbot run` process.

The bot runs as a child process against the loopback fake Bot API (TELEGRAM_API_BASE_URL) and
translates through the loopback fake of LibreTranslate or DeepL (tests/fake_translation.py), with
the API key only in its environment. tests/test_translation.py has the same scenarios in process;
here they go through the real configuration loading, the outbox, the broadcaster and HTTP.

The scenarios that need a working service share one process per backend (each test makes its own
residents and concerns); the ones with the service down get a fresh process, because after an
outage the bot rests from asking for a while.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_ID, GROUP_ID, TEST_CONFIG
from tests.e2e import BotProcess, Chat, running_bot
from tests.fake_translation import FakeTranslation
from tests.fakebotapi import FakeBotApi, FakeUser

API_KEY = "tr-key-4711-never-logged"
LANGUAGES = '["de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl"]'
BACKENDS = ["libretranslate", "deepl"]

TURKISH = "Merdiven ışığı iki haftadır yanmıyor."
GERMAN = "Das Treppenlicht brennt seit zwei Wochen nicht."
REPLY = "Wir kommen morgen vorbei."
REPLY_TURKISH = "Yarın uğrayacağız."
STAFF_LABEL = "🌐 Maschinelle Übersetzung, Originalsprache: Türkisch"

FESTIVAL = "Straßenfest am Samstag!"
FESTIVAL_BOLD = [{"type": "bold", "offset": 0, "length": 11}]
FESTIVAL_HTML = "<b>Straßenfest</b> am Samstag!"
ARABIC_BY_HAND = "مهرجان الحي يوم السبت، أهلًا بالجميع!"

OFFICER = FakeUser(id=ADMIN_ID, first_name="Iris", language_code="de")

#: What people write, and the key: none of it may show up in the process log at INFO.
PRIVATE = (API_KEY, TURKISH, GERMAN, REPLY, REPLY_TURKISH, "Straßenfest", ARABIC_BY_HAND, "Ayşe")


@dataclass
class World:
    """The bot process, the fake Bot API and the fake translation service."""

    api: FakeBotApi
    fake: FakeTranslation
    bot: BotProcess
    backend: str


@contextmanager
def running_world(backend: str, directory: Path) -> Iterator[World]:
    """Start everything; afterwards: clean exit, no traceback, nothing private in the log."""
    fake = FakeTranslation()
    config = TEST_CONFIG.replace('languages = ["de", "en"]', f"languages = {LANGUAGES}")
    config += (
        f'\n[translation]\nbackend = "{backend}"\nurl = "{fake.url}"\n'
        'staff_language = "de"\ntimeout_seconds = 1\n'
    )
    path = directory / "config.toml"
    path.write_text(config, encoding="utf-8")
    env = {"QUARTIERBOT_TRANSLATION_API_KEY": API_KEY}
    try:
        with FakeBotApi() as api, running_bot(api, path, env, PRIVATE) as bot:
            yield World(api, fake, bot, backend)
    finally:
        fake.close()


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One bot process per backend, shared by the tests with a working service."""
    with running_world(request.param, tmp_path_factory.mktemp(request.param)) as shared:
        yield shared


# -- helpers -----------------------------------------------------------------------------------


def sent_html(api: FakeBotApi, message: dict[str, Any]) -> tuple[str, str | None]:
    """(text, parse_mode) of the request that last sent or edited this message."""
    for call in reversed(api.calls):
        result = call.response.get("result") if call.response else None
        if (
            call.method in ("sendMessage", "editMessageText")
            and isinstance(result, dict)
            and result.get("message_id") == message["message_id"]
            and result["chat"]["id"] == message["chat"]["id"]
        ):
            return str(call.params["text"]), call.params.get("parse_mode")
    raise AssertionError(f"no request made message {message['message_id']}")


def entity_texts(message: dict[str, Any], kind: str) -> list[str]:
    """The texts Telegram marks with entities of this type (offsets count UTF-16 units)."""
    units = str(message["text"]).encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.get("entities", [])
        if e["type"] == kind
    ]


def onboard(api: FakeBotApi, residents: list[FakeUser], subscribe: bool = False) -> None:
    """Several residents at once: poster link, their language (their client's), news if asked."""
    steps: list[list[tuple[FakeUser, str | None]]] = [
        [(user, None) for user in residents],
        [(user, f"lang:{user.language_code}") for user in residents],
    ]
    if subscribe:
        steps.append([(user, "sub:add:bahnhofsvorstadt") for user in residents])
    for step in steps:
        cursor = api.cursor()
        for user, data in step:
            if data is None:
                api.push_message(user, "/start q-bahnhofsvorstadt")
            else:
                api.push_callback(user, newest_with_button(api, user.id, data), data)
        for user, _ in step:
            api.wait_for_message(user.id, after=cursor, timeout=15)
        api.wait_idle(timeout=15)


def newest_with_button(api: FakeBotApi, chat_id: int, data: str) -> dict[str, Any]:
    """The newest bot message in a chat with an inline button carrying this callback data."""
    for message in reversed(api.sent_messages(chat_id)):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(button.get("callback_data") == data for row in rows for button in row):
            return message
    raise AssertionError(f"no button {data!r} in chat {chat_id}")


def turkish_concern(world: World, user_id: int) -> tuple[Chat, str, dict[str, Any]]:
    """A resident reading Turkish reports in Turkish: (their chat, reference, the staff post)."""
    resident = Chat(world.api, FakeUser(id=user_id, first_name="Ayşe", language_code="tr"))
    onboard(world.api, [resident.user])
    resident.say("/concern")
    resident.tap("ctopic:housing")
    resident.say(TURKISH)
    resident.tap("ccontact:yes")
    resident.tap("cconsent:yes")
    confirmation = "\n".join(m["text"] for m in resident.tap("cflow:submit"))
    found = re.search(r"BV-\d{4}", confirmation)
    assert found is not None, confirmation
    reference = found.group()
    post = world.api.wait_for_message(GROUP_ID, lambda m: reference in m.get("text", ""))
    return resident, reference, post


def message_to(api: FakeBotApi, chat_id: int, after: int, contains: str) -> dict[str, Any]:
    """Wait (generously) for the bot's message to a chat that contains `contains`."""
    return api.wait_for_message(chat_id, lambda m: contains in m.get("text", ""), 10, after)


# -- with the service --------------------------------------------------------------------------


def test_a_turkish_concern_reaches_staff_in_german_with_the_original(world: World) -> None:
    api, fake = world.api, world.fake
    before = fake.translations_to("de")
    _, reference, post = turkish_concern(world, 721001)

    text, mode = sent_html(api, post)
    assert mode == "HTML"
    assert STAFF_LABEL in text
    assert f"<blockquote>{GERMAN}</blockquote>" in text
    assert f"<blockquote expandable>{TURKISH}</blockquote>" in text
    # Telegram took it as such: the German quoted, the Turkish in a collapsed quote.
    assert entity_texts(post, "blockquote") == [GERMAN]
    assert entity_texts(post, "expandable_blockquote") == [TURKISH]
    assert "721001" not in str(post)
    assert fake.translations_to("de") == before + 1

    # The configured backend's wire format, with the key from the process environment.
    path, body, headers = fake.calls[-1]
    if world.backend == "libretranslate":
        assert path == "/translate" and body["q"] == [TURKISH] and body["target"] == "de"
        assert body["api_key"] == API_KEY
    else:
        assert path == "/v2/translate" and body["text"] == [TURKISH]
        assert body["target_lang"] == "DE"
        assert headers["Authorization"] == f"DeepL-Auth-Key {API_KEY}"

    # The status button edits the post from the stored translation: nobody is asked again.
    cursor = api.cursor()
    api.push_callback(OFFICER, post, api.find_button(post, "In Bearbeitung"))
    edited = api.wait_for_message(GROUP_ID, lambda m: "gesetzt von Iris" in m["text"], after=cursor)
    assert edited["message_id"] == post["message_id"] and reference in edited["text"]
    assert f"<blockquote>{GERMAN}</blockquote>" in sent_html(api, edited)[0]
    api.wait_idle()
    assert fake.translations_to("de") == before + 1


def test_an_officers_german_reply_reaches_the_resident_in_turkish(world: World) -> None:
    api, fake = world.api, world.fake
    resident, reference, post = turkish_concern(world, 721002)
    before = fake.translations_to("tr")

    cursor = api.cursor()
    outcome = Chat(api, OFFICER).say(f"/reply {reference} {REPLY}")
    assert any("An die Person gesendet" in m["text"] for m in outcome), outcome
    reply = message_to(api, resident.user.id, cursor, REPLY_TURKISH)
    text, mode = sent_html(api, reply)
    assert mode == "HTML"
    assert reference in text
    assert "🌐 Makine çevirisi (kaynak dil: Almanca):" in text  # labelled, in Turkish
    assert f"<blockquote>{REPLY_TURKISH}</blockquote>" in text
    assert f"<blockquote expandable>{REPLY}</blockquote>" in text
    assert entity_texts(reply, "expandable_blockquote") == [REPLY]
    assert fake.translations_to("tr") == before + 1

    # Answering it with Telegram's reply joins the thread: under the post, in German for staff.
    cursor = api.cursor()
    api.push_message(resident.user, TURKISH, reply_to_message_id=reply["message_id"])
    followup = message_to(api, GROUP_ID, cursor, GERMAN)
    assert reference in followup["text"]
    assert followup.get("reply_to_message", {}).get("message_id") == post["message_id"]
    assert entity_texts(followup, "expandable_blockquote") == [TURKISH]
    api.wait_idle()


def test_a_broadcast_goes_out_in_each_residents_language(world: World) -> None:
    api, fake = world.api, world.fake
    languages = ["de", "tr", "tr", "ar", "uk", "ru"]  # two read Turkish: still one call for it
    residents = [
        FakeUser(id=722001 + number, first_name="Jan", language_code=language)
        for number, language in enumerate(languages)
    ]
    onboard(api, residents, subscribe=True)
    asked = {language: fake.translations_to(language) for language in set(languages)}

    def calls_since() -> dict[str, int]:
        return {language: fake.translations_to(language) - asked[language] for language in asked}

    officer = Chat(api, OFFICER)
    officer.say("/broadcast bahnhofsvorstadt")
    officer.tap("bct:*")
    officer.tap("bcl:*")
    cursor = len(api.calls)
    officer.say(FESTIVAL, entities=FESTIVAL_BOLD)
    preview = [
        str(c.params["text"])
        for c in api.calls[cursor:]
        if c.method == "sendMessage" and c.params.get("chat_id") == ADMIN_ID
    ]
    # One call per audience language for the whole broadcast, not one per resident (German, the
    # language it is written in, is asked at most once too: that is how the bot learns it).
    assert {k: v for k, v in calls_since().items() if k != "de"} == dict.fromkeys(
        ["tr", "ar", "uk", "ru"], 1
    )
    assert calls_since()["de"] <= 1
    # Sent for HTML, so that the service keeps the bold text bold.
    for _, body, _ in fake.calls[-sum(calls_since().values()) :]:
        assert body.get("format") == "html" or body.get("tag_handling") == "html"
    assert preview[0] == FESTIVAL_HTML  # the original, exactly as residents would see it
    turkish = next(text for text in preview if text.startswith("<b>Türkisch: 2 Personen</b>"))
    assert "Maschinelle Übersetzung: bitte prüfen" in turkish
    assert turkish.endswith("<b>Sokak şenliği</b> cumartesi!")
    russian = next(text for text in preview if text.startswith("<b>Russisch: 1 Person</b>"))
    assert "Formatierung verloren" in russian  # the fake's Russian dropped the <b>
    assert not any(text.startswith("<b>Deutsch") for text in preview)

    # The officer writes the Arabic version by hand.
    prompt = "\n".join(m["text"] for m in officer.tap("bcv:ar"))
    assert "Fassung auf Arabisch" in prompt  # named in the officer's language
    officer.say(ARABIC_BY_HAND)
    cursor, first_call = api.cursor(), len(api.calls)
    started = "\n".join(m["text"] for m in officer.tap("bcf:now"))
    assert "Rundnachricht #" in started
    delivered = {
        user.id: api.wait_for_message(user.id, after=cursor, timeout=15) for user in residents
    }
    api.wait_for_message(ADMIN_ID, lambda m: "fertig: 6 zugestellt" in m["text"], 15, cursor)
    api.wait_idle()

    html = {user_id: sent_html(api, message) for user_id, message in delivered.items()}
    assert all(mode == "HTML" for _, mode in html.values())
    by_language = {user.language_code: html[user.id][0] for user in residents}
    assert (
        html[722002][0]
        == html[722003][0]
        == "<b>Sokak şenliği</b> cumartesi!\n\n<i>🌐 Makine çevirisi</i>"
    )
    assert entity_texts(delivered[722002], "bold") == ["Sokak şenliği"]
    assert by_language["uk"] == "<b>Вуличне свято</b> в суботу!\n\n<i>🌐 Машинний переклад</i>"
    assert by_language["ar"] == ARABIC_BY_HAND  # as written, unlabelled
    assert by_language["de"] == by_language["ru"] == FESTIVAL_HTML
    # One message each, and sending asked the service nothing more.
    sends = [c.params["chat_id"] for c in api.calls[first_call:] if c.method == "sendMessage"]
    assert sorted(user_id for user_id in sends if user_id != ADMIN_ID) == sorted(delivered)
    after = calls_since()
    assert {k: v for k, v in after.items() if k != "de"} == dict.fromkeys(
        ["tr", "ar", "uk", "ru"], 1
    )
    assert after["de"] <= 1


# -- without it --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "trouble"),
    [("libretranslate", "down"), ("deepl", "down"), ("libretranslate", "slow")],
)
def test_without_the_service_everything_goes_out_in_the_original(
    backend: str, trouble: str, tmp_path: Path
) -> None:
    with running_world(backend, tmp_path) as world:
        api, fake = world.api, world.fake
        fake.fail = trouble == "down"
        fake.delay = 3.0 if trouble == "slow" else 0.0  # over timeout_seconds = 1

        # The concern reaches staff in Turkish, marked untranslated.
        resident, reference, post = turkish_concern(world, 723001)
        text, _ = sent_html(api, post)
        assert f"<blockquote>{TURKISH}</blockquote>" in text
        assert "Übersetzung nicht verfügbar" in text
        assert "Maschinelle Übersetzung" not in text
        assert fake.calls  # it was asked, and did not answer in time

        # The officer's reply reaches the resident in German.
        cursor = api.cursor()
        outcome = Chat(api, OFFICER).say(f"/reply {reference} {REPLY}")
        assert any("An die Person gesendet" in m["text"] for m in outcome), outcome
        reply = message_to(api, resident.user.id, cursor, REPLY)
        assert reference in reply["text"]
        assert "Makine çevirisi" not in reply["text"]
        assert "expandable_blockquote" not in str(reply.get("entities"))

        # A broadcast goes out as written, to German and Turkish readers alike.
        readers = [
            FakeUser(id=723101, language_code="de"),
            FakeUser(id=723102, language_code="tr"),
        ]
        onboard(api, readers, subscribe=True)
        officer = Chat(api, OFFICER)
        officer.say("/broadcast bahnhofsvorstadt")
        officer.tap("bct:*")
        officer.tap("bcl:*")
        preview = "\n".join(m["text"] for m in officer.say(FESTIVAL, entities=FESTIVAL_BOLD))
        assert "Übersetzung nicht verfügbar: Diese Personen erhalten das Original." in preview
        cursor = api.cursor()
        officer.tap("bcf:now")
        for reader in readers:
            delivered = api.wait_for_message(reader.id, after=cursor, timeout=10)
            assert sent_html(api, delivered) == (FESTIVAL_HTML, "HTML")
        api.wait_idle()
