"""Machine translation of what people write, against loopback fakes of LibreTranslate and DeepL."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest

from bot.broadcasts import carry_formatting, visible_length
from bot.config import load_config
from bot.context import QuartierApplication
from bot.jobs import send_due_reminders
from bot.repositories import Repositories
from bot.translation import _outage
from storage.events import EventInput
from storage.translations import StoredTranslation
from tests.conftest import ADMIN_ID, GROUP_ID, MONDAY_11, TEST_CONFIG
from tests.fake_translation import FakeTranslation
from tests.recording import Person, RecordingRequest, running_app

TURKISH = "Merdiven ışığı iki haftadır yanmıyor."
GERMAN = "Das Treppenlicht brennt seit zwei Wochen nicht."
API_KEY = "tr-key-4711-never-logged"
_REQUEST = httpx.Request("POST", "http://127.0.0.1/translate")
ALL_LANGUAGES = '["de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl"]'


@pytest.fixture
def fake() -> Iterator[FakeTranslation]:
    """The loopback translation service."""
    service = FakeTranslation()
    yield service
    service.close()


@pytest.fixture(params=["libretranslate", "deepl"])
async def world(
    request: pytest.FixtureRequest,
    fake: FakeTranslation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[QuartierApplication, RecordingRequest, Repositories]]:
    """The bot in every language, translating through one of the two APIs."""
    monkeypatch.setenv("QUARTIERBOT_TRANSLATION_API_KEY", API_KEY)
    config = TEST_CONFIG.replace('languages = ["de", "en"]', f"languages = {ALL_LANGUAGES}")
    config += (
        f'\n[translation]\nbackend = "{request.param}"\nurl = "{fake.url}"\n'
        'staff_language = "de"\ntimeout_seconds = 1\n'
    )
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")
    repos = Repositories.create(load_config(path))
    repos.clock = lambda: MONDAY_11
    async with running_app(repos) as (app, recording):
        yield app, recording, repos


async def turkish_concern(person: Person) -> None:
    """A resident who reads Turkish sends a concern written in Turkish."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press_callback("lang:tr")
    await person.send("/concern")
    await person.press_callback("ctopic:housing")
    await person.send(TURKISH)
    await person.press_callback("ccontact:yes")
    await person.press_callback("cconsent:yes")
    await person.press_callback("cflow:submit")


def group_posts(recording: RecordingRequest) -> list[Any]:
    """sendMessage calls into the staff group."""
    return [c for c in recording.to_chat(GROUP_ID) if c.method == "sendMessage"]


