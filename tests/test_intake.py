"""At-least-once intake: the inbox, redelivery, and updates left over from a crash."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import build_application
from bot.context import QuartierApplication
from bot.repositories import Repositories
from bot.runner import run_until_stopped
from storage.db import utc_now
from storage.inbox import InboxRepository
from tests.fakebotapi import FakeBotApi, FakeUser

RESIDENT = FakeUser(id=770001, first_name="Ana", language_code="en")


@pytest.fixture
def api() -> AsyncIterator[FakeBotApi]:
    """The loopback fake Bot API."""
    with FakeBotApi() as server:
        yield server  # type: ignore[misc]


async def start_bot(
    repos: Repositories, api: FakeBotApi
) -> tuple[asyncio.Task[None], asyncio.Event]:
    """The real application with durable polling against the fake API, in this event loop."""
    app: QuartierApplication = build_application(
        repos, api.token, base_url=api.base_url, base_file_url=api.base_file_url
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_until_stopped(app, stop))
    # The poller removes any webhook right before its first getUpdates.
    for _ in range(200):
        if api.calls_to("deleteWebhook"):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    return task, stop


async def test_inbox_repository(repos: Repositories) -> None:
    await repos.db.open()
    inbox = InboxRepository(repos.db)
    assert await inbox.store([(5, '{"a": 1}'), (6, '{"b": 2}')]) == 2
    assert await inbox.store([(6, '{"b": 2}'), (7, "{}")]) == 1  # 6 was redelivered
    assert [i for i, _ in await inbox.pending()] == [5, 6, 7]
    await inbox.mark_handled(5)
    assert [i for i, _ in await inbox.pending()] == [6, 7]
    row = await repos.db.fetchone("SELECT payload FROM inbox WHERE update_id = 5")
    assert row is not None and row[0] is None  # the content is gone once handled
    assert await inbox.last_update_id() == 7
    await inbox.mark_handled(6)
    await inbox.mark_handled(7)
    assert await inbox.purge(utc_now() + timedelta(days=2)) == 2
    assert await inbox.last_update_id() == 7  # the newest id stays as the next offset
    await repos.db.close()


async def test_redelivered_update_is_handled_once(repos: Repositories, api: FakeBotApi) -> None:
    task, stop = await start_bot(repos, api)
    update = {
        "update_id": 900,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": RESIDENT.id, "type": "private"},
            "from": {
                "id": RESIDENT.id,
                "is_bot": False,
                "first_name": "Ana",
                "language_code": "en",
            },
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    api.push_update(json.loads(json.dumps(update)))
    await api.wait_for_message_async(RESIDENT.id, timeout=10)
    api.push_update(json.loads(json.dumps(update)))  # Telegram sends it again
    await asyncio.sleep(1.0)
    stop.set()
    await task
    assert len(api.sent_messages(RESIDENT.id)) == 1


async def test_updates_stored_before_a_crash_are_handled_after_restart(
    repos: Repositories, api: FakeBotApi
) -> None:
    # The previous process stored this update, then died before handling it.
    await repos.db.open()
    payload = {
        "update_id": 41,
        "message": {
            "message_id": 3,
            "date": 1,
            "chat": {"id": RESIDENT.id, "type": "private"},
            "from": {
                "id": RESIDENT.id,
                "is_bot": False,
                "first_name": "Ana",
                "language_code": "en",
            },
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    await InboxRepository(repos.db).store([(41, json.dumps(payload))])
    await repos.db.close()
    task, stop = await start_bot(repos, api)
    reply = await api.wait_for_message_async(RESIDENT.id, timeout=10)
    assert reply["text"] == "Hello! Please choose your language."
    # Polling goes on after the stored update: a new message is answered too.
    cursor = api.cursor()
    api.push_message(RESIDENT, "/help")
    answer = await api.wait_for_message_async(RESIDENT.id, after=cursor, timeout=10)
    assert "/hours" in answer["text"]
    stop.set()
    await task
    await repos.db.open()
    assert await InboxRepository(repos.db).pending() == []
    await repos.db.close()
