"""Chaos end to end: kill -9, Telegram outages and flood limits against the real bot process.

Each scenario asserts its invariant and, afterwards, that the database passes PRAGMA
integrity_check, that the process log has no traceback, no token and no resident's text.
The CI variants are short; QUARTIERBOT_CHAOS=long runs bigger ones.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_CONFIG
from tests.e2e import BotProcess, Chat, seed_broadcast
from tests.fakebotapi import FakeBotApi, FakeUser

LONG = os.environ.get("QUARTIERBOT_CHAOS") == "long"
REFERENCE = re.compile(r"\b(BV-\d{4})\b")


def report(scenario: str, **figures: object) -> None:
    """Print a scenario's measured figures (visible with `pytest -s tests/test_chaos.py`)."""
    print(f"\nchaos figures — {scenario}: {json.dumps(figures)}")


CHAOS_CONFIG = (
    TEST_CONFIG
    + """
[broadcast]
rate_per_second = 400
allow_paid_broadcast = true
"""
)
# Normal (unpaid) broadcasting at Telegram's rate: one send in flight at a time.
STANDARD_CONFIG = (
    TEST_CONFIG
    + """
[broadcast]
rate_per_second = 30
"""
)


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    """The loopback fake Bot API."""
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def bot(api: FakeBotApi, tmp_path: Path) -> Iterator[BotProcess]:
    """A (not yet started) bot process; afterwards the database and the log are checked."""
    config = tmp_path / "config.toml"
    config.write_text(CHAOS_CONFIG, encoding="utf-8")
    process = BotProcess(api, config, tmp_path / "bot.log")
    yield process
    if process.proc is not None:
        assert process.stop() == 0, process.log[-3000:]
    log = process.log
    assert "Traceback" not in log, log[-5000:]
    assert api.token not in log and api.token.split(":")[1] not in log
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def database(bot: BotProcess) -> Path:
    """The bot's SQLite file."""
    return bot.config.parent / "bot.sqlite3"


def kill_repeatedly(
    bot: BotProcess, times: int, rng: random.Random, lo: float, hi: float
) -> threading.Thread:
    """In the background: wait a random moment, kill -9, restart; `times` times."""

    def crash() -> None:
        for _ in range(times):
            time.sleep(rng.uniform(lo, hi))
            bot.kill()
            bot.start()

    thread = threading.Thread(target=crash, name="killer", daemon=True)
    thread.start()
    return thread


def submit_concern(chat: Chat, text: str) -> None:
    """A resident's whole concern, pressing buttons by their data (robust to repeats)."""
    chat.say("/start q-bahnhofsvorstadt")
    chat.press("English")
    chat.say("/concern")
    chat.press("Safety")
    chat.say(text)
    chat.press("Yes, you may write to me")
    chat.press("I agree")
    chat.press("Submit")


def test_kill9_while_residents_submit_concerns(api: FakeBotApi, bot: BotProcess) -> None:
    rng = random.Random(4711)
    residents = 12 if LONG else 5
    crashes = 6 if LONG else 3
    bot.start()
    killer = kill_repeatedly(bot, crashes, rng, 0.4, 2.0)
    secrets = {}
    for n in range(residents):
        user = FakeUser(id=780000 + n, first_name="R", language_code="en")
        secrets[user.id] = f"Lamp {n} broken, SECRET-{n:03d}"
        submit_concern(Chat(api, user), secrets[user.id])
    killer.join(timeout=120)
    api.wait_idle(timeout=30)

    # Every reference a resident was told is stored once and exported; none stored twice.
    with sqlite3.connect(database(bot)) as conn:
        stored = conn.execute("SELECT resident_id, reference, text FROM concerns").fetchall()
    per_resident = Counter(resident for resident, _, _ in stored)
    told = {
        user_id: {
            m for msg in api.sent_messages(user_id) for m in REFERENCE.findall(msg.get("text", ""))
        }
        for user_id in secrets
    }
    for user_id, references in told.items():
        assert per_resident[user_id] <= 1, f"{user_id} stored twice"
        for reference in references:
            assert (user_id, reference, secrets[user_id]) in stored
    assert all(told.values()), f"some residents never got a reference: {told}"
    export = bot.config.parent / "export.csv"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "export", "--config", str(bot.config), "--out", str(export)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    exported = export.read_text(encoding="utf-8-sig")
    for references in told.values():
        for reference in references:
            assert reference in exported
    for secret in secrets.values():
        assert secret not in bot.log  # no resident text in the logs
    report(
        "concerns under kill -9",
        **{
            "residents": residents,
            "crashes": crashes,
            "stored": len(stored),
            "references told": sum(len(r) for r in told.values()),
        },
    )


def broadcast_status(bot: BotProcess) -> str:
    """Status of broadcast #1, read from the database like any other process may."""
    with sqlite3.connect(database(bot)) as conn:
        row = conn.execute("SELECT status FROM broadcasts WHERE id = 1").fetchone()
    return str(row[0]) if row else ""


