"""End to end: the real `quartierbot run` process against the loopback fake Bot API.

Residents and staff are scripted through the fake server exactly as Telegram would deliver their
messages; the bot reaches it through TELEGRAM_API_BASE_URL like any self-hosted Bot API server.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_ID, GROUP_ID, TEST_CONFIG
from tests.e2e import BotProcess, Chat, sent_keyboard, texts
from tests.fakebotapi import FakeBotApi, FakeUser

ROOT = Path(__file__).resolve().parent.parent
ADMIN = FakeUser(id=ADMIN_ID, first_name="Iris", language_code="de")

CONFIG = TEST_CONFIG
# Names and texts residents send in these scenarios; none may show up in the process log.
PRIVATE_WORDS = (
    "Ayşe",
    "Olena",
    "Jan",
    "street lamp",
    "Hello?",
    "Wir haben die Stadt",
    "Winterpause",
)


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    """The loopback fake Bot API."""
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def bot(api: FakeBotApi, tmp_path: Path) -> Iterator[BotProcess]:
    """The running bot; afterwards: clean exit, no traceback, no token, intact database."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    process = BotProcess(api, config, tmp_path / "bot.log")
    process.start()
    yield process
    if process.proc is not None:
        assert process.stop() == 0, process.log
    assert "Traceback" not in process.log, process.log
    assert api.token not in process.log
    # At INFO the log holds no resident's name or message text.
    for private in PRIVATE_WORDS:
        assert private not in process.log, private
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_resident_in_english(api: FakeBotApi, bot: BotProcess) -> None:
    chat = Chat(api, FakeUser(id=710001, first_name="Ayşe", language_code="en"))
    assert "Hello! Please choose your language." in texts(chat.say("/start"))
    assert "Which quarter do you live in?" in texts(chat.press("English"))
    welcome = texts(chat.press("Bahnhofsvorstadt"))
    assert "Welcome! This bot connects you with the quarter office of Bahnhofsvorstadt." in welcome
    assert sent_keyboard(api, 710001) == [
        "🕒 Office hours",
        "📅 Events",
        "📝 Report a concern",
        "📋 My concerns",
        "⚙️ Settings",
        "❓ Help",
    ]

    hours = texts(chat.say("/hours"))
    assert "Quarter office Bahnhofsvorstadt" in hours
    assert "📍 Teststraße 1, 28195 Bremen" in hours
    assert ("🟢 Open now" in hours) != ("🔴 Closed" in hours)
    assert "Monday: 10:00–13:00, 14:00–16:00" in hours and "Sunday: closed" in hours
    assert "Quarter office Bahnhofsvorstadt" in texts(chat.say("🕒 Office hours"))
    assert "Wednesday: 14:00–17:00" in texts(chat.say("/hours huenertshagen"))
    assert "I don't know the quarter “x”" in texts(chat.say("/hours x"))

    chat.say("/quarter")
    assert "Your quarter is now Hünertshagen." in texts(chat.press("Hünertshagen"))
    assert "Your quarter is now Bahnhofsvorstadt." in texts(chat.say("/quarter bahnhofsvorstadt"))
    assert "I don't know the language “xx”" in texts(chat.say("/language xx"))

    privacy = texts(chat.say("/privacy"))
    assert "Hans-Wendt-Stiftung" in privacy and "Your rights" in privacy
    assert "/hours — Office hours and address" in texts(chat.say("/help"))
    assert "I don't know the command /nope" in texts(chat.say("/nope"))
    # Free text is offered to the office as a question (declined here).
    assert "the quarter office can" in texts(chat.say("Hello?"))
    assert "Cancelled. Nothing was sent." in texts(chat.press("No, thanks"))
    assert "Welcome back!" in texts(chat.say("/start"))

    # The command menu was published for each language and as a default.
    assert [c["command"] for c in api.commands(None, "en")][:2] == ["start", "hours"]
    assert api.commands(None, "en")[1]["description"] == "Office hours and address"
    assert api.commands(None, "de")[1]["description"] == "Öffnungszeiten und Adresse"
    assert api.commands(None, "")[1]["description"] == "Öffnungszeiten und Adresse"


