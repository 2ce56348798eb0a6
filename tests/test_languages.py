"""Every resident in their own language: the main flows in all nine languages, no fallback text."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.catalogcheck import check_catalog, plural_problems, template_ids
from bot.commands import publish_command_menus
from bot.config import KNOWN_LANGUAGES, Config, load_config
from bot.context import QuartierApplication
from bot.i18n import FSI, PDI, Catalogs, default_locales_dir
from bot.menu import MENU_LAYOUT
from bot.repositories import Repositories
from storage.events import EventInput
from tests.conftest import ADMIN_ID, MONDAY_11, TEST_CONFIG
from tests.recording import Call, Person, RecordingRequest, running_app

LOCALES = default_locales_dir()
TEMPLATE = template_ids(LOCALES / "messages.pot")
LABELS = [label for row in MENU_LAYOUT for label in row]
ENGLISH_DATES = re.compile(
    r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|"
    r"April|June|July|August|September|October|November|December)\b"
)


@pytest.mark.parametrize("language", KNOWN_LANGUAGES)
def test_catalog_is_complete_and_within_telegram_limits(language: str) -> None:
    path = LOCALES / language / "LC_MESSAGES" / "messages.po"
    assert check_catalog(path, language, TEMPLATE, LABELS) == []


def catalog_with_rule(language: str, rule: str) -> Catalog:
    """An empty catalog whose Plural-Forms header is `rule`."""
    catalog = Catalog(locale=language)
    catalog.mime_headers = [("Plural-Forms", rule)]
    return catalog


@pytest.mark.parametrize(
    ("language", "rule"),
    [
        # GNU gettext's spelling and Babel 2.19's differ in text, not in behaviour.
        (
            "pl",
            "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && "
            "(n%100<10 || n%100>=20) ? 1 : 2);",
        ),
        (
            "pl",
            "nplurals=3; plural=n == 1 ? 0 : n % 10 >= 2 && n % 10 <= 4 && "
            "(n % 100 < 12 || n % 100 > 14) ? 1 : 2;",
        ),
        (
            "ar",
            "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : "
            "n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);",
        ),
        ("tr", "nplurals=2; plural=(n != 1);"),
    ],
)
def test_plural_rules_are_compared_by_behaviour(language: str, rule: str) -> None:
    assert plural_problems(catalog_with_rule(language, rule), language) == []


@pytest.mark.parametrize(
    ("language", "rule", "complaint"),
    [
        # The old Arabic formula: 11–99 took form 5 (CLDR "other"), 100–102 form 4 ("many").
        (
            "ar",
            "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : "
            "n%100>=3 && n%100<=10 ? 3 : n%100>=0 && n%100<=2 ? 4 : 5);",
            "n = 11, 12",
        ),
        ("tr", "nplurals=1; plural=0;", "nplurals=1, CLDR has 2"),
        ("de", "nplurals=2; plural=(n > 1);", "n = 0"),
        (
            "ru",
            "nplurals=3; plural=(n%10==1 ? 0 : n%10>=2 && n%10<=4 ? 1 : 2);",
            "n = 11, 12, 13, 14, 111",
        ),
    ],
)
def test_a_plural_rule_that_picks_the_wrong_form_is_reported(
    language: str, rule: str, complaint: str
) -> None:
    (problem,) = plural_problems(catalog_with_rule(language, rule), language)
    assert complaint in problem


#: CLDR's category for sample numbers, and the form gettext numbers it with for Arabic.
ARABIC_SAMPLES = {0: "zero", 1: "one", 2: "two", 3: "few", 11: "many", 100: "other", 102: "other"}
ARABIC_FORMS = ("zero", "one", "two", "few", "many", "other")


def test_arabic_plural_entries_land_in_their_cldr_category() -> None:
    translations = Catalogs.load(["ar"], "ar", ZoneInfo("Europe/Berlin")).catalog("ar").translations
    with (LOCALES / "ar" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        plurals = [m for m in read_po(handle, locale="ar") if m.id and m.pluralizable]
    assert plurals
    for n, category in ARABIC_SAMPLES.items():
        assert Locale.parse("ar").plural_form(n) == category
        for message in plurals:
            singular, plural = message.id
            chosen = translations.ngettext(singular, plural, n)
            assert chosen == message.string[ARABIC_FORMS.index(category)], (n, singular)


def test_arabic_counts_of_11_to_99_take_the_accusative_and_100_the_genitive() -> None:
    t = Catalogs.load(["ar"], "ar", ZoneInfo("Europe/Berlin")).translator("ar")

    def older(n: int) -> str:
        return t._n("… and {count} older concern.", "… and {count} older concerns.", n, count=n)

    # Wrong before the standard header: 15 showed "طلب", 100 showed "طلبًا".
    assert older(15).endswith(f"{FSI}15{PDI} طلبًا أقدم.")
    assert older(99).endswith(f"{FSI}99{PDI} طلبًا أقدم.")
    assert older(100).endswith(f"{FSI}100{PDI} طلب أقدم.")
    assert older(102).endswith(f"{FSI}102{PDI} طلب أقدم.")
    assert older(5).endswith(f"{FSI}5{PDI} طلبات أقدم.")
    assert older(2) == "… وطلبان أقدم."


def english_chunks(language: str) -> list[str]:
    """Literal pieces of English source texts that a translation into `language` replaces."""
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    chunks = set()
    for message in catalog:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        translated = message.string if isinstance(message.string, str) else message.string[0]
        if translated == source:
            continue  # identical by design (placeholder-only formats, proper names)
        for chunk in re.split(r"\{[a-z_]+\}", source):
            words = re.findall(r"[A-Za-z']+", chunk)
            if len(words) >= 3 and len(chunk.strip()) >= 14:
                chunks.add(chunk.strip(" .,:;—–-\n"))
    return sorted(chunks)


def shown(calls: list[Call]) -> list[str]:
    """Everything a resident reads: texts, captions, toasts and button labels."""
    seen = []
    for call in calls:
        for key in ("text", "caption"):
            if isinstance(call.params.get(key), str):
                seen.append(call.params[key])
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard", []) + markup.get("keyboard", []):
                seen += [b["text"] if isinstance(b, dict) else str(b) for b in row]
        if call.method == "setMyCommands":
            seen += [c["description"] for c in call.params["commands"]]
    return seen


@pytest.fixture
def all_languages(tmp_path: Path) -> Config:
    """The test configuration with every shipped language offered."""
    path = tmp_path / "config.toml"
    path.write_text(
        TEST_CONFIG.replace('languages = ["de", "en"]', f"languages = {list(KNOWN_LANGUAGES)}"),
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture
async def world(
    all_languages: Config,
) -> AsyncIterator[tuple[QuartierApplication, RecordingRequest, Repositories]]:
    """The application with all languages and one upcoming event."""
    repos = Repositories.create(all_languages)
    repos.clock = lambda: MONDAY_11
    async with running_app(repos) as (app, request):
        await repos.events.create(
            ADMIN_ID,
            EventInput(
                quarter_id="bahnhofsvorstadt",
                title="Street festival",
                starts_at=datetime(2026, 12, 5, 14, 0, tzinfo=UTC),
                ends_at=datetime(2026, 12, 5, 17, 0, tzinfo=UTC),
                place="Bahnhofsplatz",
                description="",
                capacity=20,
                topic_id="leisure",
            ),
        )
        yield app, request, repos


async def walk_main_flows(person: Person, language: str) -> list[Call]:
    """Start, news, hours, events, a concern, and the resident's other commands."""
    calls = await person.send("/start q-bahnhofsvorstadt")
    calls += await person.press_callback(f"lang:{language}")
    calls += await person.press_callback("sub:add:bahnhofsvorstadt")
    calls += await person.send("/hours")
    calls += await person.send("/events")
    calls += await person.press_callback("ev:go:1")
    calls += await person.press_callback("ev:ics:1")
    calls += await person.send("/concern")
    calls += await person.press_callback("ctopic:housing")
    calls += await person.send("   ")
    calls += await person.send("Schimmel im Bad – küf – عفن")
    calls += await person.press_callback("ccontact:yes")
    calls += await person.press_callback("cconsent:yes")
    calls += await person.press_callback("cflow:submit")
    for text in ("/myconcerns", "/help", "/privacy", "/settings", "/xyz", "hello", "/quarter x"):
        calls += await person.send(text)
    return calls


