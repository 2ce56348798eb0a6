"""Catalogs, language negotiation and locale-aware formatting."""

from __future__ import annotations

import functools
import gettext
import html
import io
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_date,
    format_time,
    format_timedelta,
    get_datetime_format,
    get_day_names,
    match_skeleton,
)
from babel.lists import format_list
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

log = logging.getLogger(__name__)

#: Languages written right to left; values embedded in their messages get directional isolates.
RTL_LANGUAGES = frozenset({"ar"})

# First Strong Isolate … Pop Directional Isolate: keeps "BV-0042" or "10:00" readable inside Arabic.
FSI = "\u2068"
PDI = "\u2069"
# Left-to-Right Isolate: literal Latin tokens of a message ("/mydata", "#12") that have no strong
# letter of their own to start with, so FSI would guess right to left and show "mydata/" or "12#".
LRI = "\u2066"
#: A literal /command (not the "/" of "</b>" or of a URL) or a #number, in the message text itself.
LTR_TOKEN = re.compile(r"(?<![\w/<])/[A-Za-z][A-Za-z0-9_]*|#(?:\{[a-z_]+\}|\d+)")

# English speakers here live in Bremen and read posters in 24-hour time with day-month dates:
# British English formats fit them better than the US defaults of plain `en`.
_FORMAT_LOCALES: Mapping[str, str] = {"en": "en_GB"}

DOMAIN = "messages"
#: Formatted dates and times kept per language before the memory starts afresh.
FORMATTED_CACHE_SIZE = 4096


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where it is shown."""
    return message


def default_locales_dir() -> Path:
    """`locales/` beside the code packages (in a checkout and in site-packages alike)."""
    return Path(__file__).resolve().parent.parent / "locales"


def bold(text: str) -> str:
    """Escaped text in HTML bold (translations are plain text, never markup)."""
    return f"<b>{html.escape(text)}</b>"


def native_name(language: str) -> str:
    """The language's name in itself, capitalised: 'Türkçe', 'العربية', 'Українська'."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


#: The comma between items of a series where it is not the Latin one.
SERIES_SEPARATORS = {"ar": "، "}


def folded(text: str) -> str:
    """A name as people may type it: case, accents, umlauts and spacing do not matter
    ('Hünertshagen', 'huenertshagen' and 'HUNERTSHAGEN' are one)."""
    text = text.casefold().replace("ä", "a").replace("ö", "o").replace("ü", "u")
    text = text.replace("ae", "a").replace("oe", "o").replace("ue", "u").replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def language_named(text: str, offered: Sequence[str]) -> str | None:
    """The offered language a resident named: its code, or its name in itself or in any of
    the offered languages ('Deutsch', 'German', 'Almanca', 'tr', 'Türkçe')."""
    wanted = folded(text)
    for code in offered:
        if wanted == code:
            return code
    for code in offered:
        names = {Locale.parse(reader).languages.get(code, "") for reader in (*offered, "en")}
        if wanted in {folded(name) for name in names if name}:
            return code
    return None


def utf16_length(text: str) -> int:
    """Length as Telegram and Excel count it: UTF-16 code units (an emoji counts two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 units, a cut marked with "…"."""
    if utf16_length(text) <= limit:
        return text
    kept: list[str] = []
    used = 1  # room for the ellipsis
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            break
        kept.append(char)
    return "".join(kept) + "…"


