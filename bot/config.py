"""Load and validate the one TOML configuration file."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.hours.week import HoursError, WeeklyHours
from bot.i18n import Translator, folded
from bot.topics import DEFAULT_TOPICS, Topic

CONFIG_ENV = "QUARTIERBOT_CONFIG"
DEFAULT_CONFIG_NAME = "config.toml"

#: Languages the project ships catalogs for (see locales/). A config may narrow the set.
KNOWN_LANGUAGES: tuple[str, ...] = ("de", "en", "tr", "ar", "uk", "ru", "bg", "ro", "pl")

# Quarter ids travel in deep links (`start=q-<id>`, Telegram allows [A-Za-z0-9_-], 64 chars)
# and in callback data (64 bytes), so they are kept short and plain.
_QUARTER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_TOPIC_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
_PREFIX = re.compile(r"^[A-Z]{1,4}$")


class ConfigError(Exception):
    """The configuration file is unusable; the message names the key and the problem."""

    def __init__(self, path: Path, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{key}: " if key else ""
        super().__init__(f"{path}: {where}{problem}")


@dataclass(frozen=True)
class Office:
    """A quarter office: where residents go and when it is open."""

    address: str
    hours: WeeklyHours
    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Quarter:
    """One city quarter served by the bot."""

    id: str
    name: str
    prefix: str
    office: Office
    #: This quarter's own staff group; None: the group of [staff].group_chat_id.
    staff_group_chat_id: int | None = None
    #: How "in <the quarter>" reads per language where it needs an article or a case
    #: (de: "in der Bahnhofsvorstadt"), as (language, phrase) pairs.
    in_name: tuple[tuple[str, str], ...] = ()

    def in_phrase(self, t: Translator) -> str:
        """'in der Bahnhofsvorstadt': the configured phrase for the reader's language, else the
        catalog's form that needs no article ('im Quartier Bahnhofsvorstadt')."""
        configured = dict(self.in_name).get(t.language)
        # TRANSLATORS: "in" a city quarter, used as {in_quarter} in other messages. The name
        # takes no article or case ending here: where your language needs one, say "in the
        # quarter {quarter}" (German: "im Quartier {quarter}").
        return configured or t._("in {quarter}", quarter=self.name)


@dataclass(frozen=True)
class Officer:
    """A quarter officer declared in the config file."""

    user_id: int
    quarters: tuple[str, ...]


@dataclass(frozen=True)
class StaffSettings:
    """Who may use staff commands."""

    admins: frozenset[int] = frozenset()
    group_chat_id: int | None = None
    officers: tuple[Officer, ...] = ()


@dataclass(frozen=True)
class PrivacySettings:
    """What residents are told about data protection."""

    controller: str = ""
    contact: str = ""
    #: Closed concerns lose everything that identifies the resident after this many days.
    retention_days: int = 365
    #: A profile unused this long, with no news followed (or the bot blocked), is deleted.
    inactive_resident_days: int = 365
    #: Event sign-ups and sent reminders are deleted this long after the event.
    event_days: int = 90
    #: Who received which broadcast is forgotten this long after the broadcast ended.
    delivery_days: int = 30
    #: How long the operator keeps backups (quartierbot backup --keep): stated in /privacy.
    backup_days: int = 14


@dataclass(frozen=True)
class LimitSettings:
    """Fair limits per resident: beyond them a polite answer, nothing stored, nothing posted."""

    #: Concerns one resident may submit in 24 hours.
    concerns_per_day: int = 5
    #: Follow-ups (messages added to their concerns) one resident may send in an hour.
    followups_per_hour: int = 30


@dataclass(frozen=True)
class EventSettings:
    """Event reminders."""

    #: Reminders to residents who said they come, in hours before the start.
    reminder_hours: tuple[float, ...] = (24.0, 2.0)

    @property
    def reminder_offsets_minutes(self) -> tuple[int, ...]:
        """The reminder offsets in whole minutes, largest first."""
        return tuple(sorted({round(h * 60) for h in self.reminder_hours}, reverse=True))


