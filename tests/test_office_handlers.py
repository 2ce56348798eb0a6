"""/hours through the real handlers, with the clock pinned to interesting moments."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.repositories import Repositories
from tests.recording import Person, texts


async def onboard(
    person: Person, language: str = "English", quarter: str = "bahnhofsvorstadt"
) -> None:
    """Start via a poster link and pick a language."""
    await person.send(f"/start q-{quarter}")
    await person.press(language)


async def test_hours_open_now_in_english(resident: Person) -> None:
    await onboard(resident)
    calls = await resident.send("/hours")
    (text,) = texts(calls)
    assert calls[-1].params["parse_mode"] == "HTML"
    assert "<b>Quarter office Bahnhofsvorstadt</b>" in text
    assert "📍 Teststraße 1, 28195 Bremen" in text
    assert "🟢 Open now, until 13:00" in text
    assert "Monday: 10:00–13:00, 14:00–16:00" in text
    assert "Tuesday: closed" in text
    assert "Wednesday: 10:00–13:00" in text


async def test_hours_in_german_with_german_day_names(resident: Person) -> None:
    await onboard(resident, "Deutsch")
    (text,) = texts(await resident.send("/hours"))
    assert "Jetzt geöffnet, bis 13:00 Uhr" in text
    assert "Montag: 10:00–13:00, 14:00–16:00" in text
    assert "Dienstag: geschlossen" in text


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), "🔴 Closed — opens today at 14:00"),
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), "🔴 Closed — opens Wednesday at 10:00"),
        (datetime(2026, 11, 24, 8, 0, tzinfo=UTC), "🔴 Closed — opens tomorrow at 10:00"),
        (datetime(2026, 11, 25, 9, 0, tzinfo=UTC), "🟢 Open now, until 13:00"),
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), "🔴 Closed — opens Monday at 10:00"),
    ],
    ids=["lunch break", "monday evening", "tuesday morning", "wednesday opening", "after last"],
)
async def test_hours_state_at_various_moments(
    resident: Person, repos: Repositories, utc: datetime, expected: str
) -> None:
    await onboard(resident)
    repos.clock = lambda: utc
    (text,) = texts(await resident.send("/hours"))
    assert expected in text


async def test_holidays_close_the_office_and_are_listed(
    resident: Person, repos: Repositories
) -> None:
    await onboard(resident)
    # Wednesday 2026-12-23, after closing: Christmas and Boxing Day are listed; next opening is
    # Monday 28th, as the 25th/26th fall on Friday/Saturday when the office is closed anyway.
    repos.clock = lambda: datetime(2026, 12, 23, 13, 0, tzinfo=UTC)
    (text,) = texts(await resident.send("/hours"))
    assert "opens Monday at 10:00" in text
    # Wednesday 2026-12-30 after closing → Friday 1 Jan is a holiday but the office is closed then.
    repos.clock = lambda: datetime(2026, 12, 29, 9, 0, tzinfo=UTC)
    (text,) = texts(await resident.send("/hours"))
    assert "opens tomorrow at 10:00" in text


async def test_staff_closure_is_counted_and_listed(resident: Person, repos: Repositories) -> None:
    await onboard(resident)
    await repos.closures.add(1, date(2026, 11, 23), date(2026, 11, 25), "Team day", None)
    (text,) = texts(await resident.send("/hours"))
    assert "🔴 Closed — opens on Monday 30 November at 10:00" in text
    assert "<b>Closed on these days</b>" in text
    assert "Monday 23 November – Wednesday 25 November: Team day" in text


async def test_hours_for_another_quarter_and_unknown_quarter(resident: Person) -> None:
    await onboard(resident)
    (text,) = texts(await resident.send("/hours huenertshagen"))
    assert "Quarter office Hünertshagen" in text
    assert "Wednesday: 14:00–17:00" in text
    calls = await resident.send("/hours atlantis")
    assert texts(calls)[0].startswith("I don't know the quarter “atlantis”")


async def test_hours_without_a_home_quarter_asks_with_buttons(resident: Person) -> None:
    calls = await resident.send("/hours")
    assert texts(calls) == ["Which quarter office do you mean?"]
    calls = await resident.press("Hünertshagen")
    assert "Quarter office Hünertshagen" in texts(calls)[0]


async def test_hours_menu_button(resident: Person) -> None:
    await onboard(resident)
    (text,) = texts(await resident.send("🕒 Office hours"))
    assert "Quarter office Bahnhofsvorstadt" in text
