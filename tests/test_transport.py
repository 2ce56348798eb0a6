"""aiohttp under python-telegram-bot (paid broadcasts), against the loopback fake Bot API."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.app import build_application
from bot.config import load_config
from bot.repositories import Repositories
from bot.transport import REPLY_CONNECTIONS, AiohttpRequest
from tests.conftest import TEST_CONFIG
from tests.fakebotapi import FakeBotApi, FakeUser, UploadedFile

RESIDENT = FakeUser(4242, "Aylin", language_code="tr")


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    """The loopback fake Bot API."""
    with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[ExtBot[None]]:
    """A bot that talks to the fake through AiohttpRequest."""
    request = AiohttpRequest(connections=4, read_timeout=2.0)
    bot: ExtBot[None] = ExtBot(
        api.token, base_url=api.base_url, base_file_url=api.base_file_url, request=request
    )
    await bot.initialize()
    yield bot
    await bot.shutdown()


async def test_messages_and_uploads_arrive(api: FakeBotApi, bot: ExtBot[None]) -> None:
    api.push_message(RESIDENT, "/start")  # the chat exists once the resident wrote
    sent = await bot.send_message(RESIDENT.id, "Sokak şenliği <b>Cumartesi</b>!", parse_mode="HTML")
    assert sent.message_id > 0 and sent.chat.id == RESIDENT.id
    assert api.sent_messages(RESIDENT.id)[-1]["text"] == "Sokak şenliği Cumartesi!"
    document = await bot.send_document(
        RESIDENT.id, io.BytesIO(b"BEGIN:VCALENDAR\r\n"), filename="event-1.ics", caption="ics"
    )
    assert document.document is not None and document.document.file_name == "event-1.ics"
    (upload,) = [c for c in api.calls_to("sendDocument")]
    uploaded = upload.params["document"]
    assert isinstance(uploaded, UploadedFile)
    assert (uploaded.filename, uploaded.content) == ("event-1.ics", b"BEGIN:VCALENDAR\r\n")


async def test_telegram_errors_keep_their_meaning(api: FakeBotApi, bot: ExtBot[None]) -> None:
    api.push_message(RESIDENT, "/start")
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(RESIDENT.id, "x")
    assert flood.value.retry_after.total_seconds() == 3  # type: ignore[union-attr]
    api.block_user(RESIDENT.id)
    with pytest.raises(Forbidden):
        await bot.send_message(RESIDENT.id, "x")
    api.set_chat_not_found(RESIDENT.id)
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(RESIDENT.id, "x")


async def test_lost_connections_and_slow_answers_become_network_errors(
    api: FakeBotApi, bot: ExtBot[None]
) -> None:
    api.push_message(RESIDENT, "/start")
    api.drop_next("sendMessage")
    with pytest.raises(NetworkError) as dropped:
        await bot.send_message(RESIDENT.id, "x")
    assert "aiohttp." in str(dropped.value)
    api.set_delay("sendMessage", 1.0)
    with pytest.raises(TimedOut):
        await bot.send_message(RESIDENT.id, "x", read_timeout=0.2)


async def test_a_request_before_initialize_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest(connections=1).do_request("http://127.0.0.1:9/x", "POST")


def _repositories(tmp_path: Path, broadcast: str) -> Repositories:
    """Services for a config with this [broadcast] section."""
    path = tmp_path / "config.toml"
    path.write_text(TEST_CONFIG + broadcast, encoding="utf-8")
    return Repositories.create(load_config(path))


def test_paid_broadcasts_get_aiohttp_and_normal_ones_keep_httpx(tmp_path: Path) -> None:
    token = "5550001:TEST-unit-token-abcdefghijklmnopqrstu"
    paid = _repositories(tmp_path, "\n[broadcast]\nallow_paid_broadcast = true\n")
    request = build_application(paid, token).bot.request
    assert isinstance(request, AiohttpRequest)
    assert request.connections == 50 + REPLY_CONNECTIONS
    assert isinstance(
        build_application(_repositories(tmp_path, ""), token).bot.request, HTTPXRequest
    )
