"""Events core: the repository on real SQLite, staff input checks, the card, ICS and reminders."""

from __future__ import annotations

import gettext
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.events import (
    MAX_CAPACITY,
    EventInputError,
    build_ics,
    parse_capacity,
    parse_end,
    parse_when,
    reminder_text,
    render_event,
    validate_description,
    validate_place,
    validate_title,
)
from bot.i18n import FSI, PDI, Translator
from storage.db import Database
from storage.events import Event, EventCounts, EventError, EventInput, EventRepository

BERLIN = ZoneInfo("Europe/Berlin")
BV = "bahnhofsvorstadt"
HH = "huenertshagen"
STAFF = 900001
#: Monday 23 November 2026, 11:00 in Bremen.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
#: Saturday 5 December 2026, 15:00 in Bremen (winter time, UTC+1).
WINTER = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
#: Saturday 10 July 2027, 15:00 in Bremen (summer time, UTC+2).
SUMMER = datetime(2027, 7, 10, 13, 0, tzinfo=UTC)
DAY = 24 * 60
OFFSETS = (DAY, 120)


def translator(language: str = "en") -> Translator:
    """A translator without catalogs: the English source texts, formatted for `language`."""
    return Translator(language, gettext.NullTranslations(), BERLIN)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """An open database in a temp dir."""
    database = Database(tmp_path / "events.sqlite3")
    await database.open()
    yield database
    await database.close()


@pytest.fixture
def events(db: Database) -> EventRepository:
    """The repository under test."""
    return EventRepository(db)


def data(
    starts_at: datetime = WINTER,
    *,
    capacity: int | None = None,
    quarter_id: str = BV,
    title: str = "Repair café",
    ends_at: datetime | None = None,
) -> EventInput:
    """Event input with sensible defaults."""
    return EventInput(
        quarter_id=quarter_id,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        place="Nachbarschaftshaus, Grohner Straße 45",
        description="Bring what is broken.",
        capacity=capacity,
        topic_id="neighbourhood",
    )


async def rsvp_all(events: EventRepository, event_id: int, users: range | list[int]) -> list[str]:
    """RSVP several users at NOW; their resulting states."""
    return [(await events.rsvp(event_id, user, NOW)).state for user in users]


# --- repository: events ----------------------------------------------------------------------


async def test_create_and_get_round_trip(events: EventRepository) -> None:
    end = WINTER + timedelta(hours=2)
    created = await events.create(STAFF, data(capacity=20, ends_at=end))
    loaded = await events.get(created.id)
    assert loaded == created
    assert loaded.starts_at == WINTER and loaded.starts_at.tzinfo is not None
    assert loaded.ends_at == end
    assert (loaded.capacity, loaded.topic_id, loaded.created_by) == (20, "neighbourhood", STAFF)
    assert not loaded.is_cancelled
    assert await events.get(created.id + 1) is None


async def test_upcoming_is_soonest_first_without_cancelled_past_or_other_quarters(
    events: EventRepository,
) -> None:
    later = await events.create(STAFF, data(WINTER + timedelta(days=3), title="later"))
    soon = await events.create(STAFF, data(WINTER, title="soon"))
    cancelled = await events.create(STAFF, data(WINTER + timedelta(days=1), title="cancelled"))
    await events.cancel(STAFF, cancelled.id)
    await events.create(STAFF, data(NOW - timedelta(hours=1), title="past"))
    await events.create(STAFF, data(WINTER, quarter_id=HH, title="elsewhere"))
    assert [e.title for e in await events.upcoming([BV], NOW)] == ["soon", "later"]
    assert [e.title for e in await events.upcoming([BV, HH], NOW, limit=2)] == ["soon", "elsewhere"]
    assert [e.id for e in await events.upcoming([BV], WINTER)] == [later.id]
    assert soon.id != later.id
    assert await events.upcoming([], NOW) == []


async def test_end_before_start_and_zero_capacity_are_refused(events: EventRepository) -> None:
    with pytest.raises(EventError) as end_error:
        await events.create(STAFF, data(ends_at=WINTER - timedelta(minutes=1)))
    with pytest.raises(EventError) as capacity_error:
        await events.create(STAFF, data(capacity=0))
    assert end_error.value.code == capacity_error.value.code == "invalid"


