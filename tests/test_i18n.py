"""Catalogs: complete for de and en, placeholders intact, negotiation, RTL, Babel formatting."""

from __future__ import annotations

import gettext
import string
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from bot.config import KNOWN_LANGUAGES
from bot.hours.status import HOLIDAY_NAMES
from bot.hours.week import BREMEN_HOLIDAY_NAMES
from bot.i18n import (
    FSI,
    LRI,
    PDI,
    Catalogs,
    Translator,
    default_locales_dir,
    language_named,
    native_name,
)
from bot.menu import MENU_LAYOUT
from bot.topics import DEFAULT_TOPICS

BERLIN = ZoneInfo("Europe/Berlin")
LOCALES = default_locales_dir()
COMPLETE = ("de", "en")


def fields(text: str) -> set[str]:
    """Named placeholders in a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def template_ids() -> set[str]:
    """Message ids of the extracted template."""
    with (LOCALES / "messages.pot").open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


@pytest.mark.parametrize("language", COMPLETE)
def test_catalog_translates_every_template_message_with_matching_placeholders(
    language: str,
) -> None:
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    ids = set()
    for message in catalog:
        if not message.id:
            continue
        msgids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = (message.string,) if isinstance(message.string, str) else tuple(message.string)
        ids.add(msgids[0])
        assert not message.fuzzy, f"{language}: fuzzy {msgids[0]!r}"
        assert all(strings), f"{language}: untranslated {msgids[0]!r}"
        expected = set().union(*(fields(m) for m in msgids))
        for text in strings:
            assert fields(text) == expected, f"{language}: placeholders of {msgids[0]!r}"
            text.format(**{name: "x" for name in expected})  # no stray braces
    assert ids == template_ids(), f"{language}: catalog out of date; run scripts/i18n.py all"


def test_template_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    from babel.messages.frontend import CommandLineInterface

    root = LOCALES.parent
    out = tmp_path / "fresh.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(root / "pyproject.toml"),
            "--no-default-keywords",
            "-k",
            "_",
            "-k",
            "_n:1,2",
            "-k",
            "N_",
            "-o",
            str(out),
            str(root / "bot"),
            str(root / "handlers"),
        ]
    )
    with out.open("rb") as handle:
        fresh = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    assert fresh == template_ids(), "run: python scripts/i18n.py all"


def test_catalogs_compile_and_complete_languages_are_offered() -> None:
    catalogs = Catalogs.load(KNOWN_LANGUAGES, "de", BERLIN)
    for language in COMPLETE:
        assert catalogs.catalog(language).complete
        assert language in catalogs.offered
    # Only complete catalogs are offered; the default language is always available.
    for language in catalogs.offered:
        assert catalogs.catalog(language).complete or language == "de"


def test_menu_topics_and_holidays_are_translated_in_german() -> None:
    t = Catalogs.load(("de", "en"), "de", BERLIN).translator("de")
    for row in MENU_LAYOUT:
        for label in row:
            assert t._(label) != label
    assert [t._(topic.msgid) for topic in DEFAULT_TOPICS][:3] == ["Wohnen", "Arbeit", "Bildung"]
    assert set(BREMEN_HOLIDAY_NAMES) == set(HOLIDAY_NAMES)
    assert t._(HOLIDAY_NAMES["Reformation Day"]) == "Reformationstag"


@pytest.mark.parametrize(
    ("stored", "telegram", "expected"),
    [
        ("en", "de", "en"),
        (None, "en-GB", "en"),
        (None, "EN", "en"),
        (None, "de-AT", "de"),
        (None, "pt-BR", "de"),
        (None, None, "de"),
        (None, "not a code!", "de"),
        ("xx", "en", "en"),
    ],
)
def test_negotiation(stored: str | None, telegram: str | None, expected: str) -> None:
    catalogs = Catalogs.load(("de", "en"), "de", BERLIN)
    assert catalogs.negotiate(stored, telegram) == expected


def test_incomplete_catalog_is_not_offered(tmp_path: Path) -> None:
    pot = (LOCALES / "messages.pot").read_bytes()
    (tmp_path / "messages.pot").write_bytes(pot)
    for language in ("de", "tr"):
        target = tmp_path / language / "LC_MESSAGES"
        target.mkdir(parents=True)
    (tmp_path / "de" / "LC_MESSAGES" / "messages.po").write_bytes(
        (LOCALES / "de" / "LC_MESSAGES" / "messages.po").read_bytes()
    )
    (tmp_path / "tr" / "LC_MESSAGES" / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Housing"\nmsgstr "Konut"\n',
        encoding="utf-8",
    )
    catalogs = Catalogs.load(("de", "tr"), "de", BERLIN, tmp_path)
    assert catalogs.offered == ("de",)
    assert "Housing" not in catalogs.catalog("tr").missing
    assert catalogs.translator("tr").language == "de"


def test_native_language_names() -> None:
    names = {code: native_name(code) for code in KNOWN_LANGUAGES}
    assert names["tr"] == "Türkçe"
    assert names["ar"] == "العربية"
    assert names["uk"] == "Українська"
    assert names["de"] == "Deutsch"


def test_arabic_values_are_isolated_so_they_stay_readable() -> None:
    t = Translator("ar", gettext.NullTranslations(), BERLIN)
    text = t._("Open now, until {time}", time="10:00")
    assert text == f"Open now, until {FSI}10:00{PDI}"
    assert t.isolate("BV-0042") == f"{FSI}BV-0042{PDI}"
    # Left-to-right languages are not touched.
    assert Translator("de", gettext.NullTranslations(), BERLIN).isolate("x") == "x"


def test_arabic_keeps_literal_commands_and_numbers_left_to_right() -> None:
    t = Translator("ar", gettext.NullTranslations(), BERLIN)
    # Without the isolate, "/mydata" shows as "mydata/" and "#12" as "12#" in a right-to-left line.
    assert t._("See /mydata and /deleteme.") == f"See {LRI}/mydata{PDI} and {LRI}/deleteme{PDI}."
    assert t._("Broadcast #{number} cancelled.", number=12) == (
        f"Broadcast {LRI}#{FSI}12{PDI}{PDI} cancelled."
    )
    assert t._("Ticket #7") == f"Ticket {LRI}#7{PDI}"
    # Closing HTML tags, links and slashes inside words are not commands.
    untouched = '<b>Hours</b> <a href="https://t.me/quartier_bot?start=q-x">t.me</a> 1/2'
    assert t._(untouched) == untouched
    assert t._n("{count} with /help", "{count} with /help", 3, count=3) == (
        f"{FSI}3{PDI} with {LRI}/help{PDI}"
    )
    german = Translator("de", gettext.NullTranslations(), BERLIN)
    assert german._("See /mydata, #{number}.", number=4) == "See /mydata, #4."


def test_babel_formatting_follows_the_locale() -> None:
    de = Translator("de", gettext.NullTranslations(), BERLIN)
    en = Translator("en", gettext.NullTranslations(), BERLIN)
    ar = Translator("ar", gettext.NullTranslations(), BERLIN)
    assert de.weekday(0) == "Montag"
    assert en.weekday(0) == "Monday"
    assert ar.weekday(0) == "الاثنين"
    assert de.fmt_time(time(14, 0)) == "14:00"
    assert en.fmt_time(time(14, 0)) == "14:00"  # en_GB: 24-hour clock, as on the posters
    assert de.fmt_short_date(date(2026, 12, 24)) == "24.12.2026"
    assert en.fmt_date(date(2026, 12, 24)) == "Thursday 24 December"
    assert de.fmt_number(1234.5) == "1.234,5"
    assert de.fmt_list(["a", "b", "c"]) == "a, b und c"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Almanca", "de"),
        ("Türkçe", "tr"),
        ("turkish", "tr"),
        ("العربية", "ar"),
        ("Українська", "uk"),
    ],
)
def test_a_language_is_found_by_its_name_in_any_offered_language(name: str, code: str) -> None:
    offered = ["de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl"]
    assert language_named(name, offered) == code
    assert language_named("Klingon", offered) is None
