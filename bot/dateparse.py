"""Strict parsing of dates typed by staff: ISO or the staff member's locale order."""

from __future__ import annotations

import re
from datetime import date

from babel import Locale

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})$")


def field_order(locale: Locale) -> str:
    """Order of day, month and year in the locale's short date: 'dmy' (de), 'mdy' (en_US)…"""
    pattern = str(locale.date_formats["short"].pattern)
    positions = {field: pattern.find(field) for field in "dMy"}
    if any(position < 0 for position in positions.values()):
        return "dmy"
    return "".join(sorted("dmy", key=lambda f: positions["M" if f == "m" else f]))


def parse_date(text: str, locale: Locale) -> date | None:
    """`YYYY-MM-DD`, or three numbers in the locale's order ('24.12.2026'); None if invalid."""
    text = text.strip()
    iso = _ISO.match(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        numeric = _NUMERIC.match(text)
        if not numeric:
            return None
        parts = dict(zip(field_order(locale), (numeric[1], numeric[2], numeric[3]), strict=True))
        year = int(parts["y"])
        if len(parts["y"]) == 2:
            year += 2000
        elif len(parts["y"]) != 4:
            return None
        return date(year, int(parts["m"]), int(parts["d"]))
    except ValueError:
        return None
