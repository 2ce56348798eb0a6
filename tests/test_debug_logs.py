"""Even at DEBUG, the log of the real process holds no message text, name or username."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TEST_CONFIG
from tests.e2e import BotProcess, Chat
from tests.fakebotapi import FakeBotApi, FakeUser

MARKER = "Zxq-Gesundheit-7731 Schimmel bei Frau Mustermann"


def test_a_debug_log_holds_no_resident_text_name_or_username(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    resident = FakeUser(
        id=781234, first_name="Ayşe-Qwert", last_name="Yilmaz-Zuv", username="ayse_qwert_91"
    )
    with FakeBotApi() as api:
        bot = BotProcess(api, config, tmp_path / "bot.log")
        bot.debug = True
        bot.start()
        chat = Chat(api, resident)
        chat.say("/start q-bahnhofsvorstadt")
        chat.press("English")
        chat.say("/concern")
        chat.press("Safety")
        chat.say(MARKER)
        chat.press("Yes, you may write to me")
        chat.press("I agree")
        chat.press("Submit")
        assert bot.stop() == 0
    log = bot.log
    assert " DEBUG " in log  # the level was really DEBUG
    for personal in (MARKER, "Zxq-Gesundheit", "Ayşe-Qwert", "Yilmaz-Zuv", "ayse_qwert_91"):
        assert personal not in log, personal