TRANSLATION_BACKENDS = ("none", "libretranslate", "deepl")


@dataclass(frozen=True)
class TranslationSettings:
    """Machine translation of what people write (optional; nothing leaves the bot with none)."""

    backend: str = "none"
    #: LibreTranslate's base URL, or DeepL's (https://api-free.deepl.com, https://api.deepl.com).
    url: str = "http://127.0.0.1:5000"
    #: The language officers read and write; None: [bot].default_language.
    staff_language: str | None = None
    #: How long a translation may take before the original goes out instead.
    timeout_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        """A service is configured."""
        return self.backend != "none"


TRANSCRIPTION_BACKENDS = ("none", "openai")


@dataclass(frozen=True)
class TranscriptionSettings:
    """Speech to text for voice messages (optional; no audio leaves the bot with none)."""

    backend: str = "none"
    #: The base URL of an OpenAI-compatible server (speaches, whisper.cpp's server, LocalAI).
    url: str = "http://127.0.0.1:8000/v1"
    model: str = "Systran/faster-whisper-small"
    #: Longer voice messages are refused with a clear answer (residents can send two).
    max_seconds: int = 180
    #: How long a transcription may take before the voice goes to staff as it is.
    timeout_seconds: float = 60.0

    @property
    def enabled(self) -> bool:
        """A service is configured."""
        return self.backend != "none"


@dataclass(frozen=True)
class BroadcastSettings:
    """How fast broadcasts may go."""

    #: Telegram allows about 30 messages per second overall; leave room for normal answers.
    rate_per_second: float = 25.0
    #: Paid broadcasts (Telegram Stars) allow up to 1000 messages per second.
    allow_paid_broadcast: bool = False
    #: Sends under way at once. 1 means a crash repeats at most one message; more are needed for
    #: paid rates (a crash may then repeat up to that many). None: 1, or 50 with paid broadcasts.
    max_in_flight: int | None = None

    @property
    def in_flight(self) -> int:
        """The effective number of concurrent sends."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        return 50 if self.allow_paid_broadcast else 1


@dataclass(frozen=True)
class Config:
    """The validated configuration."""

    path: Path
    default_language: str
    languages: tuple[str, ...]
    timezone: ZoneInfo
    database: Path
    staff: StaffSettings
    quarters: tuple[Quarter, ...]
    topics: tuple[Topic, ...]
    privacy: PrivacySettings
    events: EventSettings = field(default_factory=EventSettings)
    broadcast: BroadcastSettings = field(default_factory=BroadcastSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    translation: TranslationSettings = field(default_factory=TranslationSettings)
    transcription: TranscriptionSettings = field(default_factory=TranscriptionSettings)
    _quarter_index: Mapping[str, Quarter] = field(repr=False, compare=False, default_factory=dict)

    def staff_group_for(self, quarter_id: str) -> int | None:
        """The staff group that sees this quarter's concerns: its own, else [staff]'s, or None."""
        quarter = self.quarter(quarter_id)
        if quarter is not None and quarter.staff_group_chat_id is not None:
            return quarter.staff_group_chat_id
        return self.staff.group_chat_id

    @property
    def staff_groups(self) -> dict[int, tuple[str, ...]]:
        """Every staff group with the quarters whose concerns it sees."""
        groups: dict[int, list[str]] = {}
        for quarter in self.quarters:
            group = self.staff_group_for(quarter.id)
            if group is not None:
                groups.setdefault(group, []).append(quarter.id)
        return {group: tuple(ids) for group, ids in groups.items()}

    def quarter(self, quarter_id: str | None) -> Quarter | None:
        """The quarter with this id, or None."""
        if quarter_id is None:
            return None
        return self._quarter_index.get(quarter_id)

    def find_quarter(self, text: str) -> Quarter | None:
        """A quarter by its id or its name, as people type it ('Hünertshagen', 'huenertshagen')."""
        wanted = folded(text)
        return next((q for q in self.quarters if wanted in (folded(q.id), folded(q.name))), None)

    @property
    def quarter_ids(self) -> tuple[str, ...]:
        """All configured quarter ids in config order."""
        return tuple(q.id for q in self.quarters)

    def is_admin(self, user_id: int) -> bool:
        """Whether this Telegram user has full staff rights."""
        return user_id in self.staff.admins


def default_config_path() -> Path:
    """`$QUARTIERBOT_CONFIG`, else ./config.toml."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME)


