"""/subscribe, /unsubscribe, /stop, topic choice and the settings menu."""

from __future__ import annotations

from bot.repositories import Repositories
from tests.recording import Person, texts


async def onboard(person: Person) -> None:
    """Start via the Bahnhofsvorstadt poster in English."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press("English")


async def test_news_offer_after_onboarding_subscribes_with_one_tap(
    resident: Person, repos: Repositories
) -> None:
    await onboard(resident)
    assert await repos.subscriptions.quarters_of(resident.user_id) == frozenset()
    calls = await resident.press("Yes, send me news")
    assert texts(calls) == ["You get news from: Bahnhofsvorstadt. Topics: all topics."]
    assert await repos.subscriptions.quarters_of(resident.user_id) == {"bahnhofsvorstadt"}


async def test_subscribe_with_arguments_and_unknown_quarter(
    resident: Person, repos: Repositories
) -> None:
    await onboard(resident)
    calls = await resident.send("/subscribe huenertshagen")
    assert texts(calls) == ["You get news from: Hünertshagen. Topics: all topics."]
    calls = await resident.send("/subscribe all")
    assert texts(calls) == [
        "You get news from: Bahnhofsvorstadt and Hünertshagen. Topics: all topics."
    ]
    calls = await resident.send("/subscribe atlantis")
    assert texts(calls)[0].startswith("I don't know the quarter “atlantis”.")
    calls = await resident.send("/unsubscribe bahnhofsvorstadt")
    assert texts(calls) == ["You get news from: Hünertshagen. Topics: all topics."]
    await resident.send("/unsubscribe all")
    assert await repos.subscriptions.quarters_of(resident.user_id) == frozenset()


async def test_toggles_and_topics(resident: Person, repos: Repositories) -> None:
    await onboard(resident)
    await resident.send("/subscribe")
    calls = await resident.press("Hünertshagen")
    keyboard = calls[-1].params["reply_markup"]["inline_keyboard"]
    assert keyboard[1][0]["text"] == "✅ Hünertshagen"
    await resident.press("Topics")
    await resident.press("Health")
    await resident.press("Education")
    calls = await resident.press("Health")  # off again
    assert await repos.subscriptions.topics_of(resident.user_id) == {"education"}
    calls = await resident.press("Done")
    assert texts(calls) == ["You get news from: Hünertshagen. Topics: Education."]
    await resident.send("/subscribe")
    await resident.press("Topics")
    await resident.press("All topics")
    assert await repos.subscriptions.topics_of(resident.user_id) == frozenset()


async def test_stop_ends_everything_in_one_step(resident: Person, repos: Repositories) -> None:
    await onboard(resident)
    await resident.send("/subscribe all")
    await repos.subscriptions.set_topics(resident.user_id, ["health"])
    calls = await resident.send("/stop")
    assert texts(calls) == [
        "Done. You will not get any news any more. Send /subscribe to start again."
    ]
    assert await repos.subscriptions.quarters_of(resident.user_id) == frozenset()
    assert await repos.subscriptions.topics_of(resident.user_id) == frozenset()


async def test_settings_shows_choices_and_changes_them(resident: Person) -> None:
    await onboard(resident)
    await resident.send("/subscribe bahnhofsvorstadt")
    calls = await resident.send("⚙️ Settings")
    assert texts(calls) == [
        "Your settings\n\nLanguage: English\nQuarter: Bahnhofsvorstadt\n"
        "You get news from: Bahnhofsvorstadt. Topics: all topics."
    ]
    calls = await resident.press("News")
    assert texts(calls)[0].startswith("Which quarters do you want news from?")
    await resident.send("/settings")
    calls = await resident.press("Language")
    assert texts(calls) == ["Please choose your language."]
    await resident.send("/settings")
    calls = await resident.press("Privacy")
    assert "<b>Your rights</b>" in texts(calls)[0]