def test_resident_in_german_from_a_poster(api: FakeBotApi, bot: BotProcess) -> None:
    chat = Chat(api, FakeUser(id=710002, first_name="Jan", language_code="de"))
    assert "Hallo! Bitte wählen Sie Ihre Sprache." in texts(chat.say("/start q-huenertshagen"))
    welcome = texts(chat.press("Deutsch"))
    assert "Willkommen! Dieser Bot verbindet Sie mit dem Quartiersbüro Hünertshagen." in welcome
    assert "Welches Quartier" not in welcome
    assert "🕒 Öffnungszeiten" in sent_keyboard(api, 710002)
    hours = texts(chat.say("/hours"))
    assert "Mittwoch: 14:00–17:00" in hours and "Montag: geschlossen" in hours
    assert "Datenschutz" in texts(chat.say("/privacy"))
    # The confirmation already speaks the newly chosen language.
    assert "Done. I will write to you in English." in texts(chat.say("/language en"))
    assert "Fertig. Ich schreibe Ihnen ab jetzt auf Deutsch." in texts(chat.say("/language de"))


def test_staff_closure_and_restart_keeps_everything(api: FakeBotApi, bot: BotProcess) -> None:
    staff = Chat(api, ADMIN)
    staff.say("/start q-bahnhofsvorstadt")
    staff.press("Deutsch")
    admin_menu = [c["command"] for c in api.commands({"type": "chat", "chat_id": ADMIN.id}, "")]
    assert {"closed", "staff", "concerns", "export"} <= set(admin_menu)
    saved = texts(staff.say("/closed 2030-12-23 2030-12-27 Winterpause"))
    assert "Gespeichert." in saved and "23.12.2030 – 27.12.2030" in saved

    resident = Chat(api, FakeUser(id=710003, language_code="en"))
    resident.say("/start q-bahnhofsvorstadt")
    resident.press("English")
    assert "Sorry, this command is only for staff." in texts(resident.say("/closed 2030-12-01"))

    assert bot.stop() == 0
    bot.start()
    assert "Welcome back!" in texts(resident.say("/start"))
    listing = texts(staff.say("/closed"))
    assert "1. 23.12.2030 – 27.12.2030, alle Quartiersbüros: Winterpause" in listing
    staff.press("1 löschen")
    assert "Es sind keine Schließungen geplant." in texts(staff.press("Ja, löschen"))


def test_concern_round_trip_between_resident_and_staff_group(
    api: FakeBotApi, bot: BotProcess
) -> None:
    resident = Chat(api, FakeUser(id=710004, first_name="Olena", language_code="en"))
    resident.say("/start q-bahnhofsvorstadt")
    resident.press("English")
    resident.say("📝 Report a concern")
    resident.press("Safety")
    resident.say("The street lamp at the school has been broken for weeks.")
    resident.press("Yes, you may write to me")
    resident.press("I agree")
    confirmation = texts(resident.press("Submit"))
    assert "Your concern has the number BV-0001." in confirmation

    post = api.wait_for_message(GROUP_ID, lambda m: "Anliegen BV-0001" in m.get("text", ""))
    assert "Thema: Sicherheit" in post["text"] and "710004" not in str(post)

    cursor = api.cursor()
    api.push_callback(ADMIN, post, api.find_button(post, "In Bearbeitung"))
    notice = api.wait_for_message(710004, after=cursor)
    assert "BV-0001" in notice["text"] and "“in progress”" in notice["text"]
    edited = api.wait_for_message(GROUP_ID, lambda m: "gesetzt von Iris" in m["text"], after=cursor)
    assert edited["message_id"] == post["message_id"]

    cursor = api.cursor()
    api.push_message(
        ADMIN,
        "Wir haben die Stadt informiert.",
        chat_id=GROUP_ID,
        reply_to_message_id=post["message_id"],
    )
    relayed = api.wait_for_message(710004, after=cursor)
    assert "Wir haben die Stadt informiert." in relayed["text"]
    api.wait_idle()

    listing = texts(resident.say("/myconcerns"))
    assert "BV-0001 · Safety · " in listing and "in progress" in listing


def test_health_check_follows_the_poller(api: FakeBotApi, bot: BotProcess) -> None:
    import subprocess
    import sys

    def health() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "health", "--config", str(bot.config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    Chat(api, FakeUser(id=710009, language_code="en")).say("/help")  # at least one poll done
    healthy = health()
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy")
    assert bot.stop() == 0
    stale = subprocess.run(
        [sys.executable, "-m", "bot", "health", "--config", str(bot.config), "--max-age", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stale.returncode == 1 and "unhealthy" in stale.stderr