async def test_staff_changes_are_audited_once(events: EventRepository, db: Database) -> None:
    event = await events.create(STAFF, data(capacity=5))
    await events.update(STAFF, event.id, replace(data(capacity=8), title="Repair café XL"))
    await events.rsvp(event.id, 1, NOW)
    assert await events.cancel(STAFF, event.id) == [1]
    assert await events.cancel(STAFF, event.id) == []  # a double tap: nobody told twice
    rows = await db.fetchall("SELECT actor_id, action, subject, detail FROM audit_log ORDER BY id")
    assert [(r["actor_id"], r["action"], r["subject"]) for r in rows] == [
        (STAFF, "event.create", f"event:{event.id}"),
        (STAFF, "event.update", f"event:{event.id}"),
        (STAFF, "event.cancel", f"event:{event.id}"),
    ]
    assert '"title"' in rows[1]["detail"] and '"capacity"' in rows[1]["detail"]


async def test_cancel_returns_everyone_who_rsvpd(events: EventRepository) -> None:
    event = await events.create(STAFF, data(capacity=1))
    await rsvp_all(events, event.id, [11, 12, 13])
    assert await events.cancel(STAFF, event.id) == [11, 12, 13]
    cancelled = await events.get(event.id)
    assert cancelled is not None and cancelled.is_cancelled
    with pytest.raises(EventError) as error:
        await events.update(STAFF, event.id, data(capacity=3))
    assert error.value.code == "cancelled"


async def test_unknown_event_is_not_found(events: EventRepository) -> None:
    for call in (
        events.cancel(STAFF, 404),
        events.update(STAFF, 404, data()),
        events.rsvp(404, 1, NOW),
    ):
        with pytest.raises(EventError) as error:
            await call
        assert error.value.code == "not_found"


# --- repository: RSVPs and the waiting list ---------------------------------------------------


async def test_rsvp_fills_places_then_the_waiting_list(events: EventRepository) -> None:
    event = await events.create(STAFF, data(capacity=2))
    assert await rsvp_all(events, event.id, [1, 2, 3, 4]) == [
        "going",
        "going",
        "waiting",
        "waiting",
    ]
    again = await events.rsvp(event.id, 1, NOW)
    waiting_again = await events.rsvp(event.id, 3, NOW)
    assert (again.state, again.going, again.waiting, again.capacity) == ("already_going", 2, 2, 2)
    assert waiting_again.state == "already_waiting"
    assert await events.counts(event.id) == EventCounts(going=2, waiting=2)
    assert await events.rsvp_state(event.id, 3) == "waiting"
    assert await events.rsvp_state(event.id, 99) is None


async def test_withdrawing_a_place_promotes_the_earliest_waiting(events: EventRepository) -> None:
    event = await events.create(STAFF, data(capacity=2))
    await rsvp_all(events, event.id, [1, 2, 3, 4])
    outcome = await events.cancel_rsvp(event.id, 1, NOW)
    assert (outcome.was, outcome.promoted_user_id) == ("going", 3)
    assert await events.attendees(event.id) == [2, 3]
    assert await events.attendees(event.id, "waiting") == [4]
    waiting = await events.cancel_rsvp(event.id, 4, NOW)
    assert (waiting.was, waiting.promoted_user_id) == ("waiting", None)
    assert await events.attendees(event.id) == [2, 3]
    nothing = await events.cancel_rsvp(event.id, 99, NOW)
    assert (nothing.was, nothing.promoted_user_id) == ("none", None)


async def test_without_capacity_everyone_goes_and_nobody_is_promoted(
    events: EventRepository,
) -> None:
    event = await events.create(STAFF, data())
    assert await rsvp_all(events, event.id, range(1, 6)) == ["going"] * 5
    assert (await events.cancel_rsvp(event.id, 1, NOW)).promoted_user_id is None
    assert await events.counts(event.id) == EventCounts(going=4, waiting=0)


async def test_rsvp_is_refused_for_cancelled_and_started_events(events: EventRepository) -> None:
    cancelled = await events.create(STAFF, data())
    await events.cancel(STAFF, cancelled.id)
    started = await events.create(STAFF, data(WINTER))
    with pytest.raises(EventError) as on_cancelled:
        await events.rsvp(cancelled.id, 1, NOW)
    with pytest.raises(EventError) as on_started:
        await events.rsvp(started.id, 1, WINTER)
    assert on_cancelled.value.code == on_started.value.code == "closed"
    assert await events.counts(started.id) == EventCounts(0, 0)