class Translator:
    """Translates and formats for one language; handlers get one per update."""

    def __init__(self, language: str, translations: gettext.NullTranslations, tz: ZoneInfo):
        self.language = language
        self.tz = tz
        self.rtl = language in RTL_LANGUAGES
        self.locale = Locale.parse(_FORMAT_LOCALES.get(language, language))
        self._translations = translations
        # Babel takes 20-40 µs per date or time; lists repeat the same few hundred values.
        self._formatted: dict[tuple[str, object], str] = {}

    def _remember(self, kind: str, value: object, format_: Callable[[], str]) -> str:
        """`format_()`, computed once per kind and value (the memory is bounded)."""
        key = (kind, value)
        text = self._formatted.get(key)
        if text is None:
            if len(self._formatted) >= FORMATTED_CACHE_SIZE:
                self._formatted.clear()
            text = self._formatted[key] = format_()
        return text

    def _(self, message: str, /, **values: object) -> str:
        """Translate `message`, then fill its named placeholders."""
        return self._fill(self._translations.gettext(message), values)

    def _n(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """Translate with the plural form for `n`, then fill its named placeholders."""
        return self._fill(self._translations.ngettext(singular, plural, n), values)

    def _fill(self, text: str, values: Mapping[str, object]) -> str:
        """Substitute placeholders after translation, isolating values in right-to-left text."""
        if self.rtl:
            # Done here, where every message passes, so new strings need no marks in the catalog.
            text = LTR_TOKEN.sub(lambda token: f"{LRI}{token.group()}{PDI}", text)
            values = {key: self.isolate(str(value)) for key, value in values.items()}
        if not values:
            return text
        return text.format(**values)

    def isolate(self, text: str) -> str:
        """Wrap an embedded value so its direction does not scramble a right-to-left line."""
        return f"{FSI}{text}{PDI}" if self.rtl else text

    def language_name(self, code: str) -> str:
        """A language's name in the reader's language ('Türkisch' for a German reader)."""
        try:
            return str(Locale.parse(code).get_display_name(self.locale) or code)
        except (ValueError, UnknownLocaleError):
            return code

    def weekday(self, weekday: int) -> str:
        """Full weekday name, Monday == 0."""
        return str(get_day_names("wide", locale=self.locale)[weekday])

    def weekday_abbreviated(self, weekday: int) -> str:
        """Abbreviated weekday name ('Mo.', 'Pzt'), Monday == 0: for a timetable's columns."""
        return str(get_day_names("abbreviated", locale=self.locale)[weekday])

    def fmt_time(self, value: time | datetime) -> str:
        """Short local time in the 24-hour form a German office's door shows, e.g. '14:00'
        (the locale's own form where it is 24-hour already; Arabic would say '2:00 م')."""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).time()
        clock = value
        pattern = str(self.locale.time_formats["short"].pattern)
        if "h" in pattern or "K" in pattern:
            pattern = "HH:mm"
        return self._remember(
            "time", clock, lambda: format_time(clock, pattern, locale=self.locale)
        )

    def fmt_series(self, items: Sequence[str]) -> str:
        """Items side by side ('10:00–13:00, 14:00–16:00'), with the language's comma."""
        return SERIES_SEPARATORS.get(self.language, ", ").join(items)

    @functools.cached_property
    def _date_pattern(self) -> str:
        """The locale's pattern for weekday + day + month, resolved once (matching is slow)."""
        skeletons = self.locale.datetime_skeletons
        skeleton = "EEEEdMMMM"
        if skeleton not in skeletons:
            skeleton = match_skeleton(skeleton, skeletons) or skeleton
        return str(skeletons[skeleton].pattern) if skeleton in skeletons else "EEEE d MMMM"

    def fmt_date(self, value: date | datetime) -> str:
        """Weekday, day and month, e.g. 'Thursday 24 December'."""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        day = value
        return self._remember(
            "date", day, lambda: format_date(day, self._date_pattern, locale=self.locale)
        )

    def fmt_full_date(self, value: date) -> str:
        """Date with weekday and year."""
        return format_date(value, "full", locale=self.locale)

    def fmt_short_date(self, value: date) -> str:
        """Compact date with year, e.g. '24.12.2026'."""
        return self._remember(
            "short", value, lambda: format_date(value, "medium", locale=self.locale)
        )

    def fmt_datetime(self, value: datetime) -> str:
        """Date and time to the minute in the configured zone, e.g. '21.11.2026, 10:17'."""
        local = value.astimezone(self.tz)
        pattern = str(get_datetime_format("medium", locale=self.locale))
        return pattern.format(self.fmt_time(local), self.fmt_short_date(local.date()))

    def fmt_period(self, days: int) -> str:
        """A number of days as people say it: '2 weeks', '3 months', '1 year'."""
        return format_timedelta(timedelta(days=days), locale=self.locale)

    def fmt_hours(self, hours: float) -> str:
        """A span of time as people say it: '3 hours', '2 days'."""
        return format_timedelta(timedelta(hours=hours), locale=self.locale)

    def fmt_number(self, value: float) -> str:
        """Number with the locale's separators."""
        return format_decimal(value, locale=self.locale)

    def fmt_duration(self, seconds: int) -> str:
        """A recording's length as a phone shows it: '0:42', '3:05' (minutes:seconds)."""
        minutes, rest = divmod(max(0, seconds), 60)
        return f"{minutes}:{rest:02d}"

    def fmt_list(self, items: Sequence[str]) -> str:
        """'a, b and c' in the locale's style."""
        return format_list(list(items), locale=self.locale) if items else ""


