"""Staff /closed: parsing, server-side authorisation of commands and buttons, audit log."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bot.repositories import Repositories
from tests.recording import Person, texts


@pytest.fixture
async def german_admin(admin: Person) -> Person:
    """The admin, onboarded in German."""
    await admin.send("/start q-bahnhofsvorstadt")
    await admin.press("Deutsch")
    return admin


async def test_admin_adds_closure_with_iso_dates_and_reason(
    german_admin: Person, repos: Repositories
) -> None:
    calls = await german_admin.send("/closed 2026-12-24 2026-12-31 Weihnachtspause")
    assert texts(calls) == [
        "Gespeichert. Das Quartiersbüro ist geschlossen:\n"
        "24.12.2026 – 31.12.2026, alle Quartiersbüros: Weihnachtspause"
    ]
    (closure,) = await repos.closures.upcoming(date(2026, 11, 23))
    assert (closure.first_day, closure.last_day, closure.quarter_id) == (
        date(2026, 12, 24),
        date(2026, 12, 31),
        None,
    )
    (entry,) = await repos.audit.recent()
    assert (entry.actor_id, entry.action) == (german_admin.user_id, "closure.add")


async def test_admin_uses_locale_dates_and_quarter_scope(
    german_admin: Person, repos: Repositories
) -> None:
    await german_admin.send("/closed 2.12.2026 huenertshagen,bahnhofsvorstadt Fortbildung")
    closures = await repos.closures.upcoming(date(2026, 11, 23))
    assert {(c.quarter_id, c.first_day, c.reason) for c in closures} == {
        ("huenertshagen", date(2026, 12, 2), "Fortbildung"),
        ("bahnhofsvorstadt", date(2026, 12, 2), "Fortbildung"),
    }


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("morgen", "Ich konnte das Datum „morgen“ nicht lesen."),
        ("31.02.2026", "Ich konnte das Datum „31.02.2026“ nicht lesen."),
        ("2026-12-05 2026-12-01", "Das Enddatum liegt vor dem Startdatum."),
        ("2025-01-01", "Diese Schließung liegt ganz in der Vergangenheit."),
        ("2026-12-01 2028-12-01", "Eine Schließung darf höchstens 366 Tage dauern."),
        ("2026-12-01 " + "x" * 201, "Der Grund ist zu lang (höchstens 200 Zeichen)."),
    ],
    ids=["words", "impossible date", "end before start", "past", "too long", "long reason"],
)
async def test_bad_closure_input_explains_and_changes_nothing(
    german_admin: Person, repos: Repositories, argument: str, expected: str
) -> None:
    calls = await german_admin.send(f"/closed {argument}")
    (text,) = texts(calls)
    assert text.startswith(expected), text
    assert "/closed <von>" in text
    assert await repos.closures.upcoming(date(2026, 1, 1)) == []
    assert await repos.audit.recent() == []


async def test_resident_cannot_use_closed_and_attempt_is_audited(
    resident: Person, repos: Repositories
) -> None:
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    calls = await resident.send("/closed 2026-12-24")
    assert texts(calls) == ["Sorry, this command is only for staff."]
    assert await repos.closures.upcoming(date(2026, 1, 1)) == []
    (entry,) = await repos.audit.recent()
    # Who tried it is recorded: a refused staff action is a security record.
    assert (entry.actor_id, entry.action) == (resident.user_id, "closure.add.denied")


async def test_list_and_delete_with_confirmation(german_admin: Person, repos: Repositories) -> None:
    await german_admin.send("/closed 2026-12-24 2026-12-26 Weihnachten")
    await german_admin.send("/closed 2026-12-31")
    calls = await german_admin.send("/closed")
    assert texts(calls) == [
        "Geplante Schließungen:\n"
        "1. 24.12.2026 – 26.12.2026, alle Quartiersbüros: Weihnachten\n"
        "2. 31.12.2026, alle Quartiersbüros"
    ]
    calls = await german_admin.press("1 löschen")
    assert texts(calls)[0].startswith("Diese Schließung löschen?")
    calls = await german_admin.press("Nein")
    assert texts(calls)[0].startswith("Geplante Schließungen:")
    await german_admin.press("1 löschen")
    calls = await german_admin.press("Ja, löschen")
    assert texts(calls) == ["Geplante Schließungen:\n1. 31.12.2026, alle Quartiersbüros"]
    remaining = await repos.closures.upcoming(date(2026, 11, 23))
    assert [c.last_day for c in remaining] == [date(2026, 12, 31)]
    actions = [e.action for e in await repos.audit.recent()]
    assert actions == ["closure.delete", "closure.add", "closure.add"]


async def test_forged_delete_button_from_resident_is_refused(
    resident: Person, repos: Repositories
) -> None:
    closure = await repos.closures.add(900001, date(2026, 12, 24), date(2026, 12, 24), "", None)
    calls = await resident.press_data(resident.old_bot_message(), f"closure:del:{closure.id}")
    (answer,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == "Sorry, this is only for staff."
    assert len(await repos.closures.upcoming(date(2026, 11, 23))) == 1
    assert (await repos.audit.recent())[0].action == "closure.delete.denied"


async def test_double_tap_on_delete_is_harmless(german_admin: Person, repos: Repositories) -> None:
    await german_admin.send("/closed 2026-12-24")
    await german_admin.send("/closed")
    await german_admin.press("1 löschen")
    message, data = german_admin.last_keyboard_message("Ja, löschen")
    await german_admin.press_data(message, data)
    calls = await german_admin.press_data(message, data)
    (answer,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == "Diese Schließung wurde schon gelöscht."


async def test_closed_in_a_group_does_nothing(admin: Person, repos: Repositories) -> None:
    calls = await admin.send("/closed 2026-12-24", chat_id=-100500, chat_type="supergroup")
    assert texts(calls) == []
    assert await repos.closures.upcoming(date(2026, 1, 1)) == []


async def test_a_closure_is_shown_with_the_dates_staff_entered(
    german_admin: Person, resident: Person
) -> None:
    # Monday 30.11. to Sunday 6.12.; the office opens on Mondays and Wednesdays only.
    await german_admin.send("/closed 30.11.2026 6.12.2026 Fortbildung")
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    (hours,) = texts(await resident.send("/hours"))
    assert "Monday 30 November – Sunday 6 December: Fortbildung" in hours


@pytest.mark.parametrize("language", ["English", "Deutsch"])
async def test_the_example_in_the_help_is_accepted_as_it_stands(
    admin: Person, repos: Repositories, language: str
) -> None:
    await admin.send("/start q-bahnhofsvorstadt")
    await admin.press(language)
    (answer,) = texts(await admin.send("/closed soon"))
    example = re.search(r"(/closed \d\S* \d\S* [^\n]+)", answer)
    assert example is not None, answer
    (saved,) = texts(await admin.send(example[1]))
    assert saved.startswith(("Saved.", "Gespeichert."))
    (closure,) = await repos.closures.upcoming(date(2026, 11, 23))
    assert closure.first_day.day > 12 and closure.first_day > date(2026, 11, 23)  # the clock


async def test_two_closures_around_a_weekend_both_stay_visible(
    german_admin: Person, resident: Person
) -> None:
    await german_admin.send("/closed 30.11.2026 4.12.2026")
    await german_admin.send("/closed 7.12.2026 11.12.2026")
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    (hours,) = texts(await resident.send("/hours"))
    assert "Monday 30 November – Friday 11 December: Office closed" in hours