def wait_for_broadcast(bot: BotProcess, timeout: float) -> None:
    """Until broadcast #1 is done."""
    deadline = time.monotonic() + timeout
    while broadcast_status(bot) != "done":
        assert time.monotonic() < deadline, f"broadcast not done: {broadcast_status(bot)}"
        time.sleep(0.25)


def deliveries_per_chat(api: FakeBotApi, text: str) -> Counter[int]:
    """How often the fake Telegram accepted the broadcast text per chat."""
    return Counter(
        int(call.params["chat_id"])
        for call in api.calls_to("sendMessage")
        if call.params.get("text") == text and call.response.get("ok")
    )


def test_kill9_during_a_broadcast_repeats_at_most_one_message_per_crash(
    api: FakeBotApi, bot: BotProcess
) -> None:
    bot.config.write_text(STANDARD_CONFIG, encoding="utf-8")
    recipients = 3000 if LONG else 600
    crashes = 5 if LONG else 3
    ids = seed_broadcast(bot, recipients)
    bot.start()
    killer = kill_repeatedly(bot, crashes, random.Random(815), 2.0, 4.0)
    killer.join(timeout=300)
    wait_for_broadcast(bot, timeout=300)
    per_chat = deliveries_per_chat(api, "Straßenfest am Samstag!")
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    assert [i for i in ids if per_chat[i] == 0] == []
    # Each send is recorded before the next starts: a crash repeats at most the one in flight.
    assert duplicates <= crashes
    report(
        "broadcast under kill -9 (30/s, one in flight)",
        recipients=recipients,
        crashes=crashes,
        delivered=len(per_chat),
        duplicates=duplicates,
    )


def test_kill9_during_a_paid_broadcast_loses_nobody(api: FakeBotApi, bot: BotProcess) -> None:
    recipients = 5000 if LONG else 1500
    crashes = 3 if LONG else 2
    ids = seed_broadcast(bot, recipients)
    bot.start()
    killer = kill_repeatedly(bot, crashes, random.Random(816), 1.0, 2.0)
    killer.join(timeout=120)
    wait_for_broadcast(bot, timeout=120)
    per_chat = deliveries_per_chat(api, "Straßenfest am Samstag!")
    missing = [i for i in ids if per_chat[i] == 0]
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    assert missing == []
    # At 400/s sends must overlap: a crash can repeat what was sent but not yet recorded,
    # at most max_in_flight (50) plus one claimed batch (at most 50 rows).
    assert duplicates <= crashes * (50 + 50)
    report(
        "paid broadcast under kill -9 (400/s, 50 in flight)",
        recipients=recipients,
        crashes=crashes,
        delivered=len(per_chat),
        duplicates=duplicates,
    )


def test_outage_then_catch_up(api: FakeBotApi, bot: BotProcess) -> None:
    bot.start()
    resident = FakeUser(id=790001, language_code="en")
    failures = 6 if LONG else 3
    api.fail_next("getUpdates", 502, "Bad Gateway", times=failures)
    api.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    started = time.monotonic()
    cursor = api.cursor()
    api.push_message(resident, "/hours bahnhofsvorstadt")
    reply = api.wait_for_message(resident.id, after=cursor, timeout=90)
    assert "Quarter office Bahnhofsvorstadt" in reply["text"]
    assert bot.proc is not None and bot.proc.poll() is None  # kept running
    # Then Telegram hangs: answers come later than the bot's timeout, and it retries.
    api.set_delay("sendMessage", 6.0)
    cursor = api.cursor()
    api.push_message(resident, "/help")
    time.sleep(7.0)
    api.set_delay("sendMessage", 0.0)
    reply = api.wait_for_message(resident.id, after=cursor, timeout=60)
    assert "/hours" in reply["text"]
    report(
        "5xx outage",
        **{
            "failed getUpdates": failures,
            "failed sends": 2,
            "timed-out sends": "≥1 (6 s delay)",
            "answered after s": round(time.monotonic() - started, 1),
        },
    )


def test_broadcast_into_a_429_storm(api: FakeBotApi, bot: BotProcess) -> None:
    recipients = 1000 if LONG else 600  # long enough to outlast a slow answer on a busy machine
    ids = seed_broadcast(bot, recipients)
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, times=25)
    bot.start()
    resident = FakeUser(id=790002, language_code="en")
    cursor = api.cursor()
    api.push_message(resident, "/start")
    # Answered while the broadcast and the flood limit go on (the reply waits out the 429s).
    answer = api.wait_for_message(resident.id, after=cursor, timeout=90)
    assert answer["text"] == "Hello! Please choose your language."
    assert broadcast_status(bot) == "sending"
    wait_for_broadcast(bot, timeout=120)
    per_chat = deliveries_per_chat(api, "Straßenfest am Samstag!")
    assert [i for i in ids if per_chat[i] == 0] == []
    throttled = [c for c in api.calls_to("sendMessage") if c.response.get("error_code") == 429]
    report(
        "429 storm",
        **{
            "recipients": recipients,
            "429 answers": len(throttled),
            "delivered": len(per_chat),
            "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        },
    )