async def test_capacity_below_the_rsvps_is_refused(events: EventRepository) -> None:
    event = await events.create(STAFF, data(capacity=3))
    await rsvp_all(events, event.id, [1, 2, 3, 4])
    with pytest.raises(EventError) as error:
        await events.update(STAFF, event.id, data(capacity=2, title="smaller"))
    assert error.value.code == "capacity_below_rsvps"
    unchanged = await events.get(event.id)
    assert unchanged is not None and (unchanged.capacity, unchanged.title) == (3, "Repair café")


async def test_more_capacity_promotes_waiters_in_order(events: EventRepository) -> None:
    event = await events.create(STAFF, data(capacity=1))
    await rsvp_all(events, event.id, [1, 4, 5, 6])
    updated, promoted = await events.update(STAFF, event.id, data(capacity=3))
    assert updated.capacity == 3 and promoted == [4, 5]
    assert await events.attendees(event.id, "waiting") == [6]
    _, rest = await events.update(STAFF, event.id, data(capacity=None))
    assert rest == [6]
    assert await events.counts(event.id) == EventCounts(going=4, waiting=0)


# --- repository: reminders --------------------------------------------------------------------


async def test_reminders_at_24_and_2_hours_never_repeat(events: EventRepository) -> None:
    event = await events.create(STAFF, data(WINTER))
    await events.rsvp(event.id, 1, NOW)
    assert await events.due_reminders(WINTER - timedelta(hours=25), OFFSETS) == []
    assert await events.next_reminder_at(NOW, OFFSETS) == WINTER - timedelta(hours=24)

    at_24 = WINTER - timedelta(hours=24)
    due = await events.due_reminders(at_24, OFFSETS)
    assert [(e.id, user, offset) for e, user, offset in due] == [(event.id, 1, DAY)]
    assert await events.mark_reminded(event.id, 1, DAY, at_24) is True
    assert await events.mark_reminded(event.id, 1, DAY, at_24) is False
    assert await events.due_reminders(at_24 + timedelta(minutes=1), OFFSETS) == []

    # Signing up after the 24-hour mark earns only the 2-hour reminder.
    late = WINTER - timedelta(hours=10)
    await events.rsvp(event.id, 2, late)
    assert await events.due_reminders(late, OFFSETS) == []
    assert await events.next_reminder_at(late, OFFSETS) == WINTER - timedelta(hours=2)

    at_2 = WINTER - timedelta(hours=2)
    due = await events.due_reminders(at_2, OFFSETS)
    assert [(user, offset) for _, user, offset in due] == [(1, 120), (2, 120)]
    for _, user, offset in due:
        assert await events.mark_reminded(event.id, user, offset, at_2)
    assert await events.due_reminders(at_2 + timedelta(minutes=5), OFFSETS) == []
    assert await events.due_reminders(WINTER, OFFSETS) == []
    assert await events.next_reminder_at(at_2, OFFSETS) is None


async def test_a_missed_24_hour_reminder_is_not_sent_late(events: EventRepository) -> None:
    event = await events.create(STAFF, data(WINTER))
    await events.rsvp(event.id, 1, NOW)
    # The bot was down from before the 24-hour mark until one hour before the start.
    due = await events.due_reminders(WINTER - timedelta(hours=1), OFFSETS)
    assert [(user, offset) for _, user, offset in due] == [(1, 120)]


async def test_no_reminders_for_cancelled_events_or_waiting_list(events: EventRepository) -> None:
    full = await events.create(STAFF, data(WINTER, capacity=1))
    await rsvp_all(events, full.id, [1, 2])
    cancelled = await events.create(STAFF, data(WINTER))
    await events.rsvp(cancelled.id, 3, NOW)
    await events.cancel(STAFF, cancelled.id)
    due = await events.due_reminders(WINTER - timedelta(hours=2), OFFSETS)
    assert [(e.id, user) for e, user, _ in due] == [(full.id, 1)]


async def test_a_moved_event_is_reminded_again(events: EventRepository) -> None:
    event = await events.create(STAFF, data(WINTER))
    await events.rsvp(event.id, 1, NOW)
    assert await events.mark_reminded(event.id, 1, DAY, WINTER - timedelta(hours=24))
    week_later = WINTER + timedelta(days=7)
    await events.update(STAFF, event.id, data(week_later))
    due = await events.due_reminders(week_later - timedelta(hours=24), OFFSETS)
    assert [(user, offset) for _, user, offset in due] == [(1, DAY)]


