"""Events without Telegram: staff input checks, the event card, calendar files, reminder texts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton

from bot.dateparse import example_day, parse_date, typed_date
from bot.i18n import Translator
from bot.repositories import Repositories
from bot.translation import translate_stored
from storage.events import Event, EventCounts

#: The steps of the staff's guided creation, in order. "quarter" and "topic" are answered with
#: buttons (and skipped when there is only one choice); the others are typed.
EVENT_STEPS: tuple[str, ...] = (
    "quarter",
    "title",
    "when",
    "end",
    "place",
    "description",
    "capacity",
    "topic",
    "confirm",
)
#: Steps staff may skip: no end, no description, no place limit, no topic.
OPTIONAL_STEPS: frozenset[str] = frozenset({"end", "description", "capacity", "topic"})

MAX_TITLE = 120
MAX_PLACE = 200
MAX_DESCRIPTION = 2000
MAX_CAPACITY = 10_000
#: Calendar entries need an end; a neighbourhood meeting rarely runs longer.
DEFAULT_DURATION = timedelta(hours=2)

PRODID = "-//quartierbot//Bremen//DE"

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
# "<date> <HH:MM>", also "<date>, <HH:MM>" (as Babel prints it) and ISO "<date>T<HH:MM>".
_DATE_TIME = re.compile(r"^(\S+?),?(?:\s+|T)(\d{1,2}:\d{2})$")


class EventInputError(ValueError):
    """Staff input cannot be used; the message is already translated."""


def _parse_time(text: str) -> time | None:
    """'15:00' or '9:30' as a time; None if it is not one."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _example(t: Translator, day: date) -> str:
    """A date and time the parser reads back, in the reader's own date style when possible."""
    return f"{typed_date(day, t.locale)} 18:00"


def _unreadable(text: str, t: Translator, now: datetime, tz: ZoneInfo) -> EventInputError:
    """The error for input that is not a date and time."""
    example = _example(t, example_day(now.astimezone(tz).date()))
    return EventInputError(
        t._(
            "I could not read “{text}”. Please write the date and time like {example}.",
            text=text.strip()[:30],
            example=example,
        )
    )


def _localise(day: date, clock: time, t: Translator, tz: ZoneInfo) -> datetime:
    """Wall time in `tz` as a UTC instant; refuses times skipped by the spring DST switch."""
    # fold=0 picks the first of the two 02:30s of the autumn switch (summer time), which is
    # what people mean when they plan a night event before the clocks go back.
    local = datetime.combine(day, clock, tzinfo=tz)
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise EventInputError(
            t._(
                "{time} does not exist on {date}: the clocks jump forward to summer time "
                "that night. Please choose another time.",
                time=clock.strftime("%H:%M"),
                date=t.fmt_date(day),
            )
        )
    # UTC, because aware datetimes in the doubled autumn hour never compare equal across zones.
    return local.astimezone(UTC)


def _parse_date_time(text: str, t: Translator, tz: ZoneInfo, now: datetime) -> datetime:
    """'<date> <HH:MM>' as an aware instant, or EventInputError."""
    match = _DATE_TIME.match(text.strip())
    day = parse_date(match[1], t.locale) if match else None
    clock = _parse_time(match[2]) if match else None
    if day is None or clock is None:
        raise _unreadable(text, t, now, tz)
    return _localise(day, clock, t, tz)


def parse_when(text: str, t: Translator, tz: ZoneInfo, now: datetime) -> datetime:
    """The start typed by staff ('2026-12-05 15:00', '05.12.2026 15:00'); must be in the future."""
    start = _parse_date_time(text, t, tz, now)
    if start <= now:
        raise EventInputError(t._("The date is in the past."))
    return start


