"""Several small connection pools for paid broadcasts: spread, opened, closed, chosen by config."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from telegram.request import HTTPXRequest, RequestData

from bot.app import REPLY_CONNECTIONS, build_application
from bot.config import load_config
from bot.offline import Files, OfflineRequest
from bot.services import Services
from bot.transport import CONNECTIONS_PER_POOL, PooledRequest
from tests.conftest import TEST_CONFIG

TOKEN = "5550001:TEST-unit-token-abcdefghijklmnopqrstu"


class SlowPool(OfflineRequest):
    """Answers after the test lets it; counts requests under way and opened/closed state."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.served = 0
        self.release = asyncio.Event()
        self.opened = self.closed = False

    async def initialize(self) -> None:
        """Opened."""
        self.opened = True

    async def shutdown(self) -> None:
        """Closed."""
        self.closed = True

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **_: Any
    ) -> tuple[int, bytes]:
        """Wait for the test, then answer."""
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.release.wait()
            self.served += 1
            return 200, b'{"ok":true,"result":true}'
        finally:
            self.running -= 1

    def answer(self, method: str, params: dict[str, Any], files: Files) -> Any:
        """Not used: do_request answers."""
        raise AssertionError


async def test_requests_go_to_the_least_busy_pool() -> None:
    request = PooledRequest(connections=24, per_pool=8)
    assert len(request.pools) == 3
    fakes = [SlowPool() for _ in request.pools]
    request.pools = list(fakes)  # type: ignore[arg-type]
    await request.initialize()
    assert all(f.opened for f in fakes)
    calls = [
        asyncio.create_task(request.do_request("https://api.example/bot1/sendMessage", "POST"))
        for _ in range(24)
    ]
    await asyncio.sleep(0)
    # Evenly spread while all are under way: nobody queues in one pool while another is idle.
    assert [f.running for f in fakes] == [8, 8, 8]
    for fake in fakes:
        fake.release.set()
    assert all(code == 200 for code, _ in await asyncio.gather(*calls))
    assert [f.served for f in fakes] == [8, 8, 8]
    await request.shutdown()
    assert all(f.closed for f in fakes)


def test_pool_sizes_cover_the_requested_connections() -> None:
    for connections in (1, 7, 8, 9, 50, 58):
        request = PooledRequest(connections)
        sizes = [pool._client._transport._pool._max_connections for pool in request.pools]  # type: ignore[attr-defined]
        assert sum(sizes) >= connections
        assert max(sizes) <= CONNECTIONS_PER_POOL


def _services(tmp_path: Path, broadcast: str) -> Services:
    """Services for a config with this [broadcast] section."""
    path = tmp_path / "config.toml"
    path.write_text(TEST_CONFIG + broadcast, encoding="utf-8")
    return Services.create(load_config(path))


def test_paid_broadcasts_get_pooled_http_and_normal_ones_do_not(tmp_path: Path) -> None:
    paid = build_application(
        _services(tmp_path, "\n[broadcast]\nallow_paid_broadcast = true\n"), TOKEN
    )
    assert isinstance(paid.bot.request, PooledRequest)
    sizes = [pool._client._transport._pool._max_connections for pool in paid.bot.request.pools]  # type: ignore[attr-defined]
    assert sum(sizes) >= 50 + REPLY_CONNECTIONS
    normal = build_application(_services(tmp_path, ""), TOKEN)
    assert isinstance(normal.bot.request, HTTPXRequest)