async def test_a_turkish_concern_reaches_staff_in_german_with_the_original(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, _ = world
    await turkish_concern(Person(app, recording, 704001, "tr"))
    (post,) = group_posts(recording)
    text = str(post.params["text"])
    assert "🌐 Maschinelle Übersetzung, Originalsprache: Türkisch" in text
    assert f"<blockquote>{GERMAN}</blockquote>" in text
    assert f"<blockquote expandable>{TURKISH}</blockquote>" in text
    assert fake.translations_to("de") == 1
    # Stored once: another look at the post (a status change edits it) asks nobody again.
    officer = Person(app, recording, ADMIN_ID, "de")
    await officer.send("/status BV-0001 in_progress")
    edited = [c for c in recording.to_chat(GROUP_ID) if c.method == "editMessageText"][-1]
    assert GERMAN in str(edited.params["text"])
    assert fake.translations_to("de") == 1


async def test_an_officers_german_reply_reaches_the_resident_in_turkish(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, repos = world
    resident = Person(app, recording, 704002, "tr")
    await turkish_concern(resident)
    officer = Person(app, recording, ADMIN_ID, "de")
    await officer.send("/reply BV-0001 Wir kommen morgen vorbei.")
    reply = [c for c in recording.to_chat(resident.user_id) if c.method == "sendMessage"][-1]
    text = str(reply.params["text"])
    assert reply.params["parse_mode"] == "HTML"
    assert "<blockquote>Yarın uğrayacağız.</blockquote>" in text
    assert "Almanca" in text  # labelled, in Turkish, with the source language
    assert "<blockquote expandable>Wir kommen morgen vorbei.</blockquote>" in text
    # The resident's answer to it still joins the thread.
    await resident.reply(resident.last_message_to(), "Teşekkürler")
    entries = await repos.concerns.events(1)
    assert entries[-1].kind == "resident" and entries[-1].text == "Teşekkürler"


@pytest.mark.parametrize("trouble", ["down", "slow"])
async def test_without_the_service_the_original_goes_out_in_time(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
    fake: FakeTranslation,
    trouble: str,
) -> None:
    app, recording, repos = world
    fake.fail = trouble == "down"
    fake.delay = 3.0 if trouble == "slow" else 0.0  # over timeout_seconds = 1
    await turkish_concern(Person(app, recording, 704003, "tr"))
    (post,) = group_posts(recording)
    text = str(post.params["text"])
    assert f"<blockquote>{TURKISH}</blockquote>" in text
    assert "Übersetzung nicht verfügbar" in text
    # Nothing is stored for it: a later look may try again.
    assert await repos.translations.get("concern:1", "de") is None


async def test_the_wire_formats(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, _ = world
    await turkish_concern(Person(app, recording, 704004, "tr"))
    ((path, body, headers),) = fake.calls
    if path == "/translate":  # LibreTranslate
        assert body["source"] == "auto" and body["target"] == "de" and body["q"] == [TURKISH]
        assert body["format"] == "text"
    else:  # DeepL
        assert path == "/v2/translate"
        assert body["target_lang"] == "DE" and body["text"] == [TURKISH]
        assert headers["Authorization"] == f"DeepL-Auth-Key {API_KEY}"
    if path == "/translate":
        assert body["api_key"] == API_KEY


async def test_a_status_note_reaches_the_resident_translated(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, _ = world
    resident = Person(app, recording, 704005, "tr")
    await turkish_concern(resident)
    officer = Person(app, recording, ADMIN_ID, "de")
    await officer.send("/status BV-0001 in_progress Wir kommen morgen vorbei.")
    notice = [c for c in recording.to_chat(resident.user_id) if c.method == "sendMessage"][-1]
    assert notice.params["parse_mode"] == "HTML"
    assert "<blockquote>Yarın uğrayacağız.</blockquote>" in str(notice.params["text"])
    assert "<blockquote expandable>Wir kommen morgen vorbei.</blockquote>" in str(
        notice.params["text"]
    )


async def test_privacy_names_the_translation_service(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
) -> None:
    app, recording, repos = world
    resident = Person(app, recording, 704006, "en")
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press_callback("lang:en")
    (answer,) = [c for c in await resident.send("/privacy") if c.method == "sendMessage"]
    service = "DeepL" if repos.config.translation.backend == "deepl" else "LibreTranslate"
    assert "machine translation service" in str(answer.params["text"])
    assert service in str(answer.params["text"])


async def test_without_a_service_no_text_leaves_the_bot_and_privacy_says_nothing_of_it(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, recording = app
    assert not repos.translation.enabled
    resident = Person(application, recording, 704007, "en")
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    (answer,) = [c for c in await resident.send("/privacy") if c.method == "sendMessage"]
    assert "machine translation" not in str(answer.params["text"])


FESTIVAL = {
    "text": "Straßenfest am Samstag!",
    "entities": [{"type": "bold", "offset": 0, "length": 11}],
}
FESTIVAL_HTML = "<b>Straßenfest</b> am Samstag!"
ARABIC_BY_HAND = "مهرجان الحي يوم السبت، أهلًا بالجميع!"


async def residents_reading(repos: Repositories, languages: list[str]) -> dict[str, list[int]]:
    """Two residents per language following the Bahnhofsvorstadt."""
    readers: dict[str, list[int]] = {}
    user_id = 705000
    for language in languages:
        for _ in range(2):
            user_id += 1
            await repos.residents.set_language(user_id, language)
            await repos.residents.set_quarter(user_id, "bahnhofsvorstadt")
            await repos.subscriptions.subscribe(user_id, ["bahnhofsvorstadt"])
            readers.setdefault(language, []).append(user_id)
    return readers


async def broadcast_until_preview(officer: Person) -> list[Any]:
    """/broadcast to every topic and language, then the festival text; the preview's calls."""
    await officer.send("/broadcast bahnhofsvorstadt")
    await officer.press_callback("bct:*")
    await officer.press_callback("bcl:*")
    return await officer.send_extra(FESTIVAL, FESTIVAL["text"])


async def delivered_text(recording: RecordingRequest, user_id: int) -> str:
    """The one broadcast message a resident got."""
    (call,) = [c for c in recording.to_chat(user_id) if c.method == "sendMessage"]
    assert call.params["parse_mode"] == "HTML"
    return str(call.params["text"])


async def finish(app: QuartierApplication) -> None:
    """Until the background broadcast is done."""
    assert app.broadcaster is not None
    for _ in range(200):
        if not app.broadcaster.running():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("broadcast still running")


async def test_a_broadcast_goes_out_in_each_residents_language(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, repos = world
    readers = await residents_reading(repos, ["de", "tr", "ar", "uk", "ru"])
    officer = Person(app, recording, ADMIN_ID, "de")
    preview = [str(c.params.get("text")) for c in await broadcast_until_preview(officer)]
    # One call per audience language for the whole broadcast, not one per resident.
    assert [fake.translations_to(language) for language in ("tr", "ar", "uk", "ru")] == [1] * 4
    turkish = next(text for text in preview if text.startswith("<b>Türkisch: 2 Personen</b>"))
    assert "Maschinelle Übersetzung: bitte prüfen" in turkish
    assert turkish.endswith("<b>Sokak şenliği</b> cumartesi!")
    russian = next(text for text in preview if text.startswith("<b>Russisch: 2 Personen</b>"))
    assert "Formatierung verloren" in russian
    assert not any(text.startswith("<b>Deutsch") for text in preview)  # written in it already
    # The officer writes the Arabic version by hand.
    await officer.press_callback("bcv:ar")
    await officer.send(ARABIC_BY_HAND)
    await officer.press_callback("bcf:now")
    await finish(app)
    label_tr = "<i>🌐 Makine çevirisi</i>"
    assert await delivered_text(recording, readers["tr"][0]) == (
        "<b>Sokak şenliği</b> cumartesi!\n\n" + label_tr
    )
    assert (await delivered_text(recording, readers["uk"][1])).startswith(
        "<b>Вуличне свято</b> в суботу!"
    )
    for user_id in readers["ar"]:
        assert await delivered_text(recording, user_id) == ARABIC_BY_HAND  # as written, unlabelled
    for user_id in readers["de"] + readers["ru"]:
        assert await delivered_text(recording, user_id) == FESTIVAL_HTML
    # Sending asked the service nothing more.
    assert [fake.translations_to(language) for language in ("tr", "ar", "uk", "ru")] == [1] * 4


async def test_a_broadcast_without_the_service_goes_out_as_written(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, repos = world
    fake.fail = True
    readers = await residents_reading(repos, ["de", "tr"])
    officer = Person(app, recording, ADMIN_ID, "de")
    preview = [str(c.params.get("text")) for c in await broadcast_until_preview(officer)]
    turkish = next(text for text in preview if text.startswith("<b>Türkisch: 2 Personen</b>"))
    assert "Übersetzung nicht verfügbar: Diese Personen erhalten das Original." in turkish
    await officer.press_callback("bcf:now")
    await finish(app)
    for user_id in readers["de"] + readers["tr"]:
        assert await delivered_text(recording, user_id) == FESTIVAL_HTML


async def test_a_second_identical_broadcast_asks_the_service_nothing(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, repos = world
    readers = await residents_reading(repos, ["de", "tr"])
    officer = Person(app, recording, ADMIN_ID, "de")
    await broadcast_until_preview(officer)
    await officer.press_callback("bcf:now")
    await finish(app)
    calls = len(fake.calls)
    preview = [str(c.params.get("text")) for c in await broadcast_until_preview(officer)]
    assert any(text.endswith("<b>Sokak şenliği</b> cumartesi!") for text in preview)
    await officer.press_callback("bcf:now")
    await finish(app)
    assert len(fake.calls) == calls
    turkish = [c for c in recording.to_chat(readers["tr"][0]) if c.method == "sendMessage"]
    assert [str(c.params["text"]).split("\n")[0] for c in turkish] == [
        "<b>Sokak şenliği</b> cumartesi!"
    ] * 2


FEST_TITLE = "Straßenfest am Samstag"
FEST_TEXT = "Musik, Essen und Spiele für Kinder."


async def festival(repos: Repositories) -> int:
    """An event written in German by staff."""
    event = await repos.events.create(
        ADMIN_ID,
        EventInput(
            quarter_id="bahnhofsvorstadt",
            title=FEST_TITLE,
            starts_at=datetime(2026, 12, 5, 14, 0, tzinfo=UTC),
            ends_at=None,
            place="Bahnhofsplatz",
            description=FEST_TEXT,
            capacity=None,
            topic_id=None,
        ),
    )
    return event.id


async def onboarded(
    app: QuartierApplication, recording: RecordingRequest, user_id: int, language: str
) -> Person:
    """A resident of the Bahnhofsvorstadt reading `language`."""
    person = Person(app, recording, user_id, language)
    await person.send("/start q-bahnhofsvorstadt")
    await person.press_callback(f"lang:{language}")
    return person


def buttons(message: dict[str, Any]) -> list[str]:
    """The callback data of a message's buttons."""
    return [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_an_event_reaches_a_turkish_reader_in_turkish_with_the_original_on_request(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, repos = world
    event_id = await festival(repos)
    resident = await onboarded(app, recording, 706001, "tr")
    card = str((await resident.send("/events"))[-1].params["text"])
    assert card.startswith("Cumartesi sokak şenliği\n📅 ")
    assert "\nMüzik, yemek ve çocuklar için oyunlar.\n" in card
    assert "🌐 Başlık ve metin: makine çevirisi (kaynak dil: Almanca)." in card
    assert f"ev:orig:{event_id}" in buttons(resident.last_message_to())
    assert fake.translations_to("tr") == 1  # title and text in one request
    # A second view, the calendar file and the reminder ask the service nothing.
    await resident.send("/events")
    original = await resident.press_callback(f"ev:orig:{event_id}")
    assert [c.params["text"] for c in original if c.method == "sendMessage"] == [
        f"Orijinali:\n{FEST_TITLE}\n\n{FEST_TEXT}"
    ]
    await resident.press_callback(f"ev:go:{event_id}")
    await resident.press_callback(f"ev:ics:{event_id}")
    _, content = recording.files[
        (resident.user_id, max(m for (c, m) in recording.files if c == resident.user_id))
    ]
    (vevent,) = icalendar.Calendar.from_ical(content).walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Cumartesi sokak şenliği"
    assert FEST_TEXT in str(vevent["DESCRIPTION"])  # the original travels along
    assert "makine çevirisi" in str(vevent["DESCRIPTION"])
    repos.clock = lambda: datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert await send_due_reminders(app.bot, repos) == 1
    reminder = str(resident.last_message_to()["text"])
    assert "Cumartesi sokak şenliği" in reminder and "makine çevirisi" in reminder
    assert fake.translations_to("tr") == 1


async def test_an_event_in_the_readers_own_language_is_shown_as_written(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, repos = world
    event_id = await festival(repos)
    resident = await onboarded(app, recording, 706002, "de")
    card = str((await resident.send("/events"))[-1].params["text"])
    assert card.startswith(FEST_TITLE) and "Maschinelle" not in card and "maschinelle" not in card
    assert f"ev:orig:{event_id}" not in buttons(resident.last_message_to())


async def test_an_announced_event_is_translated_once_per_language_before_delivery(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, repos = world
    readers = await residents_reading(repos, ["de", "tr", "ar", "uk"])
    event_id = await festival(repos)
    officer = Person(app, recording, ADMIN_ID, "de")
    await officer.press_data(officer.old_bot_message(), f"evann:{event_id}")
    await finish(app)
    assert [fake.translations_to(language) for language in ("de", "tr", "ar", "uk")] == [1] * 4
    arabic = str(recording.to_chat(readers["ar"][0])[-1].params["text"])
    assert "مهرجان الشارع يوم السبت" in arabic and "ترجمة آلية" in arabic
    ukrainian = recording.to_chat(readers["uk"][1])[-1].params
    assert "Вуличне свято в суботу" in str(ukrainian["text"])
    assert f"ev:orig:{event_id}" in buttons(ukrainian)
    german = str(recording.to_chat(readers["de"][0])[-1].params["text"])
    assert FEST_TITLE in german and "maschinelle" not in german


async def test_an_event_without_the_service_is_shown_as_written_and_tried_again_later(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
    fake: FakeTranslation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, recording, repos = world
    event_id = await festival(repos)
    resident = await onboarded(app, recording, 706003, "tr")
    fake.fail = True
    card = str((await resident.send("/events"))[-1].params["text"])
    assert card.startswith(FEST_TITLE) and "makine" not in card
    assert f"ev:orig:{event_id}" not in buttons(resident.last_message_to())
    # While the service rests after an outage, readers are not made to wait for it again.
    asked = len(fake.calls)
    await resident.send("/events")
    assert len(fake.calls) == asked
    # Once it is back (and the rest is over), the next view translates.
    fake.fail = False
    monkeypatch.setattr(repos.translation, "_resting_until", 0.0)
    card = str((await resident.send("/events"))[-1].params["text"])
    assert card.startswith("Cumartesi sokak şenliği")


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (httpx.ConnectError("refused"), True),
        (TimeoutError(), True),
        (httpx.HTTPStatusError("", request=_REQUEST, response=httpx.Response(503)), True),
        (httpx.HTTPStatusError("", request=_REQUEST, response=httpx.Response(429)), True),
        (httpx.HTTPStatusError("", request=_REQUEST, response=httpx.Response(456)), True),
        (httpx.HTTPStatusError("", request=_REQUEST, response=httpx.Response(400)), False),
        (ValueError("odd answer"), False),
    ],
)
def test_only_an_outage_rests_the_service(error: Exception, outage: bool) -> None:
    # A 400 (say, a language the service lacks) concerns that request, not every reader.
    assert _outage(error) is outage


async def test_staff_read_the_thread_and_the_export_in_german_beside_the_originals(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, _ = world
    resident = Person(app, recording, 707001, "tr")
    await turkish_concern(resident)
    officer = Person(app, recording, ADMIN_ID, "de")
    await officer.send("/reply BV-0001 Wir kommen morgen vorbei.")
    await resident.reply(resident.last_message_to(), "Hâlâ bozuk, bekliyorum.")
    await officer.send("/concerns")
    detail = [c for c in await officer.press_callback("cshow:1") if c.method == "sendMessage"]
    text = str(detail[-1].params["text"])
    assert f"<blockquote>{GERMAN}</blockquote>" in text
    assert "<blockquote>Immer noch kaputt, ich warte.</blockquote>" in text
    assert "<blockquote expandable>Hâlâ bozuk, bekliyorum.</blockquote>" in text
    assert "Wir kommen morgen vorbei." in text  # the officer's own reply as written
    calls = await officer.send("/export csv")
    assert [c for c in calls if c.method == "sendDocument"]
    keys = [key for key in recording.files if key[0] == ADMIN_ID]
    content = recording.files[max(keys)][1].decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(content, newline=""), delimiter=";"))[:2]
    columns = dict(zip(header, row, strict=True))
    assert columns["Text"] == TURKISH
    assert columns["Maschinelle Übersetzung"] == GERMAN
    assert columns["Originalsprache"] == "Türkisch"


async def test_a_broadcast_to_one_language_is_translated_into_it(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, repos = world
    readers = await residents_reading(repos, ["de", "tr"])
    officer = Person(app, recording, ADMIN_ID, "de")
    await officer.send("/broadcast bahnhofsvorstadt")
    await officer.press_callback("bct:*")
    await officer.press_callback("bcl:tr")
    await officer.send_extra(FESTIVAL, FESTIVAL["text"])
    await officer.press_callback("bcf:now")
    await finish(app)
    assert (await delivered_text(recording, readers["tr"][1])).startswith(
        "<b>Sokak şenliği</b> cumartesi!"
    )
    assert not [c for c in recording.to_chat(readers["de"][0]) if c.method == "sendMessage"]
    assert fake.translations_to("tr") == 1 and fake.translations_to("de") == 0


@pytest.mark.parametrize(
    ("original", "translated", "carried"),
    [
        # The original's tags go out, not the service's: a changed address cannot reach anyone.
        (
            '<a href="https://bremen.de/fest">Fest</a> am Samstag',
            '<a href="https://evil.example">Şenlik</a> cumartesi',
            '<a href="https://bremen.de/fest">Şenlik</a> cumartesi',
        ),
        # Tags swapped or lost: the formatting did not survive.
        ("<b>Fest</b> <i>heute</i>", "<i>Şenlik</i> <b>bugün</b>", None),
        ("<b>Fest</b> heute", "Şenlik bugün", None),
        # Stray signs in the answer are text, not markup.
        ("<b>Alter</b> unter 6", "<b>Yaş</b> <6 & üstü", "<b>Yaş</b> &lt;6 &amp; üstü"),
    ],
)
def test_formatting_is_carried_over_only_when_it_survived(
    original: str, translated: str, carried: str | None
) -> None:
    assert carry_formatting(original, translated) == carried


def test_the_visible_length_counts_what_telegram_counts() -> None:
    assert visible_length("<b>Fest</b> &amp; 🎉") == len("Fest & ") + 2  # the emoji: 2 UTF-16 units


async def test_a_translation_arriving_after_erasure_is_not_kept(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
) -> None:
    app, recording, repos = world
    resident = Person(app, recording, 707001, "tr")
    await turkish_concern(resident)
    assert await repos.translations.get("concern:1", "de") is not None
    await repos.privacy.erase_resident(707001)
    # The service answers late, after /deleteme: nothing of the text comes back.
    await repos.translations.put("concern:1", "de", StoredTranslation(GERMAN, "tr"))
    assert await repos.translations.get("concern:1", "de") is None
    await repos.translations.put("text:abc", "de", StoredTranslation(GERMAN, "tr"))
    assert await repos.translations.get("text:abc", "de") is not None


async def test_a_long_concern_and_its_translation_fit_one_staff_post(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
) -> None:
    app, recording, _ = world
    resident = Person(app, recording, 707001, "tr")
    long_text = ("Asansör yine çalışmıyor ve yaşlı komşular merdiven çıkamıyor. " * 60)[:3400]
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press_callback("lang:tr")
    await resident.send("/concern")
    await resident.press_callback("ctopic:housing")
    await resident.send(long_text)
    await resident.press_callback("ccontact:yes")
    await resident.press_callback("cconsent:yes")
    await resident.press_callback("cflow:submit")
    (post,) = group_posts(recording)
    text = str(post.params["text"])
    # The fake takes unknown text for English.
    assert "Maschinelle Übersetzung, Originalsprache: Englisch" in text
    assert "<blockquote expandable>" in text
    assert visible_length(text) <= 4096


async def test_staff_see_the_newest_entries_when_a_thread_is_long(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], fake: FakeTranslation
) -> None:
    app, recording, _ = world
    resident = Person(app, recording, 707001, "tr")
    await turkish_concern(resident)
    officer = Person(app, recording, ADMIN_ID, "de")
    await officer.send("/reply BV-0001 Wir kommen morgen vorbei.")
    office_reply = resident.last_message_to()
    for number in range(6):
        follow_up = f"Ek bilgi {number}: " + "kapı kilitli değil, herkes girebiliyor. " * 70
        await resident.reply(office_reply, follow_up[:3000])
    await officer.send("/concerns")
    calls_before = len(fake.calls)
    detail = [c for c in await officer.press_callback("cshow:1") if c.method == "sendMessage"]
    text = str(detail[-1].params["text"])
    assert visible_length(text) <= 4096
    assert "Ek bilgi 5" in text  # the newest entry is shown…
    assert "nicht angezeigt." in text  # …and the officer is told older ones are left out
    assert len(fake.calls) - calls_before <= 1  # the missing translations in one request


async def test_a_translation_too_long_for_one_message_leaves_the_original(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
) -> None:
    app, recording, repos = world
    readers = await residents_reading(repos, ["de", "tr"])
    officer = Person(app, recording, ADMIN_ID, "de")
    long_news = ("Die Sprechstunde fällt in dieser Woche aus. " * 100)[:4070]
    await officer.send("/broadcast bahnhofsvorstadt")
    await officer.press_callback("bct:*")
    await officer.press_callback("bcl:*")
    preview = [str(c.params.get("text")) for c in await officer.send(long_news)]
    assert any("Die Übersetzung ist für eine Nachricht zu lang" in text for text in preview)
    await officer.press_callback("bcf:now")
    await finish(app)
    for user_id in readers["tr"] + readers["de"]:
        assert await delivered_text(recording, user_id) == long_news


async def test_the_concern_page_shows_the_office_in_the_residents_language(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
) -> None:
    app, recording, _ = world
    resident = Person(app, recording, 707021, "tr")
    await turkish_concern(resident)
    officer = Person(app, recording, ADMIN_ID, "de")
    await officer.send("/reply BV-0001 Wir kommen morgen vorbei.")
    calls = await resident.send("/concern BV-0001")
    page = str(calls[-1].params["text"])
    assert "<blockquote>Yarın uğrayacağız.</blockquote>" in page  # as it was delivered
    assert "<blockquote expandable>Wir kommen morgen vorbei.</blockquote>" in page