def parse_end(text: str, start: datetime, t: Translator, tz: ZoneInfo) -> datetime:
    """The end: a time on the start's day ('17:00') or a full date and time; after the start."""
    clock = _parse_time(text)
    if clock is not None:
        end = _localise(start.astimezone(tz).date(), clock, t, tz)
    else:
        end = _parse_date_time(text, t, tz, start)
    if end <= start:
        raise EventInputError(
            t._(
                "The end must be after the start ({time}). For an event that ends on a later "
                "day, write the date too.",
                time=t.fmt_time(start),
            )
        )
    return end


def parse_capacity(text: str, t: Translator) -> int:
    """The number of places, 1 to MAX_CAPACITY."""
    value = text.strip()
    # isdecimal() also accepts Arabic-Indic digits, which int() reads correctly.
    if value.isdecimal() and 1 <= int(value) <= MAX_CAPACITY:
        return int(value)
    raise EventInputError(
        t._(
            "Please send the number of places as a whole number from {min} to {max}.",
            min=t.fmt_number(1),
            max=t.fmt_number(MAX_CAPACITY),
        )
    )


def validate_title(text: str, t: Translator) -> str:
    """The title on one line with single spaces, 1 to MAX_TITLE characters."""
    title = " ".join(text.split())
    if not title:
        raise EventInputError(t._("The title cannot be empty."))
    if len(title) > MAX_TITLE:
        raise EventInputError(
            t._("The title is too long (at most {count} characters).", count=MAX_TITLE)
        )
    return title


def validate_place(text: str, t: Translator) -> str:
    """The place on one line with single spaces, 1 to MAX_PLACE characters."""
    place = " ".join(text.split())
    if not place:
        raise EventInputError(t._("Please tell us where the event takes place."))
    if len(place) > MAX_PLACE:
        raise EventInputError(
            t._("The place is too long (at most {count} characters).", count=MAX_PLACE)
        )
    return place


def validate_description(text: str, t: Translator) -> str:
    """The description with its line breaks, at most MAX_DESCRIPTION characters (may be empty)."""
    description = text.strip()
    if len(description) > MAX_DESCRIPTION:
        raise EventInputError(
            t._("The text is too long (at most {count} characters).", count=MAX_DESCRIPTION)
        )
    return description


#: From how far ahead an event's date shows its year ("5 December" alone would read as this one).
YEAR_SHOWN_AFTER = timedelta(days=300)


def _day(moment: datetime, t: Translator) -> str:
    """'Saturday 5 December', with the year for a day far ahead."""
    if moment - datetime.now(UTC) > YEAR_SHOWN_AFTER:
        return t.fmt_full_date(moment.astimezone(t.tz).date())
    return t.fmt_date(moment)


def _when(event: Event, t: Translator) -> str:
    """'Saturday 5 December, 15:00–17:00', or both dates for an event across midnight."""
    start = event.starts_at.astimezone(t.tz)
    if event.ends_at is None:
        # TRANSLATORS: when an event takes place, e.g. "Saturday 5 December, 15:00–17:00".
        return t._("{date}, {time}", date=_day(start, t), time=t.fmt_time(start))
    end = event.ends_at.astimezone(t.tz)
    if end.date() == start.date():
        # Times are isolated one by one: in Arabic the range must still read start–end.
        times = f"{t.isolate(t.fmt_time(start))}–{t.isolate(t.fmt_time(end))}"
        return t._("{date}, {time}", date=_day(start, t), time=times)
    # TRANSLATORS: an event across midnight, from one "{date}, {time}" to another.
    return t._(
        "{start} – {end}",
        start=t._("{date}, {time}", date=_day(start, t), time=t.fmt_time(start)),
        end=t._("{date}, {time}", date=_day(end, t), time=t.fmt_time(end)),
    )


def _places(counts: EventCounts, capacity: int | None, t: Translator) -> str:
    """'3 registered · 2 places left', '5 registered · Fully booked – waiting list' or …"""
    coming = t._n("{count} registered", "{count} registered", counts.going, count=counts.going)
    if capacity is None:
        return coming
    left = capacity - counts.going
    if left > 0:
        return t._n(
            "{going} registered · {left} place left",
            "{going} registered · {left} places left",
            left,
            going=counts.going,
            left=left,
        )
    line = coming + " · " + t._("Fully booked – waiting list")
    if counts.waiting:
        line += " " + t._n(
            "({count} waiting)", "({count} waiting)", counts.waiting, count=counts.waiting
        )
    return line