@pytest.mark.parametrize("language", [lang for lang in KNOWN_LANGUAGES if lang != "en"])
async def test_main_flows_show_no_untranslated_text(
    world: tuple[QuartierApplication, RecordingRequest, Repositories], language: str
) -> None:
    app, request, _ = world
    person = Person(app, request, 740000 + KNOWN_LANGUAGES.index(language), language)
    calls = await walk_main_flows(person, language)
    texts = shown(
        [c for c in calls if str(c.params.get("chat_id", person.user_id)) == str(person.user_id)]
    )
    assert texts, "the walk produced no messages"
    leaks = [(chunk, text) for text in texts for chunk in english_chunks(language) if chunk in text]
    assert leaks == [], f"English text shown in {language}: {leaks[:5]}"
    dates = [text for text in texts if ENGLISH_DATES.search(text)]
    assert dates == [], f"English date words in {language}: {dates[:3]}"
    for call in calls:
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    assert len(button["callback_data"].encode()) <= 64


async def test_arabic_keeps_times_readable_with_isolates(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
) -> None:
    app, request, _ = world
    person = Person(app, request, 741000, "ar")
    await person.send("/start q-bahnhofsvorstadt")
    await person.press_callback("lang:ar")
    (hours,) = [c.params["text"] for c in await person.send("/hours") if c.method == "sendMessage"]
    # Every filled-in time sits inside a first-strong isolate, so "10:00" reads left to right.
    assert f"{FSI}" in hours and f"{PDI}" in hours
    assert re.search(f"{FSI}[^{PDI}]*\\d\\d:\\d\\d[^{PDI}]*{PDI}", hours)


async def test_command_menu_is_translated_for_every_language(
    world: tuple[QuartierApplication, RecordingRequest, Repositories],
) -> None:
    app, request, repos = world
    await publish_command_menus(app.bot, repos)
    menus = {
        c.params.get("language_code"): [d["description"] for d in c.params["commands"]]
        for c in request.of("setMyCommands")
        if not c.params.get("scope")
    }
    assert set(menus) == {None, *KNOWN_LANGUAGES}
    english = menus["en"]
    for language in KNOWN_LANGUAGES:
        if language != "en":
            assert all(a != b for a, b in zip(menus[language], english, strict=True)), language
