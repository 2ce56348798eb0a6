"""HTTP to the Bot API for paid broadcasts: aiohttp under python-telegram-bot.

python-telegram-bot talks HTTP through httpx by default, and for everything the bot does at
Telegram's normal 30 messages per second that is plenty. Paid broadcasts go up to 1,000 per
second with about 50 sends in flight (real Telegram's round-trip time needs that many), and
there httpx runs out of CPU first: it hands out connections by scanning its pool, so the cost
per request grows with connections × waiting requests (encode/httpcore#1035). Against the
loopback fake Bot API on our 2-core machine, 50 workers managed ≈ 700 requests/s through one
httpx client, ≈ 1,500/s through six small httpx pools, and ≈ 3,100/s through one aiohttp
session (C HTTP parser, O(1) connection reuse); see docs/benchmarks.md. python-telegram-bot
supports other HTTP libraries through `BaseRequest`, which is all this module implements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:
    import aiohttp

#: Connections beyond a broadcast's sends in flight, for answers to residents meanwhile.
REPLY_CONNECTIONS = 8


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` over one aiohttp session with a bounded connection pool."""

    def __init__(
        self,
        connections: int,
        read_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        pool_timeout: float = 1.0,
        media_timeout: float = 20.0,
    ) -> None:
        self.connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        # aiohttp has no separate write timeout: uploads get this much for the whole request.
        self._media_timeout = media_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """Seconds to wait for Telegram's answer."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (imported here: only bots with paid broadcasts load aiohttp)."""
        import aiohttp

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.connections)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

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
        """One request; failures of the connection become python-telegram-bot's errors."""
        import aiohttp

        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        body = _body(request_data)
        timeout = self._timeout(
            request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        try:
            async with self._session.request(method, url, data=body, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # The class name helps when the message is empty (as for a dropped connection).
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _timeout(
        self,
        request_data: RequestData | None,
        read: Any,
        write: Any,
        connect: Any,
        pool: Any,
    ) -> aiohttp.ClientTimeout:
        """python-telegram-bot's four timeouts in aiohttp's terms (defaults where not given)."""
        import aiohttp

        uploads = request_data is not None and request_data.contains_files
        read = _given(read, self._read_timeout)
        connect = _given(connect, self._connect_timeout)
        pool = _given(pool, self._pool_timeout)
        write = _given(write, self._media_timeout if uploads else None)
        # aiohttp's `connect` includes waiting for a free connection of the pool.
        waiting = None if connect is None or pool is None else connect + pool
        total = None if not uploads or write is None or read is None else write + read
        return aiohttp.ClientTimeout(
            total=total, connect=waiting, sock_connect=connect, sock_read=read
        )


def _given(value: Any, default: float | None) -> float | None:
    """A timeout the caller passed, or ours when they left one of python-telegram-bot's defaults."""
    return value if value is None or isinstance(value, int | float) else default


def _body(request_data: RequestData | None) -> Any:
    """Form fields, or a multipart form when files are uploaded (as python-telegram-bot sends)."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields
    import aiohttp

    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, field in files.items():
        filename, content, *rest = field
        form.add_field(
            name,
            content,
            filename=filename,
            content_type=rest[0] if rest else "application/octet-stream",
        )
    return form
