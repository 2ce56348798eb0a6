"""Webhook mode: Telegram's secret token is checked on every request."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from bot.app import build_application
from bot.repositories import Repositories
from bot.runner import WebhookSettings, serve_webhook, webhook_secret
from tests.recording import TOKEN, RecordingRequest, message_update


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def post(port: int, update: dict[str, Any], secret: str | None) -> int:
    """Deliver an update like Telegram would; returns the HTTP status."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                response = await client.post(
                    f"http://127.0.0.1:{port}/quartierbot", json=update, headers=headers
                )
            except httpx.ConnectError:
                await asyncio.sleep(0.05)  # the server is still starting
                continue
            return response.status_code
    raise AssertionError("webhook server did not start")


async def test_webhook_refuses_wrong_secret_and_handles_the_right_one(repos: Repositories) -> None:
    request = RecordingRequest()
    app = build_application(repos, TOKEN, request=request, updates_request=RecordingRequest())
    port = free_port()
    settings = WebhookSettings(
        "https://example.org/quartierbot", "127.0.0.1", port, "s3cret-Token_1"
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve_webhook(app, settings, stop))
    try:
        update = message_update(761001, "/start")
        assert await post(port, update, "wrong") == 403
        assert await post(port, update, None) == 403
        assert not [c for c in request.calls if c.method == "sendMessage"]
        assert await post(port, message_update(761001, "/start"), "s3cret-Token_1") == 200
        for _ in range(100):
            if [c for c in request.calls if c.method == "sendMessage"]:
                break
            await asyncio.sleep(0.05)
        (answer,) = [c for c in request.calls if c.method == "sendMessage"]
        assert answer.params["chat_id"] == 761001
        (registered,) = request.of("setWebhook")
        assert registered.params["url"] == "https://example.org/quartierbot"
        assert registered.params["secret_token"] == "s3cret-Token_1"
    finally:
        stop.set()
        await task


def test_webhook_secret_rules() -> None:
    assert webhook_secret("abc_DEF-123") == "abc_DEF-123"
    generated = webhook_secret(None)
    assert len(generated) >= 32 and generated != webhook_secret("")
    with pytest.raises(ValueError):
        webhook_secret("no spaces allowed")
