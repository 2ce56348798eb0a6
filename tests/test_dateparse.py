"""The one date parser for staff commands, and the examples it gives, in all nine languages."""

from __future__ import annotations

from datetime import date

import pytest
from babel import Locale

from bot.dateparse import example_day, parse_date, typed_date

LANGUAGES = ["de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl"]
CHRISTMAS = date(2026, 12, 24)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("text", ["2026-12-24", "24.12.2026", "24.12.26", " 24.12.2026 "])
def test_iso_and_german_dates_are_read_in_every_language(language: str, text: str) -> None:
    assert parse_date(text, Locale.parse(language)) == CHRISTMAS


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "12/24/2026"),  # the language's own order with slashes
        ("ar", "24\u200f/12\u200f/2026"),  # with the direction marks Babel writes
        ("bg", "24.12.2026\u202fг."),  # with the year abbreviation
        ("uk", "24.12.26 р."),
    ],
)
def test_each_languages_own_short_form_is_read(language: str, text: str) -> None:
    assert parse_date(text, Locale.parse(language)) == CHRISTMAS


@pytest.mark.parametrize(
    "text", ["31.02.2026", "24.12.226", "tomorrow", "24.12", "2026-13-01", "24/12/2026 x", ""]
)
def test_anything_else_is_refused(text: str) -> None:
    assert parse_date(text, Locale.parse("de")) is None


def test_slashes_follow_the_language() -> None:
    assert parse_date("12/24/2026", Locale.parse("de")) is None  # day first in German
    assert parse_date("24/12/2026", Locale.parse("en")) is None  # month first in English


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("today", [date(2026, 12, 5), date(2026, 12, 28), date(2027, 2, 1)])
def test_examples_are_future_unambiguous_and_read_back(language: str, today: date) -> None:
    day = example_day(today)
    assert day > today and day.day > 12  # 13.01. cannot be read as 1 March
    example = typed_date(day, Locale.parse(language))
    assert parse_date(example, Locale.parse(language)) == day
    assert "\u200f" not in example
