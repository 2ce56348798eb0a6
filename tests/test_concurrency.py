"""No resident waits for another: the real bot process against the loopback fake Bot API.

Each scenario prints its figures (run with `pytest -s tests/test_concurrency.py`); the assertions
are behavioural bounds far from the values measured (a reply waiting for somebody else's 25 s
flood limit would miss them by seconds), not timing goals: those belong to the benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.config import load_config
from bot.repositories import Repositories
from storage.events import EventInput
from storage.outbox import enqueue
from tests.conftest import ADMIN_ID, GROUP_ID, TEST_CONFIG
from tests.e2e import BotProcess, Chat, seed_broadcast
from tests.fakebotapi import FakeBotApi, FakeUser


def report(scenario: str, **figures: object) -> None:
    """Print a scenario's measured figures."""
    print(f"\nfigures — {scenario}: {json.dumps(figures)}")


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    """The loopback fake Bot API."""
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def bot(api: FakeBotApi, tmp_path: Path) -> Iterator[BotProcess]:
    """A (not yet started) bot; afterwards its log holds no traceback and the file is intact."""
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    process = BotProcess(api, config, tmp_path / "bot.log")
    yield process
    if process.proc is not None:
        assert process.stop() == 0, process.log[-3000:]
    assert "Traceback" not in process.log, process.log[-5000:]
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def seed(bot: BotProcess, work: object) -> object:
    """Run `work(repos)` against the bot's database before the bot starts."""

    async def run() -> object:
        repos = Repositories.create(load_config(bot.config))
        await repos.db.open()
        try:
            return await work(repos)  # type: ignore[operator]
        finally:
            await repos.db.close()

    return asyncio.run(run())


def onboard(chat: Chat) -> None:
    """/start from the poster's link, English."""
    chat.say("/start q-bahnhofsvorstadt")
    chat.press("English")


def say(api: FakeBotApi, user: FakeUser, text: str) -> dict[str, object]:
    """Send a message; the bot's first answer (without waiting for the bot to be idle)."""
    cursor = api.cursor()
    api.push_message(user, text)
    return api.wait_for_message(user.id, after=cursor, timeout=30)


def press(api: FakeBotApi, user: FakeUser, label: str) -> dict[str, object]:
    """Tap the newest button with this label; the bot's first answer or edit."""
    for message in reversed(api.sent_messages(user.id)):
        try:
            data = api.find_button(message, label)
        except AssertionError:
            continue
        cursor = api.cursor()
        api.push_callback(user, message, data)
        return api.wait_for_message(user.id, after=cursor, timeout=30)
    raise AssertionError(f"no button {label!r}")


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def test_one_resident_waits_for_nobody_else(api: FakeBotApi, bot: BotProcess) -> None:
    seed_broadcast(bot, 1000)
    # (a) The staff group answers every post with 429, retry after 25 s.
    api.flood_chat(GROUP_ID, retry_after=25)
    bot.start()
    flooder, patient = FakeUser(id=780001), FakeUser(id=780002)
    for user in (flooder, patient):
        say(api, user, "/start q-bahnhofsvorstadt")
        press(api, user, "English")
    say(api, flooder, "/concern")
    press(api, flooder, "Safety")
    say(api, flooder, "The street lamp at the corner is broken.")
    press(api, flooder, "Yes, you may write to me")
    press(api, flooder, "I agree")
    receipt = press(api, flooder, "Submit")
    # Told at once; the staff-group post waits in the outbox.
    assert "BV-0001" in str(receipt["text"])
    # (b) Resident A sends 200 messages as fast as possible, (c) the broadcast is running.
    for number in range(200):
        api.push_message(flooder, f"/hours q-{number:03d}")
    latencies = []
    for _ in range(20):
        cursor = api.cursor()
        began = time.monotonic()
        api.push_message(patient, "/help")
        api.wait_for_message(patient.id, after=cursor, timeout=30)
        latencies.append(time.monotonic() - began)
        time.sleep(0.2)
    with sqlite3.connect(bot.config.parent / "bot.sqlite3") as conn:
        (status,) = conn.execute("SELECT status FROM broadcasts WHERE id = 1").fetchone()
    report(
        "resident B during a group flood, a flooding resident and a broadcast",
        p50_seconds=round(percentile(latencies, 0.5), 3),
        p99_seconds=round(percentile(latencies, 0.99), 3),
        max_seconds=round(max(latencies), 3),
        broadcast=status,
    )
    assert status == "sending"  # the broadcast ran all the while
    # Far below the 25 s of the group's flood limit and the time A's 200 messages take.
    assert max(latencies) < 5.0
    # A's messages are all answered, in the order they were sent.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answered = re.findall(
            r"q-(\d{3})", " ".join(m["text"] for m in api.sent_messages(flooder.id))
        )
        if len(set(answered)) == 200:
            break
        time.sleep(0.2)
    first_seen = list(dict.fromkeys(int(n) for n in answered))
    assert first_seen == list(range(200))
    # Once the flood is over, the concern reaches the staff group (once).
    api.unblock_user(GROUP_ID)
    post = api.wait_for_message(GROUP_ID, timeout=60)
    assert "BV-0001" in post["text"]