def render_event(
    event: Event,
    t: Translator,
    quarter_name: str,
    topic_name: str | None,
    counts: EventCounts,
    capacity: int | None,
    source_language: str | None = None,
) -> str:
    """The plain-text event card in the reader's language (send without parse mode).

    With `source_language`, title and description are a machine translation: labelled.
    """
    lines = []
    if event.is_cancelled:
        lines.append(t._("❌ This event has been cancelled."))
    lines.append(event.title)
    lines.append("📅 " + _when(event, t))
    lines.append("📍 " + event.place)
    lines.append("🏘 " + (f"{quarter_name} · {topic_name}" if topic_name else quarter_name))
    below = ["", event.description] if event.description else []
    if source_language:
        below += ["", machine_label(source_language, t)]
    if below:
        lines += [*below, ""]
    if not event.is_cancelled:
        lines.append("👥 " + _places(counts, capacity, t))
    return "\n".join(lines).strip()


def render_event_list(
    entries: Sequence[tuple[Event, str | None]], t: Translator, translated: bool = False
) -> str:
    """Several events in one plain-text message: numbered, when, where, the reader's RSVP.

    One message instead of one card per event: a chat with a resident takes about one message
    per second, and eight cards at once would flood their phone. `translated`: some titles are
    machine translations (each card names its source language).
    """
    blocks = [t._("📅 Coming events in your quarters")]
    for number, (event, state) in enumerate(entries, start=1):
        lines = [f"{number}. {event.title}", "📅 " + _when(event, t), "📍 " + event.place]
        if state == "going":
            lines.append(t._("✅ You are registered."))
        elif state == "waiting":
            lines.append(t._("⏳ You are on the waiting list."))
        blocks.append("\n".join(lines))
    if translated:
        blocks.append(t._("🌐 Titles: machine translation."))
    blocks.append(t._("Tap an event to register or to add it to your calendar."))
    return "\n\n".join(blocks)


def event_link(event_id: int, bot_username: str | None) -> str | None:
    """The deep link that opens the event in the bot, if the bot's username is known."""
    return f"https://t.me/{bot_username}?start=ev-{event_id}" if bot_username else None


def build_ics(
    event: Event, quarter_name: str, bot_username: str | None, tz: ZoneInfo, note: str = ""
) -> bytes:
    """An iCalendar file with one VEVENT in local wall time and the VTIMEZONE it needs.

    `note` ends the description (a machine translation's label and the original).
    """
    start = event.starts_at.astimezone(tz)
    end = (event.ends_at or event.starts_at + DEFAULT_DURATION).astimezone(tz)
    link = event_link(event.id, bot_username)
    # Imported here: calendar files are rare; the bot should not pay for icalendar at start.
    import icalendar

    vevent = icalendar.Event()
    vevent.add("uid", f"event-{event.id}@quartierbot")
    # Without METHOD, DTSTAMP is when the information was last revised.
    vevent.add("dtstamp", event.updated_at.astimezone(UTC))
    vevent.add("created", event.created_at.astimezone(UTC))
    vevent.add("last-modified", event.updated_at.astimezone(UTC))
    # Calendars replace an imported entry only for a higher SEQUENCE; seconds since creation
    # grow with every edit and cancellation.
    vevent.add("sequence", int((event.updated_at - event.created_at).total_seconds()))
    vevent.add("dtstart", start)
    vevent.add("dtend", end)
    vevent.add("summary", event.title)
    vevent.add("location", f"{event.place}, {quarter_name}")
    description = "\n\n".join(part for part in (event.description, note, link) if part)
    if description:
        vevent.add("description", description)
    if link:
        vevent.add("url", link)
    vevent.add("status", "CANCELLED" if event.is_cancelled else "CONFIRMED")
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add_component(vevent)
    # Only the transitions around the event: a few lines instead of 70 years of rules.
    calendar.add_missing_timezones(
        first_date=date(start.year - 1, 1, 1), last_date=date(end.year + 1, 12, 31)
    )
    return bytes(calendar.to_ical())