# --- staff input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "2026-12-05 15:00"),
        ("en", "05/12/2026 15:00"),
        ("de", "05.12.2026 15:00"),
        ("de", "5.12.2026, 15:00"),
        ("de", "2026-12-05T15:00"),
    ],
)
def test_parse_when_reads_iso_and_locale_dates(language: str, text: str) -> None:
    start = parse_when(text, translator(language), BERLIN, NOW)
    assert start == WINTER
    assert start.astimezone(BERLIN).hour == 15


def test_parse_when_refuses_the_past_and_unreadable_input() -> None:
    t = translator()
    with pytest.raises(EventInputError, match="The date is in the past"):
        parse_when("2026-11-22 15:00", t, BERLIN, NOW)
    for text in ("tomorrow evening", "2026-12-05", "2026-12-05 25:00", "31.02.2027 10:00"):
        with pytest.raises(EventInputError, match="could not read") as error:
            parse_when(text, t, BERLIN, NOW)
        assert "18:00" in str(error.value)  # an example to copy


def test_parse_when_explains_the_missing_hour_of_the_dst_switch() -> None:
    with pytest.raises(EventInputError, match="does not exist") as error:
        parse_when("2026-03-29 02:30", translator(), BERLIN, datetime(2026, 3, 1, tzinfo=UTC))
    assert "Sunday 29 March" in str(error.value)
    # The doubled hour in autumn means the first one (still summer time).
    autumn = parse_when("2026-10-25 02:30", translator(), BERLIN, datetime(2026, 10, 1, tzinfo=UTC))
    assert autumn == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_parse_end_accepts_a_time_or_a_date_and_time_after_the_start() -> None:
    t = translator()
    assert parse_end("17:00", WINTER, t, BERLIN) == WINTER + timedelta(hours=2)
    assert parse_end("2026-12-06 01:00", WINTER, t, BERLIN) == WINTER + timedelta(hours=10)
    for text in ("14:00", "15:00", "2026-12-04 18:00"):
        with pytest.raises(EventInputError, match="after the start"):
            parse_end(text, WINTER, t, BERLIN)
    with pytest.raises(EventInputError, match="could not read"):
        parse_end("in the evening", WINTER, t, BERLIN)


def test_parse_capacity() -> None:
    t = translator()
    assert parse_capacity(" 30 ", t) == 30
    assert parse_capacity(str(MAX_CAPACITY), t) == MAX_CAPACITY
    for text in ("0", "-3", "thirty", "2.5", "", str(MAX_CAPACITY + 1)):
        with pytest.raises(EventInputError, match="from 1 to 10,000"):
            parse_capacity(text, t)


def test_text_lengths() -> None:
    t = translator()
    assert validate_title("  Repair \n café ", t) == "Repair café"
    assert validate_title("x" * 120, t) == "x" * 120
    with pytest.raises(EventInputError, match="at most 120"):
        validate_title("x" * 121, t)
    with pytest.raises(EventInputError, match="empty"):
        validate_title("   ", t)
    assert validate_place(" Hall  1 ", t) == "Hall 1"
    with pytest.raises(EventInputError):
        validate_place("", t)
    with pytest.raises(EventInputError, match="at most 200"):
        validate_place("x" * 201, t)
    assert validate_description("", t) == ""
    assert validate_description("line 1\nline 2\n", t) == "line 1\nline 2"
    with pytest.raises(EventInputError, match="at most 2000"):
        validate_description("x" * 2001, t)


# --- the card, reminders and calendar files ---------------------------------------------------


def stored(starts_at: datetime = WINTER, **changes: object) -> Event:
    """An event as the repository returns it."""
    event = Event(
        id=7,
        quarter_id=BV,
        title="Repair café",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        place="Nachbarschaftshaus",
        description="Bring what is broken.",
        capacity=5,
        topic_id="neighbourhood",
        created_by=STAFF,
        created_at=NOW,
        updated_at=NOW + timedelta(minutes=3),
        cancelled_at=None,
    )
    return replace(event, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "capacity", "expected"),
    [
        (EventCounts(3, 0), 5, "3 registered · 2 places left"),
        (EventCounts(4, 0), 5, "4 registered · 1 place left"),
        (EventCounts(5, 0), 5, "5 registered · Fully booked – waiting list"),
        (EventCounts(5, 2), 5, "5 registered · Fully booked – waiting list (2 waiting)"),
        (EventCounts(1, 0), None, "1 registered"),
    ],
)
def test_render_event_counts(counts: EventCounts, capacity: int | None, expected: str) -> None:
    event = stored(capacity=capacity)
    card = render_event(event, translator(), "Bahnhofsvorstadt", None, counts, capacity)
    assert card.splitlines()[-1] == "👥 " + expected


