"""/help, /privacy, unknown input, groups, the error handler, and the published command menus."""

from __future__ import annotations

import pytest
from telegram import Update

from bot.commands import (
    ADMIN_COMMANDS,
    OFFICER_COMMANDS,
    RESIDENT_COMMANDS,
    publish_command_menus,
)
from bot.context import QuartierApplication
from bot.repositories import Repositories
from tests.conftest import ADMIN_ID
from tests.recording import Person, RecordingRequest, message_update, reply_keyboard, texts, toasts


async def onboard(person: Person, language: str = "English") -> None:
    """Start via a poster link and pick a language."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press(language)


async def test_help_lists_commands_in_the_residents_language(resident: Person) -> None:
    await onboard(resident, "Deutsch")
    (text,) = texts(await resident.send("/help"))
    assert "/hours — Öffnungszeiten und Adresse" in text
    assert "/closed" not in text


async def test_help_shows_staff_commands_to_admins(admin: Person) -> None:
    await onboard(admin)
    (text,) = texts(await admin.send("/help"))
    assert "/closed — " in text


async def test_privacy_names_controller_contact_storage_and_rights(resident: Person) -> None:
    await onboard(resident)
    (text,) = texts(await resident.send("/privacy"))
    assert "Hans-Wendt-Stiftung, Grohner Straße 45, 28217 Bremen" in text
    assert "datenschutz@example.org" in text
    for heading in ("What we store", "Why", "How long", "Your rights"):
        assert f"<b>{heading}</b>" in text
    (german,) = texts(await resident.send("/language de") and await resident.send("/privacy"))
    assert "<b>Ihre Rechte</b>" in german


async def test_unknown_command_and_free_text_point_to_the_menu(resident: Person) -> None:
    await onboard(resident)
    calls = await resident.send("/frobnicate now")
    assert texts(calls) == [
        "I don't know the command /frobnicate. Use the buttons below or send /help."
    ]
    assert "🕒 Office hours" in reply_keyboard(calls)
    calls = await resident.send("hello, is anybody there?")  # offered to the office instead
    assert texts(calls)[0].startswith("I cannot answer that myself, but the quarter office can.")
    await resident.press("No, thanks")
    calls = await resident.process(
        message_update(
            resident.user_id,
            "",
            extra={
                "sticker": {
                    "file_id": "s",
                    "file_unique_id": "s",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            },
        )
    )
    assert texts(calls)[0].startswith("I did not understand that.")


async def test_strangers_are_sent_to_start(resident: Person, repos: Repositories) -> None:
    calls = await resident.send("hi")
    assert texts(calls) == ["Hello! Send /start to begin."]
    calls = await resident.send("/nope")
    assert texts(calls) == ["I don't know the command /nope. Send /start to begin."]
    # Writing to the bot without /start stores nothing about the person.
    assert await repos.residents.get(resident.user_id) is None


async def test_group_messages_are_ignored(resident: Person) -> None:
    for text in ("/start", "/hours", "hello", "/nope"):
        calls = await resident.send(text, chat_id=-100777, chat_type="supergroup")
        assert calls == []


async def test_stale_button_gets_a_polite_notice(resident: Person) -> None:
    calls = await resident.press_data(resident.old_bot_message(), "something:old")
    assert toasts(calls) == ["This button is no longer active."]


async def test_unexpected_error_apologises_without_crashing(
    app: tuple[QuartierApplication, RecordingRequest],
    resident: Person,
    repos: Repositories,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await onboard(resident)

    def broken() -> object:
        raise RuntimeError("clock broke")

    repos.clock = broken  # type: ignore[assignment]
    calls = await resident.send("/hours")
    assert texts(calls) == ["Sorry, something went wrong. Please try again in a moment."]
    assert "RuntimeError" in caplog.text
    assert len(texts(calls)) == 1  # no later handler ran on a half-identified update


async def test_command_menus_for_every_language_and_each_admin(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    await repos.residents.set_language(ADMIN_ID, "en")
    await publish_command_menus(application.bot, repos)
    calls = request.of("setMyCommands")
    by_key = {(c.params.get("language_code"), str(c.params.get("scope"))): c for c in calls}
    default = by_key[(None, "None")]
    assert [c["command"] for c in default.params["commands"]] == [n for n, _ in RESIDENT_COMMANDS]
    assert default.params["commands"][1]["description"] == "Öffnungszeiten und Adresse"
    english = by_key[("en", "None")]
    assert english.params["commands"][1]["description"] == "Office hours and address"
    assert ("de", "None") in by_key
    (staff,) = [c for c in calls if c.params.get("scope")]
    assert staff.params["scope"] == {"type": "chat", "chat_id": ADMIN_ID}
    names = [c["command"] for c in staff.params["commands"]]
    assert names == [n for n, _ in RESIDENT_COMMANDS + OFFICER_COMMANDS + ADMIN_COMMANDS]
    assert staff.params["commands"][-1]["description"] == "Staff: manage quarter officers"


async def test_identify_ignores_updates_without_user(
    app: tuple[QuartierApplication, RecordingRequest],
) -> None:
    application, request = app
    raw = {
        "update_id": 1,
        "channel_post": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": -1001, "type": "channel"},
            "text": "/start",
        },
    }
    await application.process_update(Update.de_json(raw, application.bot))
    assert request.of("sendMessage") == []
