"""The one parser of dates typed by staff, for every command: ISO, `24.12.2026`, or the
staff language's own numeric short form (`12/24/2026` in English, `24‏/12‏/2026` in Arabic).

Dotted dates are day first everywhere (it is how Germany writes them, whatever the menu language);
slashes follow the locale's order. Two-digit years mean 20xx. Nothing is guessed: an impossible
date or anything else is None, and the caller answers with an example staff can type back.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from babel import Locale
from babel.dates import format_date

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})$")
_NUMERIC = re.compile(r"^(\d{1,4})[/-](\d{1,2})[/-](\d{1,4})$")
#: Marks that some locales put into dates (Arabic direction marks, narrow spaces) and the year
#: abbreviations after them (Bulgarian "г.", Ukrainian "р."), which are not part of the date.
_NOISE = re.compile(r"[\u200e\u200f\u061c]")
_YEAR_SUFFIX = re.compile(r"[\s\u00a0\u202f]*(г|р|yıl)\.?$", re.IGNORECASE)


def field_order(locale: Locale) -> str:
    """Order of day, month and year in the locale's short date: 'dmy' (de), 'mdy' (en_US)…"""
    pattern = str(locale.date_formats["short"].pattern)
    positions = {field: pattern.find(field) for field in "dMy"}
    if any(position < 0 for position in positions.values()):
        return "dmy"
    return "".join(sorted("dmy", key=lambda f: positions["M" if f == "m" else f]))


def _year(text: str) -> int | None:
    """A four-digit year, or a two-digit one in this century."""
    if len(text) == 4:
        return int(text)
    return 2000 + int(text) if len(text) == 2 else None


def parse_date(text: str, locale: Locale) -> date | None:
    """ISO, day-first dotted, or three numbers in the locale's order; None if not a date."""
    text = _YEAR_SUFFIX.sub("", _NOISE.sub("", text.strip()))
    try:
        if iso := _ISO.match(text):
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if dotted := _DOTTED.match(text):
            year = _year(dotted[3])
            return date(year, int(dotted[2]), int(dotted[1])) if year else None
        numeric = _NUMERIC.match(text)
        if not numeric:
            return None
        parts = dict(zip(field_order(locale), (numeric[1], numeric[2], numeric[3]), strict=True))
        year = _year(parts["y"])
        return date(year, int(parts["m"]), int(parts["d"])) if year else None
    except ValueError:
        return None


def example_day(today: date, days_ahead: int = 7) -> date:
    """A day for an example: in the future, and after the 12th, so day and month cannot be
    mistaken for each other."""
    day = today + timedelta(days=days_ahead)
    while day.day <= 12:
        day += timedelta(days=1)
    return day


def typed_date(day: date, locale: Locale) -> str:
    """The day as staff would type it: the locale's own form if the parser reads it back."""
    for style in ("medium", "short"):
        text = format_date(day, style, locale=locale)
        if parse_date(text, locale) == day:
            return _YEAR_SUFFIX.sub("", _NOISE.sub("", text))
    if field_order(locale) == "dmy":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    return day.isoformat()