def test_one_residents_quick_messages_keep_their_order_across_a_kill9(
    api: FakeBotApi, bot: BotProcess
) -> None:
    bot.start()
    resident = FakeUser(id=780101)
    chat = Chat(api, resident)
    onboard(chat)
    for number in range(50):
        api.push_message(resident, f"/hours q-{number:02d}")
    # Kill in the middle of them; Telegram holds what the bot had not confirmed.
    deadline = time.monotonic() + 30
    while len(api.sent_messages(resident.id)) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    bot.kill()
    bot.start()
    deadline = time.monotonic() + 60
    answered: list[str] = []
    while time.monotonic() < deadline:
        answered = re.findall(
            r"q-(\d\d)", " ".join(m["text"] for m in api.sent_messages(resident.id))
        )
        if len(set(answered)) == 50:
            break
        time.sleep(0.1)
    first_seen = list(dict.fromkeys(int(n) for n in answered))
    report("50 quick messages and a kill -9", answers=len(answered), repeated=len(answered) - 50)
    assert first_seen == list(range(50))  # none lost, in order (one may come twice)
    assert len(answered) - 50 <= 1


def test_the_outbox_delivers_everything_after_a_kill9(api: FakeBotApi, bot: BotProcess) -> None:
    residents = list(range(5_100_000, 5_100_100))

    async def hundred_waiting(repos: Repositories) -> None:
        now = "2026-01-01T00:00:00Z"
        await repos.db.executemany(
            "INSERT INTO residents (user_id, language, quarter_id, first_seen, last_seen) "
            "VALUES (?, 'de', 'bahnhofsvorstadt', ?, ?)",
            [(i, now, now) for i in residents],
        )
        event = await repos.events.create(
            ADMIN_ID,
            EventInput(
                quarter_id="bahnhofsvorstadt",
                title="Straßenfest",
                starts_at=datetime(2030, 6, 1, 12, 0, tzinfo=UTC),
                ends_at=None,
                place="Bahnhofsplatz",
                description="",
                capacity=None,
                topic_id=None,
            ),
        )
        async with repos.db.transaction() as conn:
            for user_id in residents:
                await enqueue(conn, user_id, "event_cancelled", event_id=event.id)

    seed(bot, hundred_waiting)
    api.set_delay("sendMessage", 0.05)  # slow enough that the kill finds messages in flight
    bot.start()
    crashes = 2
    for _ in range(crashes):
        deadline = time.monotonic() + 30
        target = len(api.calls_to("sendMessage")) + 15
        while len(api.calls_to("sendMessage")) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        bot.kill()
        bot.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        delivered = {r: len(api.sent_messages(r)) for r in residents}
        if all(delivered.values()):
            break
        time.sleep(0.2)
    duplicates = sum(n - 1 for n in delivered.values())
    report("outbox of 100 and two kill -9", delivered=len(delivered), duplicates=duplicates)
    assert [r for r, n in delivered.items() if n == 0] == []
    assert duplicates <= crashes  # at most the one message on its way per crash
    with sqlite3.connect(bot.config.parent / "bot.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_webhook_bot(api: FakeBotApi, bot: BotProcess, port: int) -> subprocess.Popen[bytes]:
    """`quartierbot run --webhook-url …`, up once it registered its webhook."""
    api.webhook = {}
    env = {**api.bot_env(), "QUARTIERBOT_WEBHOOK_SECRET": "s3cret-Token_1"}
    with bot.log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot",
                "run",
                "--config",
                str(bot.config),
                "--webhook-url",
                "https://example.org/quartierbot",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=bot.config.parent,
        )
    deadline = time.monotonic() + 30
    while not api.webhook and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.webhook.get("secret_token") == "s3cret-Token_1"
    return proc


def test_webhook_update_answered_200_survives_a_kill9(api: FakeBotApi, bot: BotProcess) -> None:
    port = free_port()
    proc = start_webhook_bot(api, bot, port)
    update = {
        "update_id": 4242,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": 780201, "type": "private"},
            "from": {"id": 780201, "is_bot": False, "first_name": "Ana", "language_code": "en"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    # Telegram's answer would take a while: the kill comes after the 200, before the answer.
    api.set_delay("sendMessage", 5)
    response = httpx.post(
        f"http://127.0.0.1:{port}/quartierbot",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"},
        timeout=10,
    )
    assert response.status_code == 200
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert api.sent_messages(780201) == []
    api.set_delay("sendMessage", 0)
    proc = start_webhook_bot(api, bot, port)
    try:
        answer = api.wait_for_message(780201, timeout=30)
        assert answer["text"] == "Hello! Please choose your language."
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
