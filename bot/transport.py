"""HTTP to the Bot API for many sends at once: several small connection pools instead of one big.

httpx (python-telegram-bot's HTTP stack) hands each request a connection by scanning its pool,
so the cost per request grows with the number of connections and waiting requests
(encode/httpcore#1035). Paid broadcasts keep about 50 sends in flight, which real Telegram's
round-trip time needs; through one pool of 50 connections a bare httpx client managed
≈ 700 requests/s on our 2-core machine, through six pools of nine ≈ 1,500/s
(`python -m benchmarks.broadcast --only paid1000`, docs/benchmarks.md).
"""

from __future__ import annotations

import math
from typing import Any

from telegram.request import BaseRequest, HTTPXRequest, RequestData

#: Connections per pool: where httpx's per-request cost was still flat in our measurements.
CONNECTIONS_PER_POOL = 8


class PooledRequest(BaseRequest):
    """Sends each request through the least busy of several HTTPXRequest pools."""

    def __init__(self, connections: int, per_pool: int = CONNECTIONS_PER_POOL) -> None:
        count = max(1, math.ceil(connections / per_pool))
        size = max(1, math.ceil(connections / count))
        self.pools = [HTTPXRequest(connection_pool_size=size) for _ in range(count)]
        self._busy = [0] * count

    @property
    def read_timeout(self) -> float | None:
        """The pools' default read timeout (they are built alike)."""
        return self.pools[0].read_timeout

    async def initialize(self) -> None:
        """Open every pool."""
        for pool in self.pools:
            await pool.initialize()

    async def shutdown(self) -> None:
        """Close every pool."""
        for pool in self.pools:
            await pool.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One request through the pool with the fewest requests under way."""
        index = self._busy.index(min(self._busy))
        self._busy[index] += 1
        try:
            return await self.pools[index].do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        finally:
            self._busy[index] -= 1