@dataclass(frozen=True)
class LoadedCatalog:
    """One language's catalog and whether it translates every message of the template."""

    language: str
    translations: gettext.NullTranslations
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """No message of the template lacks a (non-fuzzy) translation."""
        return not self.missing


class Catalogs:
    """All loaded catalogs and the languages residents can pick."""

    def __init__(
        self,
        loaded: Mapping[str, LoadedCatalog],
        offered: Sequence[str],
        default_language: str,
        tz: ZoneInfo,
    ) -> None:
        self._loaded = dict(loaded)
        self.offered: tuple[str, ...] = tuple(offered)
        self.default_language = default_language
        self.tz = tz
        self._translators = {
            code: Translator(code, c.translations, tz) for code, c in loaded.items()
        }

    @classmethod
    def load(
        cls,
        languages: Sequence[str],
        default_language: str,
        tz: ZoneInfo,
        locales_dir: Path | None = None,
    ) -> Catalogs:
        """Read the .po files of `languages`; only complete catalogs are offered to residents."""
        directory = locales_dir or default_locales_dir()
        template = _template_ids(directory / f"{DOMAIN}.pot")
        loaded = {code: _load_catalog(directory, code, template) for code in languages}
        offered = [code for code in languages if loaded[code].complete]
        incomplete = [
            f"{c} ({len(loaded[c].missing)} missing)" for c in languages if c not in offered
        ]
        if incomplete:
            log.info("languages not offered, catalogs incomplete: %s", ", ".join(incomplete))
        if default_language not in offered:
            # The default answers everyone whose language we cannot serve, so it must exist.
            offered.insert(0, default_language)
        return cls(loaded, offered, default_language, tz)

    def catalog(self, language: str) -> LoadedCatalog:
        """The loaded catalog for `language`."""
        return self._loaded[language]

    def translator(self, language: str | None) -> Translator:
        """Translator for an offered language, else for the default language."""
        if language in self.offered:
            return self._translators[language]
        return self._translators[self.default_language]

    def negotiate(self, stored: str | None, telegram_code: str | None) -> str:
        """Stored choice, else Telegram's language_code (normalised by Babel), else the default."""
        if stored in self.offered:
            return stored
        code = normalise_language(telegram_code)
        if code in self.offered:
            return code
        return self.default_language

    def all_translations(self, message: str) -> tuple[str, ...]:
        """`message` in every offered language (to recognise reply-keyboard buttons)."""
        return tuple(sorted({self._translators[code]._(message) for code in self.offered}))


def normalise_language(code: str | None) -> str | None:
    """'pt-BR' → 'pt', 'UK' → 'uk'; None for anything Babel cannot parse."""
    if not code:
        return None
    try:
        return Locale.parse(code.strip().replace("-", "_")).language
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def _template_ids(pot: Path) -> frozenset[str]:
    """The message ids of the extracted template (empty if it is missing)."""
    if not pot.is_file():
        return frozenset()
    with pot.open("rb") as handle:
        catalog = read_po(handle)
    return frozenset(str(m.id[0] if isinstance(m.id, tuple) else m.id) for m in catalog if m.id)


def _load_catalog(directory: Path, language: str, template: Iterable[str]) -> LoadedCatalog:
    """Read one .po file; fuzzy entries count as untranslated, as in `pybabel compile`."""
    po = directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return LoadedCatalog(language, gettext.NullTranslations(), tuple(sorted(template)))
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    translated = {_message_key(m.id) for m in catalog if m.id and _is_translated(m.string, m.fuzzy)}
    missing = tuple(sorted(set(template) - translated))
    return LoadedCatalog(language, _compile(catalog), missing)


def _message_key(message_id: str | tuple[str, ...] | list[str]) -> str:
    """Singular id of a (possibly plural) message."""
    return str(message_id if isinstance(message_id, str) else message_id[0])


def _is_translated(string: object, fuzzy: bool) -> bool:
    """Every form present and not fuzzy."""
    if fuzzy:
        return False
    if isinstance(string, str):
        return bool(string)
    if isinstance(string, tuple | list):
        return all(bool(form) for form in string)
    return False


def _compile(catalog: Catalog) -> gettext.NullTranslations:
    """Compile in memory, so a checkout runs without a `pybabel compile` step."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)