def reminder_text(event: Event, offset_minutes: int, t: Translator, quarter_name: str) -> str:
    """'Reminder: “Repair café” starts in 2 hours – Saturday 5 December at 15:00, …'."""
    start = event.starts_at.astimezone(t.tz)
    values = {
        "title": event.title,
        "date": t.fmt_date(start),
        "time": t.fmt_time(start),
        "place": event.place,
        "quarter": quarter_name,
    }
    if offset_minutes >= 60 and offset_minutes % 60 == 0:
        hours = offset_minutes // 60
        return t._n(
            "Reminder: “{title}” starts in {count} hour – {date} at {time}, {place} ({quarter}).",
            "Reminder: “{title}” starts in {count} hours – {date} at {time}, {place} ({quarter}).",
            hours,
            count=hours,
            **values,
        )
    return t._n(
        "Reminder: “{title}” starts in {count} minute – {date} at {time}, {place} ({quarter}).",
        "Reminder: “{title}” starts in {count} minutes – {date} at {time}, {place} ({quarter}).",
        offset_minutes,
        count=offset_minutes,
        **values,
    )


@dataclass(frozen=True)
class ReaderEvent:
    """An event as one reader sees it: title and description in their language where translated."""

    event: Event
    original: Event
    #: The original's language of a machine-translated title or description, else None.
    title_source: str | None = None
    description_source: str | None = None

    @property
    def source_language(self) -> str | None:
        """The original's language if anything shown is a machine translation."""
        return self.title_source or self.description_source


async def events_for_reader(
    repos: Repositories, events: Sequence[Event], language: str
) -> list[ReaderEvent]:
    """The events' titles and descriptions in `language`: stored, or one service call for all.

    Staff may write in any language, so the source is detected. Without a service, or when it
    cannot answer, the originals stand (a later view tries again).
    """
    answer = None
    if repos.translation.enabled and events:
        texts = [text for event in events for text in (event.title, event.description)]
        answer = await translate_stored(repos.translation, repos.translations, texts, language)
    if answer is None:
        return [ReaderEvent(event, event) for event in events]
    readers = []
    for index, event in enumerate(events):
        title, description = answer[2 * index], answer[2 * index + 1]
        title_source = title.source_language if title.source_language != language else None
        description_source = (
            description.source_language if description.source_language != language else None
        )
        shown = replace(
            event,
            title=title.text if title_source else event.title,
            description=description.text if description_source else event.description,
        )
        readers.append(ReaderEvent(shown, event, title_source, description_source))
    return readers


async def event_for_reader(repos: Repositories, event: Event, language: str) -> ReaderEvent:
    """One event in the reader's language (see events_for_reader)."""
    (reader,) = await events_for_reader(repos, [event], language)
    return reader


def machine_label(source_language: str, t: Translator) -> str:
    """The label under an event's machine-translated title and text, in the reader's language."""
    return t._(
        "🌐 Title and text: machine translation from {language}.",
        language=t.language_name(source_language),
    )


def title_label(source_language: str, t: Translator) -> str:
    """The label under a message that shows only an event's machine-translated title."""
    return t._(
        "🌐 Title: machine translation from {language}.",
        language=t.language_name(source_language),
    )


def original_text(event: Event, t: Translator) -> str:
    """An event's title and description as staff wrote them (the 'Original' button)."""
    parts = [t._("Original:"), event.title]
    if event.description:
        parts += ["", event.description]
    return "\n".join(parts)


def original_button(event_id: int, t: Translator) -> InlineKeyboardButton:
    """The button under a machine-translated event that shows what staff wrote."""
    return InlineKeyboardButton(t._("🌐 Show the original"), callback_data=f"ev:orig:{event_id}")