def load_config(path: Path) -> Config:
    """Read and validate the TOML file at `path`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read the file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    return _Parser(path).parse(data)


class _Parser:
    """Turns the parsed TOML tree into a Config, naming the key of every problem."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        """Build the error for `key`."""
        return ConfigError(self.path, key, problem)

    def table(self, data: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any]:
        """A sub-table, empty when absent."""
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def string(
        self, data: Mapping[str, Any], key: str, name: str, default: str | None = None
    ) -> str:
        """A string value; required when no default is given."""
        value = data.get(name, default)
        if value is None:
            raise self.fail(key, "is required")
        if not isinstance(value, str):
            raise self.fail(key, "must be a string")
        return value

    def integer(self, value: Any, key: str) -> int:
        """An integer value (TOML booleans are refused although Python counts them as ints)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer")
        return value

    def check_unknown(self, data: Mapping[str, Any], key: str, allowed: set[str]) -> None:
        """Refuse keys we do not know: a typo must not silently fall back to a default."""
        for name in data:
            if name not in allowed:
                prefix = f"{key}." if key else ""
                raise self.fail(f"{prefix}{name}", "unknown key")

    def parse(self, data: Mapping[str, Any]) -> Config:
        """Parse the whole file."""
        self.check_unknown(
            data,
            "",
            {
                "bot",
                "staff",
                "quarters",
                "topics",
                "privacy",
                "events",
                "broadcast",
                "limits",
                "translation",
                "transcription",
            },
        )
        bot = self.table(data, "bot", "bot")
        self.check_unknown(bot, "bot", {"default_language", "languages", "timezone", "database"})
        languages = self.languages(bot)
        default_language = self.string(bot, "bot.default_language", "default_language", "de")
        if default_language not in languages:
            raise self.fail(
                "bot.default_language",
                f"unknown language {default_language!r}; use one of {', '.join(languages)}",
            )
        timezone = self.timezone(bot)
        database = self.database(bot)
        quarters = self.quarters(data.get("quarters"))
        quarter_ids = {q.id for q in quarters}
        staff = self.staff(self.table(data, "staff", "staff"), quarter_ids)
        topics = self.topics(data.get("topics"), languages)
        privacy = self.privacy(self.table(data, "privacy", "privacy"))
        events = self.event_settings(self.table(data, "events", "events"))
        broadcast = self.broadcast_settings(self.table(data, "broadcast", "broadcast"))
        limits = self.limit_settings(self.table(data, "limits", "limits"))
        translation = self.translation_settings(
            self.table(data, "translation", "translation"), languages
        )
        transcription = self.transcription_settings(
            self.table(data, "transcription", "transcription")
        )
        return Config(
            path=self.path,
            default_language=default_language,
            languages=languages,
            timezone=timezone,
            database=database,
            staff=staff,
            quarters=quarters,
            topics=topics,
            privacy=privacy,
            events=events,
            broadcast=broadcast,
            limits=limits,
            translation=translation,
            transcription=transcription,
            _quarter_index={q.id: q for q in quarters},
        )

    def languages(self, bot: Mapping[str, Any]) -> tuple[str, ...]:
        """`[bot].languages`: a subset of the shipped languages, all of them by default."""
        value = bot.get("languages", list(KNOWN_LANGUAGES))
        if not isinstance(value, list) or not value:
            raise self.fail("bot.languages", "must be a non-empty list of language codes")
        result: list[str] = []
        for code in value:
            if not isinstance(code, str) or code not in KNOWN_LANGUAGES:
                raise self.fail(
                    "bot.languages",
                    f"unknown language {code!r}; use some of {', '.join(KNOWN_LANGUAGES)}",
                )
            if code not in result:
                result.append(code)
        return tuple(result)

    def timezone(self, bot: Mapping[str, Any]) -> ZoneInfo:
        """`[bot].timezone`, an IANA zone name."""
        name = self.string(bot, "bot.timezone", "timezone", "Europe/Berlin")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("bot.timezone", f"unknown time zone {name!r}") from None

    def database(self, bot: Mapping[str, Any]) -> Path:
        """`[bot].database`, relative to the config file."""
        name = self.string(bot, "bot.database", "database", "quartierbot.sqlite3")
        if not name.strip():
            raise self.fail("bot.database", "must not be empty")
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = self.path.resolve().parent / path
        return path

    def quarters(self, value: Any) -> tuple[Quarter, ...]:
        """`[[quarters]]`: at least one."""
        if not isinstance(value, list) or not value:
            raise self.fail("quarters", "at least one [[quarters]] entry is required")
        result: list[Quarter] = []
        seen_prefixes: set[str] = set()
        for index, item in enumerate(value):
            key = f"quarters[{index}]"
            if not isinstance(item, dict):
                raise self.fail(key, "must be a table")
            quarter = self.quarter(item, key)
            if quarter.id in {q.id for q in result}:
                raise self.fail(f"{key}.id", f"duplicate quarter id {quarter.id!r}")
            if quarter.prefix in seen_prefixes:
                raise self.fail(
                    f"quarters.{quarter.id}.prefix", f"duplicate prefix {quarter.prefix!r}"
                )
            seen_prefixes.add(quarter.prefix)
            result.append(quarter)
        return tuple(result)

    def quarter(self, item: Mapping[str, Any], key: str) -> Quarter:
        """One quarter with its office."""
        self.check_unknown(
            item, key, {"id", "name", "prefix", "office", "staff_group_chat_id", "in_name"}
        )
        quarter_id = self.string(item, f"{key}.id", "id")
        if not _QUARTER_ID.match(quarter_id):
            raise self.fail(
                f"{key}.id",
                f"{quarter_id!r} must be lower-case letters, digits and '-' (at most 40)",
            )
        # From here on, errors name the quarter by its id: "quarters.huenertshagen.office…".
        key = f"quarters.{quarter_id}"
        name = self.string(item, f"{key}.name", "name")
        if not name.strip():
            raise self.fail(f"{key}.name", "must not be empty")
        prefix = self.string(item, f"{key}.prefix", "prefix", _default_prefix(quarter_id))
        if not _PREFIX.match(prefix):
            raise self.fail(f"{key}.prefix", f"{prefix!r} must be 1 to 4 capital letters")
        office = self.office(self.table(item, f"{key}.office", "office"), f"{key}.office")
        group = item.get("staff_group_chat_id")
        if group is not None:
            group = self.integer(group, f"{key}.staff_group_chat_id")
            if group >= 0:
                raise self.fail(f"{key}.staff_group_chat_id", "a group's chat id is negative")
        return Quarter(
            id=quarter_id,
            name=name.strip(),
            prefix=prefix,
            office=office,
            staff_group_chat_id=group,
            in_name=self.in_name(item.get("in_name", {}), f"{key}.in_name"),
        )

    def in_name(self, value: Any, key: str) -> tuple[tuple[str, str], ...]:
        """`in_name = { de = "in der Bahnhofsvorstadt" }`: "in <quarter>" per language."""
        if not isinstance(value, dict):
            raise self.fail(key, 'must be a table like { de = "in der Bahnhofsvorstadt" }')
        for code, text in value.items():
            if code not in KNOWN_LANGUAGES:
                raise self.fail(f"{key}.{code}", f"unknown language {code!r}")
            if not isinstance(text, str) or not text.strip() or len(text) > 80:
                raise self.fail(f"{key}.{code}", "must be a phrase of 1 to 80 characters")
        return tuple(sorted((code, text.strip()) for code, text in value.items()))

    def office(self, item: Mapping[str, Any], key: str) -> Office:
        """A quarter's office: address and weekly hours."""
        self.check_unknown(item, key, {"name", "address", "phone", "email", "hours"})
        hours_table = self.table(item, f"{key}.hours", "hours")
        for day, spec in hours_table.items():
            if not isinstance(spec, str):
                raise self.fail(f"{key}.hours.{day}", "must be a string like '10:00-13:00'")
        try:
            hours = WeeklyHours.from_mapping(hours_table)
        except HoursError as exc:
            raise self.fail(f"{key}.hours", str(exc)) from None
        return Office(
            address=self.string(item, f"{key}.address", "address", "").strip(),
            hours=hours,
            name=self.string(item, f"{key}.name", "name", "").strip(),
            phone=self.string(item, f"{key}.phone", "phone", "").strip(),
            email=self.string(item, f"{key}.email", "email", "").strip(),
        )

    def staff(self, staff: Mapping[str, Any], quarter_ids: set[str]) -> StaffSettings:
        """`[staff]`: admins, the staff group and officers from the config."""
        self.check_unknown(staff, "staff", {"admins", "group_chat_id", "officers"})
        admins_raw = staff.get("admins", [])
        if not isinstance(admins_raw, list):
            raise self.fail("staff.admins", "must be a list of Telegram user ids")
        admins = frozenset(self.user_id(a, f"staff.admins[{i}]") for i, a in enumerate(admins_raw))
        group = staff.get("group_chat_id")
        group_chat_id = None if group is None else self.integer(group, "staff.group_chat_id")
        if group_chat_id is not None and group_chat_id >= 0:
            raise self.fail("staff.group_chat_id", "a group chat id is negative, e.g. -100123…")
        officers_raw = staff.get("officers", [])
        if not isinstance(officers_raw, list):
            raise self.fail("staff.officers", "must be a list of tables")
        officers: list[Officer] = []
        for index, item in enumerate(officers_raw):
            key = f"staff.officers[{index}]"
            if not isinstance(item, dict):
                raise self.fail(key, "must be a table")
            self.check_unknown(item, key, {"user_id", "quarters"})
            user_id = self.user_id(item.get("user_id"), f"{key}.user_id")
            quarters = item.get("quarters")
            if not isinstance(quarters, list) or not quarters:
                raise self.fail(f"{key}.quarters", "must be a non-empty list of quarter ids")
            for quarter_id in quarters:
                if quarter_id not in quarter_ids:
                    raise self.fail(f"{key}.quarters", f"unknown quarter id {quarter_id!r}")
            officers.append(Officer(user_id=user_id, quarters=tuple(quarters)))
        return StaffSettings(admins=admins, group_chat_id=group_chat_id, officers=tuple(officers))

    def user_id(self, value: Any, key: str) -> int:
        """A Telegram user id (positive integer)."""
        user_id = self.integer(value, key)
        if user_id <= 0:
            raise self.fail(key, "a Telegram user id is a positive number")
        return user_id

    def topics(self, value: Any, languages: tuple[str, ...]) -> tuple[Topic, ...]:
        """`[[topics]]` overrides the default topic list from DOMAIN.md."""
        if value is None:
            return DEFAULT_TOPICS
        if not isinstance(value, list) or not value:
            raise self.fail("topics", "must be a non-empty list of [[topics]] tables")
        result: list[Topic] = []
        for index, item in enumerate(value):
            key = f"topics[{index}]"
            if not isinstance(item, dict):
                raise self.fail(key, "must be a table")
            self.check_unknown(item, key, {"id", "name"})
            topic_id = self.string(item, f"{key}.id", "id")
            if not _TOPIC_ID.match(topic_id):
                raise self.fail(f"{key}.id", f"{topic_id!r} must be lower-case letters and digits")
            if topic_id in {t.id for t in result}:
                raise self.fail(f"{key}.id", f"duplicate topic id {topic_id!r}")
            names = item.get("name")
            if not isinstance(names, dict) or not names:
                raise self.fail(f"{key}.name", "must be a table of names per language")
            for code, text in names.items():
                if code not in KNOWN_LANGUAGES:
                    raise self.fail(f"{key}.name.{code}", f"unknown language {code!r}")
                if not isinstance(text, str) or not text.strip():
                    raise self.fail(f"{key}.name.{code}", "must be a non-empty string")
            result.append(Topic(id=topic_id, names=tuple(sorted(names.items()))))
        return tuple(result)

    def privacy(self, privacy: Mapping[str, Any]) -> PrivacySettings:
        """`[privacy]`: who is responsible and how long data is kept."""
        periods = (
            "retention_days",
            "inactive_resident_days",
            "event_days",
            "delivery_days",
            "backup_days",
        )
        self.check_unknown(privacy, "privacy", {"controller", "contact", *periods})
        defaults = PrivacySettings()
        days: dict[str, int] = {}
        for name in periods:
            value = self.integer(privacy.get(name, getattr(defaults, name)), f"privacy.{name}")
            if not 1 <= value <= 3650:
                raise self.fail(f"privacy.{name}", "must be between 1 and 3650 days")
            days[name] = value
        return PrivacySettings(
            controller=self.string(privacy, "privacy.controller", "controller", "").strip(),
            contact=self.string(privacy, "privacy.contact", "contact", "").strip(),
            **days,
        )

    def translation_settings(
        self, translation: Mapping[str, Any], languages: tuple[str, ...]
    ) -> TranslationSettings:
        """`[translation]`: backend, url, staff_language, timeout_seconds."""
        self.check_unknown(
            translation, "translation", {"backend", "url", "staff_language", "timeout_seconds"}
        )
        defaults = TranslationSettings()
        backend = self.string(translation, "translation.backend", "backend", defaults.backend)
        if backend not in TRANSLATION_BACKENDS:
            raise self.fail(
                "translation.backend", f"{backend!r}: use one of {', '.join(TRANSLATION_BACKENDS)}"
            )
        url = self.string(translation, "translation.url", "url", defaults.url).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise self.fail("translation.url", "must start with http:// or https://")
        staff_language = translation.get("staff_language")
        if staff_language is not None and staff_language not in languages:
            # Staff posts are written in it: the bot must offer it (and have its catalog).
            raise self.fail(
                "translation.staff_language",
                f"{staff_language!r} is not one of [bot].languages ({', '.join(languages)})",
            )
        timeout = translation.get("timeout_seconds", defaults.timeout_seconds)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 60
        ):
            raise self.fail("translation.timeout_seconds", "must be above 0 and at most 60")
        return TranslationSettings(
            backend=backend,
            url=url,
            staff_language=staff_language,
            timeout_seconds=float(timeout),
        )

    def transcription_settings(self, section: Mapping[str, Any]) -> TranscriptionSettings:
        """`[transcription]`: backend, url, model, max_seconds, timeout_seconds."""
        self.check_unknown(
            section,
            "transcription",
            {"backend", "url", "model", "max_seconds", "timeout_seconds"},
        )
        defaults = TranscriptionSettings()
        backend = self.string(section, "transcription.backend", "backend", defaults.backend)
        if backend not in TRANSCRIPTION_BACKENDS:
            raise self.fail(
                "transcription.backend",
                f"{backend!r}: use one of {', '.join(TRANSCRIPTION_BACKENDS)}",
            )
        url = self.string(section, "transcription.url", "url", defaults.url).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise self.fail("transcription.url", "must start with http:// or https://")
        model = self.string(section, "transcription.model", "model", defaults.model).strip()
        if not model:
            raise self.fail("transcription.model", "must name the model the server runs")
        max_seconds = self.integer(
            section.get("max_seconds", defaults.max_seconds), "transcription.max_seconds"
        )
        if not 1 <= max_seconds <= 3600:
            raise self.fail("transcription.max_seconds", "must be between 1 and 3600")
        timeout = section.get("timeout_seconds", defaults.timeout_seconds)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 600
        ):
            raise self.fail("transcription.timeout_seconds", "must be above 0 and at most 600")
        return TranscriptionSettings(
            backend=backend,
            url=url,
            model=model,
            max_seconds=max_seconds,
            timeout_seconds=float(timeout),
        )

    def limit_settings(self, limits: Mapping[str, Any]) -> LimitSettings:
        """`[limits]`: concerns a day and follow-ups an hour per resident."""
        self.check_unknown(limits, "limits", {"concerns_per_day", "followups_per_hour"})
        defaults = LimitSettings()
        concerns = self.integer(
            limits.get("concerns_per_day", defaults.concerns_per_day), "limits.concerns_per_day"
        )
        followups = self.integer(
            limits.get("followups_per_hour", defaults.followups_per_hour),
            "limits.followups_per_hour",
        )
        for key, value in (("concerns_per_day", concerns), ("followups_per_hour", followups)):
            if not 1 <= value <= 1000:
                raise self.fail(f"limits.{key}", "must be between 1 and 1000")
        return LimitSettings(concerns_per_day=concerns, followups_per_hour=followups)

    def event_settings(self, events: Mapping[str, Any]) -> EventSettings:
        """`[events]`: reminder_hours, a list of hours before the start."""
        self.check_unknown(events, "events", {"reminder_hours"})
        hours = events.get("reminder_hours", [24, 2])
        if not isinstance(hours, list):
            raise self.fail("events.reminder_hours", "must be a list of hours, e.g. [24, 2]")
        for value in hours:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= 336
            ):
                raise self.fail(
                    "events.reminder_hours", f"{value!r} must be a number of hours from 0 to 336"
                )
        return EventSettings(reminder_hours=tuple(float(h) for h in hours))

    def broadcast_settings(self, broadcast: Mapping[str, Any]) -> BroadcastSettings:
        """`[broadcast]`: rate_per_second and allow_paid_broadcast."""
        self.check_unknown(
            broadcast, "broadcast", {"rate_per_second", "allow_paid_broadcast", "max_in_flight"}
        )
        paid = broadcast.get("allow_paid_broadcast", False)
        if not isinstance(paid, bool):
            raise self.fail("broadcast.allow_paid_broadcast", "must be true or false")
        rate = broadcast.get("rate_per_second", 25)
        limit = 1000 if paid else 30
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= limit:
            raise self.fail(
                "broadcast.rate_per_second",
                f"{rate!r} must be above 0 and at most {limit} "
                + ("(paid broadcasts)" if paid else "(Telegram's limit without paid broadcasts)"),
            )
        in_flight = broadcast.get("max_in_flight")
        if in_flight is not None:
            in_flight = self.integer(in_flight, "broadcast.max_in_flight")
            if not 1 <= in_flight <= 200:
                raise self.fail("broadcast.max_in_flight", "must be between 1 and 200")
        return BroadcastSettings(
            rate_per_second=float(rate), allow_paid_broadcast=paid, max_in_flight=in_flight
        )


def _default_prefix(quarter_id: str) -> str:
    """Reference prefix from the id's parts: 'alwin-lonke' → 'AL', 'huenertshagen' → 'HU'."""
    parts = [p for p in quarter_id.split("-") if p and p[0].isalpha()]
    if len(parts) >= 2:
        return (parts[0][0] + parts[1][0]).upper()
    letters = [c for c in quarter_id if c.isalpha()]
    return "".join(letters[:2]).upper() or "Q"
