"""Resident flows through the real handlers: onboarding, language and quarter changes."""

from __future__ import annotations

import pytest

from bot.repositories import Repositories
from tests.recording import Person, reply_keyboard, texts


async def test_new_resident_picks_language_then_quarter_and_gets_menu(
    resident: Person, repos: Repositories
) -> None:
    calls = await resident.send("/start")
    assert texts(calls) == ["Hello! Please choose your language."]
    keyboard = calls[-1].params["reply_markup"]["inline_keyboard"]
    labels = [b["text"] for row in keyboard for b in row]
    assert labels == ["Deutsch", "English"]

    calls = await resident.press("Deutsch")
    assert "Sprache: Deutsch" in texts(calls)
    assert any("In welchem Quartier wohnen Sie?" in t for t in texts(calls))

    calls = await resident.press("Bahnhofsvorstadt")
    assert "Quartier: Bahnhofsvorstadt" in texts(calls)
    welcome, offer = texts(calls)[-2:]
    assert welcome.startswith("Willkommen!") and "Bahnhofsvorstadt" in welcome
    assert (
        # The config says how "in <quarter>" reads in German: with its article.
        offer == "Möchten Sie Neuigkeiten zu Veranstaltungen und Änderungen in der "
        "Bahnhofsvorstadt bekommen?"
    )
    assert "🕒 Öffnungszeiten" in reply_keyboard(calls)

    stored = await repos.residents.get(resident.user_id)
    assert (
        stored is not None and stored.language == "de" and stored.quarter_id == "bahnhofsvorstadt"
    )
    # A quarter without one is named without an article.
    calls = await resident.send("/quarter huenertshagen")
    assert texts(calls)[-1] == (
        "Möchten Sie Neuigkeiten zu Veranstaltungen und Änderungen im Quartier Hünertshagen "
        "bekommen?"
    )


async def test_returning_resident_gets_welcome_back(resident: Person) -> None:
    await resident.send("/start")
    await resident.press("English")
    await resident.press("Hünertshagen")
    calls = await resident.send("/start")
    assert texts(calls) == ["Welcome back! How can we help you? Choose an option below."]
    assert "🕒 Office hours" in reply_keyboard(calls)


async def test_deep_link_sets_quarter_and_skips_the_question(
    resident: Person, repos: Repositories
) -> None:
    await resident.send("/start q-huenertshagen")
    calls = await resident.press("English")
    assert not any("Which quarter" in t for t in texts(calls))
    assert "Hünertshagen" in texts(calls)[-1]
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.quarter_id == "huenertshagen"


async def test_unknown_deep_link_is_ignored_politely(resident: Person, repos: Repositories) -> None:
    calls = await resident.send("/start q-atlantis")
    assert texts(calls) == ["Hello! Please choose your language."]
    await resident.press("English")
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.quarter_id is None


async def test_deep_link_for_another_quarter_moves_a_returning_resident(resident: Person) -> None:
    await resident.send("/start q-huenertshagen")
    await resident.press("English")
    calls = await resident.send("/start q-bahnhofsvorstadt")
    assert texts(calls) == [
        "Your quarter is now Bahnhofsvorstadt. You can change it with /quarter."
    ]


async def test_language_with_argument_and_unknown_code(
    resident: Person, repos: Repositories
) -> None:
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    calls = await resident.send("/language xx")
    assert texts(calls) == [
        "I don't know the language “xx”. Available: de (Deutsch) and en (English)."
    ]
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.language == "en"

    calls = await resident.send("/language de")
    assert texts(calls) == ["Fertig. Ich schreibe Ihnen ab jetzt auf Deutsch."]
    assert "🕒 Öffnungszeiten" in reply_keyboard(calls)


async def test_quarter_command_with_argument_buttons_and_unknown_id(
    resident: Person, repos: Repositories
) -> None:
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    calls = await resident.send("/quarter atlantis")
    assert texts(calls)[0].startswith("I don't know the quarter “atlantis”. Available:")
    assert "bahnhofsvorstadt (Bahnhofsvorstadt)" in texts(calls)[0]

    calls = await resident.send("/quarter huenertshagen")
    assert texts(calls)[0] == "Your quarter is now Hünertshagen."

    await resident.send("/quarter")
    calls = await resident.press("Bahnhofsvorstadt")
    assert "Your quarter is now Bahnhofsvorstadt." in texts(calls)
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.quarter_id == "bahnhofsvorstadt"


async def test_menu_buttons_work_in_the_residents_language(resident: Person) -> None:
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("Deutsch")
    calls = await resident.send("🌐 Sprache")
    assert texts(calls) == ["Bitte wählen Sie Ihre Sprache."]
    calls = await resident.send("🕒 Öffnungszeiten")
    assert "Bahnhofsvorstadt" in texts(calls)[0]


async def test_forged_language_button_changes_nothing(
    resident: Person, repos: Repositories
) -> None:
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    calls = await resident.press_data(resident.old_bot_message(), "lang:xx")
    answer = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer and answer[0].params["text"] == "This choice is not available any more."
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.language == "en"


@pytest.mark.parametrize(
    "name", ["Hünertshagen", "huenertshagen", "HUNERTSHAGEN", " hünertshagen "]
)
async def test_hours_and_quarter_take_the_name_as_people_type_it(
    resident: Person, repos: Repositories, name: str
) -> None:
    await resident.send("/start")
    await resident.press("English")
    (hours,) = texts(await resident.send(f"/hours {name}"))
    assert "Teststraße 3, 28777 Bremen" in hours  # Hünertshagen's office
    await resident.send(f"/quarter {name}")
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.quarter_id == "huenertshagen"


@pytest.mark.parametrize("name", ["Deutsch", "deutsch", "German", "de", "DE"])
async def test_language_takes_a_name_in_any_offered_language(
    resident: Person, repos: Repositories, name: str
) -> None:
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    await resident.send(f"/language {name}")
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.language == "de"


async def test_an_unknown_language_name_is_explained(resident: Person) -> None:
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    (answer,) = texts(await resident.send("/language Klingon"))
    assert answer.startswith("I don't know the language “Klingon”. Available: de (Deutsch)")


async def test_news_can_be_declined_and_a_new_home_quarter_offers_its_own(
    resident: Person, repos: Repositories
) -> None:
    await resident.send("/start q-bahnhofsvorstadt")
    await resident.press("English")
    (declined,) = texts(await resident.press("No, thanks"))
    assert declined == "All right, no news. /subscribe switches them on at any time."
    assert await repos.subscriptions.quarters_of(resident.user_id) == set()
    calls = await resident.send("/quarter huenertshagen")
    assert texts(calls)[-1] == "Would you like news about events and changes in Hünertshagen?"
    await resident.press("🔔 Yes, send me news")
    assert await repos.subscriptions.quarters_of(resident.user_id) == {"huenertshagen"}
    # A quarter whose news they already follow: nothing offered.
    calls = await resident.send("/quarter huenertshagen")
    assert texts(calls) == ["Your quarter is now Hünertshagen."]
