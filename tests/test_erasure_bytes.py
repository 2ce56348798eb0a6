"""After /deleteme, the person's id, names and username are in none of the database's files."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TEST_CONFIG
from tests.e2e import BotProcess, Chat
from tests.fakebotapi import FakeBotApi, FakeUser


def database_bytes(directory: Path) -> bytes:
    """The database file with its write-ahead log and shared-memory index, as on the disk."""
    return b"".join(
        path.read_bytes()
        for path in sorted(directory.glob("bot.sqlite3*"))
        if path.suffix != ".heartbeat" and path.is_file()
    )


def test_nothing_of_the_person_is_left_in_the_files_after_deleteme(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    person = FakeUser(
        id=781235, first_name="Dragomira-Xq", last_name="Petrova-Yz", username="dragomira_xq_7"
    )
    traces = [str(person.id), "Dragomira-Xq", "Petrova-Yz", "dragomira_xq_7"]
    with FakeBotApi() as api:
        bot = BotProcess(api, config, tmp_path / "bot.log")
        bot.start()
        chat = Chat(api, person)
        chat.say("/start q-bahnhofsvorstadt")
        chat.press("English")
        chat.say("/subscribe bahnhofsvorstadt")
        chat.say("/concern")
        chat.press("Health")
        chat.say("My neighbour Dragomira-Xq needs help with the stairs.")
        chat.press("Yes, you may write to me")
        chat.press("I agree")
        chat.press("Submit")
        before = database_bytes(tmp_path)
        assert any(trace.encode() in before for trace in traces)  # the test can see them
        chat.say("/deleteme")
        chat.press("Yes, delete my data")
        # While the bot runs on, and after it stopped.
        live = database_bytes(tmp_path)
        assert bot.stop() == 0
        stopped = database_bytes(tmp_path)
    for trace in traces:
        assert trace.encode() not in live, trace
        assert trace.encode() not in stopped, trace