def test_render_event_card() -> None:
    card = render_event(
        stored(), translator(), "Bahnhofsvorstadt", "Neighbourhood", EventCounts(3, 0), 5
    )
    assert card.splitlines()[:4] == [
        "Repair café",
        "📅 Saturday 5 December, 15:00–17:00",
        "📍 Nachbarschaftshaus",
        "🏘 Bahnhofsvorstadt · Neighbourhood",
    ]
    assert "Bring what is broken." in card
    overnight = stored(ends_at=WINTER + timedelta(hours=10))
    text = render_event(overnight, translator(), "BV", None, EventCounts(0, 0), None)
    assert "Saturday 5 December, 15:00 – Sunday 6 December, 01:00" in text
    cancelled = render_event(
        stored(cancelled_at=NOW), translator(), "BV", None, EventCounts(3, 0), 5
    )
    assert "cancelled" in cancelled.splitlines()[0] and "registered" not in cancelled
    arabic = render_event(stored(), translator("ar"), "BV", None, EventCounts(3, 0), 5)
    assert f"{FSI}{FSI}" in arabic and f"{PDI}{PDI}" in arabic  # the time range stays in order


def test_render_event_without_end_or_description() -> None:
    event = stored(ends_at=None, description="")
    card = render_event(event, translator(), "BV", None, EventCounts(0, 0), 5)
    assert "📅 Saturday 5 December, 15:00" in card.splitlines()
    assert "\n\n" not in card


@pytest.mark.parametrize(
    ("offset", "phrase"),
    [(DAY, "starts in 24 hours"), (60, "starts in 1 hour"), (30, "starts in 30 minutes")],
)
def test_reminder_text(offset: int, phrase: str) -> None:
    text = reminder_text(stored(), offset, translator(), "Bahnhofsvorstadt")
    assert text == (
        f"Reminder: “Repair café” {phrase} – Saturday 5 December at 15:00, "
        "Nachbarschaftshaus (Bahnhofsvorstadt)."
    )


def parse_ics(raw: bytes) -> tuple[icalendar.Calendar, icalendar.Component]:
    """The calendar and its single event."""
    calendar = icalendar.Calendar.from_ical(raw)
    (vevent,) = calendar.walk("VEVENT")
    return calendar, vevent


@pytest.mark.parametrize(("start", "utc_hour"), [(WINTER, 14), (SUMMER, 13)])
def test_ics_uses_berlin_wall_time_with_vtimezone(start: datetime, utc_hour: int) -> None:
    raw = build_ics(stored(start, ends_at=None), "Bahnhofsvorstadt", "quartier_bot", BERLIN)
    calendar, vevent = parse_ics(raw)
    assert str(calendar["PRODID"]) == "-//quartierbot//Bremen//DE"
    assert str(calendar["VERSION"]) == "2.0"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    dtstart = vevent.decoded("DTSTART")
    assert (dtstart.hour, dtstart.minute) == (15, 0)
    assert dtstart.astimezone(UTC).hour == utc_hour
    assert vevent.decoded("DTEND") - dtstart == timedelta(hours=2)  # default length
    assert f"DTSTART;TZID=Europe/Berlin:{start.astimezone(BERLIN):%Y%m%dT150000}".encode() in raw
    assert str(vevent["UID"]) == "event-7@quartierbot"
    assert str(vevent["SUMMARY"]) == "Repair café"
    assert str(vevent["LOCATION"]) == "Nachbarschaftshaus, Bahnhofsvorstadt"
    link = "https://t.me/quartier_bot?start=ev-7"
    assert str(vevent["DESCRIPTION"]) == f"Bring what is broken.\n\n{link}"
    assert str(vevent["URL"]) == link
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert vevent.decoded("DTSTAMP") == NOW + timedelta(minutes=3)


def test_ics_of_a_cancelled_event_without_bot_username() -> None:
    event = stored(cancelled_at=NOW + timedelta(hours=1), updated_at=NOW + timedelta(hours=1))
    _, vevent = parse_ics(build_ics(event, "BV", None, BERLIN))
    assert str(vevent["STATUS"]) == "CANCELLED"
    assert "URL" not in vevent
    assert str(vevent["DESCRIPTION"]) == "Bring what is broken."
    assert vevent.decoded("DTEND").hour == 17
    assert vevent.decoded("SEQUENCE") == 3600  # later than the first file's 180: replaces it
