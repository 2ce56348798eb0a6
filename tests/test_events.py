"""Events through the real handlers: staff creation, RSVP with waiting list, calendar, reminders."""

from __future__ import annotations

import asyncio
import gettext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.i18n import Translator
from bot.jobs import send_due_reminders
from bot.repositories import Repositories
from handlers.common import render_card
from storage.events import EventCounts, EventInput
from tests.conftest import ADMIN_ID
from tests.recording import Call, Person, running_app, texts, toasts

EN = Translator("en", gettext.NullTranslations(), ZoneInfo("Europe/Berlin"))

OFFICER = 800001


@pytest.fixture
async def officer(admin: Person, repos: Repositories) -> Person:
    """An English-speaking officer of the Bahnhofsvorstadt."""
    await repos.officers.assign(ADMIN_ID, OFFICER, ["bahnhofsvorstadt"])
    return Person(admin.app, admin.request, OFFICER, "en", first_name="Iris")


def resident_named(admin: Person, user_id: int, lang: str = "en") -> Person:
    """Another resident in the same test application."""
    return Person(admin.app, admin.request, user_id, lang)


async def onboard(person: Person, language: str = "English") -> None:
    """Start via the Bahnhofsvorstadt poster."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press(language)


async def create_event(officer: Person, capacity: str | None = "2") -> list[Call]:
    """The whole guided creation, up to and including Save."""
    await officer.send("/event_new")
    await officer.send("Street festival")
    await officer.send("2026-12-05 15:00")
    await officer.send("18:00")
    await officer.send("Bahnhofsplatz")
    await officer.press("Skip")  # description
    if capacity is None:
        await officer.press("Skip")
    else:
        await officer.send(capacity)
    await officer.press("Leisure and meeting")
    return await officer.press("Save")


async def test_staff_creates_an_event_with_preview(officer: Person, repos: Repositories) -> None:
    calls = await officer.send("/event_new")
    assert texts(calls) == ["What is the event called?"]  # one quarter: no quarter question
    await officer.send("Street festival")
    calls = await officer.send("2026-01-01 10:00")
    assert texts(calls)[0].startswith("The date is in the past.")
    await officer.send("2026-12-05 15:00")
    calls = await officer.send("14:00")
    assert "after the start" in texts(calls)[0]
    await officer.send("18:00")
    await officer.send("Bahnhofsplatz")
    await officer.send("Music, food and games for children.")
    calls = await officer.send("none")
    assert texts(calls)[0].startswith("Please send the number of places as a whole number")
    await officer.send("2")
    calls = await officer.press("Leisure and meeting")
    preview = texts(calls)[-1]
    assert preview.startswith("Preview:\n\nStreet festival")
    assert "Saturday 5 December" in preview and "15:00" in preview and "Bahnhofsplatz" in preview
    calls = await officer.press("Save")
    assert texts(calls) == [
        "Saved as event #1. Change it with /event_edit 1, cancel it with /event_cancel 1."
    ]
    # Nobody follows the quarter yet: announcing would reach no one, so it is not offered.
    assert "evann:" not in str([c.params.get("reply_markup") for c in calls])
    event = await repos.events.get(1)
    assert event is not None and event.capacity == 2 and event.topic_id == "leisure"
    assert event.starts_at == datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
    assert await repos.staff_drafts.get(OFFICER) is None
    (entry, *_) = await repos.audit.recent()
    assert (entry.actor_id, entry.action) == (OFFICER, "event.create")


async def test_rsvp_waiting_list_and_promotion(officer: Person, repos: Repositories) -> None:
    await create_event(officer, capacity="2")
    people = [resident_named(officer, 700100 + n) for n in range(3)]
    for person in people:
        await onboard(person)
    calls = await people[0].send("/events")
    assert "Street festival" in texts(calls)[0] and "2 places left" in texts(calls)[0]
    assert toasts(await people[0].press("I'll come")) == ["You are registered. See you there!"]
    await people[1].send("📅 Events")
    await people[1].press("I'll come")
    await people[2].send("/events")
    calls = await people[2].press("Join the waiting list")  # said on the button of a full event
    assert toasts(calls)[0].startswith("The event is fully booked. You are on the waiting list")
    assert "You are on the waiting list." in texts(calls)[0]
    calls = await people[0].press("I can't come any more")
    assert texts(calls)[-1].startswith("Give up your place for “Street festival”?")
    assert await repos.events.rsvp_state(1, people[0].user_id) == "going"  # asked first
    calls = await people[0].press("Yes, I can't come")
    promoted = [c for c in calls if str(c.params.get("chat_id")) == str(people[2].user_id)]
    assert promoted[0].params["text"].startswith("Good news: a place became free")
    assert await repos.events.rsvp_state(1, people[2].user_id) == "going"
    assert await repos.events.rsvp_state(1, people[0].user_id) is None


async def test_calendar_file_and_deep_link(officer: Person) -> None:
    await create_event(officer)
    person = resident_named(officer, 700200)
    await onboard(person)
    await person.send("/events")
    calls = await person.press("Add to calendar")
    (_document,) = [c for c in calls if c.method == "sendDocument"]
    name, content = person.request.files[
        (person.user_id, max(mid for (cid, mid) in person.request.files if cid == person.user_id))
    ]
    assert name == "event-1.ics"
    calendar = icalendar.Calendar.from_ical(content)
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Street festival"
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert vevent.decoded("DTSTART").hour == 15
    assert "start=ev-1" in str(vevent["URL"])
    calls = await person.send("/start ev-1")
    assert texts(calls)[0].startswith("Street festival")


async def test_edit_cannot_go_below_registrations_and_cancel_tells_everyone(
    officer: Person, repos: Repositories
) -> None:
    await create_event(officer, capacity="2")
    people = [resident_named(officer, 700300 + n, lang) for n, lang in enumerate(("en", "de"))]
    for person, language in zip(people, ("English", "Deutsch"), strict=True):
        await onboard(person, language)
        await person.send("/events")
        await person.press("I'll come" if person.lang == "en" else "Ich komme")
    await officer.send("/event_edit 1")
    await officer.press("Places")
    await officer.send("1")
    calls = await officer.press("Save")
    assert texts(calls) == [
        "2 people have already registered: the number of places cannot be lower."
    ]
    event = await repos.events.get(1)
    assert event is not None and event.capacity == 2

    calls = await officer.send("/event_cancel 1")
    assert texts(calls) == ["Cancel “Street festival”? 2 registered people will be told."]
    calls = await officer.press("Yes, cancel the event")
    told = {str(c.params["chat_id"]): c.params["text"] for c in calls if c.method == "sendMessage"}
    assert told[str(people[0].user_id)].startswith("Sorry: “Street festival”")
    assert told[str(people[1].user_id)].startswith("Leider")
    assert "Cancelled. 2 people were told." in texts(calls)


async def test_event_staff_commands_are_refused_to_others(
    officer: Person, repos: Repositories, admin: Person
) -> None:
    await create_event(officer)
    person = resident_named(officer, 700400)
    await onboard(person)
    assert texts(await person.send("/event_new")) == ["Sorry, this command is only for staff."]
    await repos.officers.assign(ADMIN_ID, 800009, ["huenertshagen"])
    other = Person(officer.app, officer.request, 800009, "en")
    assert texts(await other.send("/event_cancel 1")) == [
        "You are not responsible for this quarter."
    ]
    calls = await other.press_data(other.old_bot_message(), "evx:1")
    assert toasts(calls) == ["Sorry, this is only for staff."]
    event = await repos.events.get(1)
    assert event is not None and not event.is_cancelled


async def test_reminders_are_sent_once_even_across_a_restart(
    repos: Repositories, config: object
) -> None:
    async with running_app(repos) as (app, request):
        await repos.officers.assign(ADMIN_ID, OFFICER, ["bahnhofsvorstadt"])
        officer = Person(app, request, OFFICER, "en")
        await create_event(officer, capacity=None)
        person = Person(app, request, 700500, "de")
        await onboard(person, "Deutsch")
        await person.send("/events")
        await person.press("Ich komme")
        start = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
        repos.clock = lambda: start - timedelta(hours=23, minutes=59)
        assert await send_due_reminders(app.bot, repos) == 1
        reminder = request.to_chat(700500)[-1].params["text"]
        assert reminder.startswith("Erinnerung") and "24 Stunden" in reminder
        # Plans change: the reminder frees the place in one tap.
        markup = request.to_chat(700500)[-1].params["reply_markup"]
        assert markup["inline_keyboard"][0][0]["callback_data"] == "ev:no:1"
        assert await send_due_reminders(app.bot, repos) == 0
    fresh = Repositories.create(repos.config)
    fresh.clock = lambda: start - timedelta(hours=23)
    async with running_app(fresh) as (app, request):
        assert await send_due_reminders(app.bot, fresh) == 0
        fresh.clock = lambda: start - timedelta(hours=1, minutes=50)
        assert await send_due_reminders(app.bot, fresh) == 1
        assert "2 Stunden" in request.to_chat(700500)[-1].params["text"]


async def test_announce_now_sends_each_subscriber_the_card_in_their_language(
    officer: Person, repos: Repositories
) -> None:
    for user_id, language in ((700600, "en"), (700601, "de")):
        await repos.residents.set_language(user_id, language)
        await repos.residents.set_quarter(user_id, "bahnhofsvorstadt")
        await repos.subscriptions.subscribe(user_id, ["bahnhofsvorstadt"])
    await repos.subscriptions.set_topics(700601, ["leisure"])
    await create_event(officer)
    calls = await officer.press("Announce now")
    assert texts(calls) == ["Sending broadcast #1. You see the progress here."]
    assert officer.app.broadcaster is not None
    for _ in range(200):
        if not officer.app.broadcaster.running():
            break
        await asyncio.sleep(0.05)
    english = officer.request.to_chat(700600)[-1].params
    german = officer.request.to_chat(700601)[-1].params
    assert english["text"].startswith("📣 New event\n\nStreet festival")
    assert german["text"].startswith("📣 Neue Veranstaltung\n\nStreet festival")
    assert "5. Dezember, 15:00–18:00" in german["text"]
    buttons = [
        b["callback_data"] for row in english["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert buttons == ["ev:go:1", "ev:ics:1"]


async def test_several_events_come_as_one_list_that_opens_cards(
    officer: Person, repos: Repositories
) -> None:
    await create_event(officer)
    await repos.events.create(
        OFFICER,
        EventInput(
            quarter_id="bahnhofsvorstadt",
            title="Repair café",
            starts_at=datetime(2026, 12, 2, 16, 0, tzinfo=UTC),
            ends_at=None,
            place="Nachbarschaftshaus",
            description="",
            capacity=None,
            topic_id=None,
        ),
    )
    person = resident_named(officer, 700600)
    await onboard(person)
    calls = await person.send("/events")
    # One message for both (a chat takes about one message a second), soonest first.
    [listing] = texts(calls)
    assert listing.startswith("📅 Coming events in your quarters\n\n1. Repair café\n")
    assert "2. Street festival\n📅 Saturday 5 December, 15:00–18:00" in listing
    labels = [
        b["text"]
        for row in person.last_message_to()["reply_markup"]["inline_keyboard"]
        for b in row
    ]
    assert labels == ["1. Repair café", "2. Street festival"]
    # A tap turns the list into the card, with a way back.
    calls = await person.press("2. Street festival")
    assert texts(calls)[0].startswith("Street festival\n📅 Saturday 5 December")
    calls = await person.press("I'll come")
    assert toasts(calls) == ["You are registered. See you there!"]
    assert "You are registered." in texts(calls)[0]
    calls = await person.press("All events")  # the button survived the RSVP
    [listing] = texts(calls)
    assert (
        "2. Street festival\n📅 Saturday 5 December, 15:00–18:00\n📍 Bahnhofsplatz\n"
        "✅ You are registered." in listing
    )
    # A card opened without the list (deep link) has no button back.
    calls = await person.send("/start ev-1")
    assert "All events" not in str(calls[-1].params.get("reply_markup"))


async def test_a_cancelled_event_offers_no_calendar_file_and_far_events_show_the_year(
    officer: Person, repos: Repositories
) -> None:
    await create_event(officer)
    event = await repos.events.get(1)
    assert event is not None
    reader = resident_named(officer, 700300)
    await onboard(reader)
    await reader.send("/events")
    assert "Add to calendar" in str(reader.last_message_to()["reply_markup"])
    far = event.starts_at.replace(year=event.starts_at.year + 2)
    text, _ = render_card(replace(event, starts_at=far), EventCounts(0, 0), None, "BV", None, EN)
    assert str(far.year) in text  # not just "Saturday 5 December"
    near, _ = render_card(event, EventCounts(0, 0), None, "BV", None, EN)
    assert str(event.starts_at.year) not in near.split("\n")[1]
    cancelled = replace(event, cancelled_at=event.starts_at)
    _, keyboard = render_card(cancelled, EventCounts(0, 0), None, "BV", None, EN)
    assert "ev:ics" not in str(keyboard.to_dict()) and "ev:go" not in str(keyboard.to_dict())


async def test_edit_and_cancel_without_a_number_list_the_coming_events(
    officer: Person, repos: Repositories
) -> None:
    await create_event(officer)
    for command, expected in (
        ("/event_edit", "What would you like to change?"),
        ("/event_cancel", "Cancel “Street festival”?"),
    ):
        calls = await officer.send(command)
        assert texts(calls) == ["Which event?"]
        assert "#1 · Saturday 5 December · Street festival" in str(calls[-1].params["reply_markup"])
        calls = await officer.press("Street festival")
        assert texts(calls)[-1].startswith(expected)


async def test_a_new_time_reaches_the_registered_with_a_calendar_file(
    officer: Person, repos: Repositories
) -> None:
    await create_event(officer, capacity="2")
    person = resident_named(officer, 700400, "en")
    await onboard(person, "English")
    await person.send("/events")
    await person.press("I'll come")
    await officer.send("/event_edit 1")
    await officer.press("Start")
    await officer.send("2026-12-06 16:00")
    calls = await officer.press("Save")
    (notice,) = [c for c in calls if c.method == "sendDocument" and c.params["chat_id"] == 700400]
    assert str(notice.params["caption"]).startswith(
        "“Street festival” has changed: it is now on Sunday 6 December at 16:00, at Bahnhofsplatz."
    )
    (_, content) = person.request.files[
        (700400, max(mid for (cid, mid) in person.request.files if cid == 700400))
    ]
    event = icalendar.Calendar.from_ical(content).walk("VEVENT")[0]
    # The same UID as the file from the card: calendars replace the entry.
    assert event.decoded("dtstart").hour == 16 and str(event["uid"]) == "event-1@quartierbot"
    # A change of the title alone is not worth a message.
    await officer.send("/event_edit 1")
    await officer.press("Title")
    await officer.send("Street party")
    calls = await officer.press("Save")
    assert not [c for c in calls if c.params.get("chat_id") == 700400]


async def test_an_event_longer_than_a_day_is_confirmed_first(
    officer: Person, repos: Repositories
) -> None:
    await officer.send("/event_new")
    await officer.send("Street festival")
    await officer.send("2026-12-05 15:00")
    calls = await officer.send("2026-12-08 18:00")  # a typo for 05.12.?
    assert texts(calls)[-1].startswith("This event would last 3 days, until")
    calls = await officer.press("No, change the end")
    draft = await repos.staff_drafts.get(OFFICER)
    assert draft is not None and draft.step == "end" and draft.data["ends_at"] is None
    await officer.send("2026-12-07 18:00")
    await officer.press("Yes, it lasts that long")
    draft = await repos.staff_drafts.get(OFFICER)
    assert draft is not None and draft.step == "place"
    assert draft.data["ends_at"].startswith("2026-12-07T17:00")
