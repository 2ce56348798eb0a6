"""The loopback fake Bot API with Telegram's flood limits enforced on sendMessage.

Telegram answers 429 when a bot sends more than about 30 messages in a second (up to 1000 with
`allow_paid_broadcast`) or more than one message a second into the same chat. This fake does the
same over sliding 1-second windows and records every sendMessage it saw (with the time it
handled it) so a benchmark can compute rates, gaps and reply latencies from the server's view.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from tests.fakebotapi import ApiError, FakeBotApi, JsonDict, _Server

#: Telegram's limit without paid broadcasts, messages per second for the whole bot.
FREE_LIMIT = 30
#: With `allow_paid_broadcast = true`.
PAID_LIMIT = 1000
#: One message per second into the same chat.
CHAT_INTERVAL = 1.0
WINDOW = 1.0
#: Pending connections the listening socket queues (socketserver's default is 5).
BACKLOG = 128


class _RoomyServer(_Server):
    """The fake's HTTP server with a listen backlog for 50+ clients connecting at once.

    With socketserver's backlog of 5, a burst of new connections (a bot opening its 50
    in-flight connections, a reply needing a 51st) overflows the accept queue while the
    accepting thread waits for the GIL, and the client sees a reset. Telegram does not do that.
    """

    request_queue_size = BACKLOG


@dataclass(frozen=True)
class Limits:
    """Messages per sliding second: `free` for ordinary calls, `paid` for paid ones (or None)."""

    free: int = FREE_LIMIT
    paid: int | None = None


@dataclass(frozen=True)
class Send:
    """One sendMessage as the fake handled it."""

    at: float  # time.monotonic() when the fake handled it
    chat_id: int
    paid: bool
    refused: str = ""  # why it got a 429: "chat" or "rate"; empty when accepted

    @property
    def accepted(self) -> bool:
        """Whether the fake accepted (and delivered) it."""
        return not self.refused


class _Window:
    """Times of accepted sends within the last second."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def count(self, now: float) -> int:
        """Accepted sends in (now - 1 s, now]."""
        while self._times and self._times[0] <= now - WINDOW:
            self._times.popleft()
        return len(self._times)

    def add(self, now: float) -> None:
        """Book an accepted send (and forget those older than the window)."""
        self.count(now)
        self._times.append(now)


def is_paid(params: JsonDict) -> bool:
    """Whether a call carries allow_paid_broadcast=true (form bodies send it as text)."""
    return params.get("allow_paid_broadcast") in (True, "true", "True", "1")


class LimitedBotApi(FakeBotApi):
    """FakeBotApi whose sendMessage answers 429 (retry_after 1) when a limit would be exceeded.

    A free call is refused when 30 free sends fell into the last second, a paid one when `paid`
    sends of any kind did; either is refused when its chat got a message less than 1 s ago.
    Only accepted sends count towards the windows.
    """

    server_class = _RoomyServer

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits
        self.sends: list[Send] = []
        self._lock = threading.Lock()
        self._free = _Window()
        self._all = _Window()
        self._last_by_chat: dict[int, float] = {}
        self._original_send = self._send_message
        self.register_method("sendMessage", self._limited_send)

    def __enter__(self) -> LimitedBotApi:
        """Start the server."""
        self.start()
        return self

    def _limited_send(self, params: JsonDict) -> JsonDict:
        """sendMessage, refused with 429 when it would exceed a limit."""
        chat_id = int(params["chat_id"])
        paid = is_paid(params) and self.limits.paid is not None
        with self._lock:
            now = time.monotonic()
            refused = self._refusal(now, chat_id, paid)
            self.sends.append(Send(now, chat_id, paid, refused))
            if refused:
                raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
            self._book(now, chat_id, paid)
        return self._original_send(params)

    def _refusal(self, now: float, chat_id: int, paid: bool) -> str:
        """Which limit a send now would exceed ("chat" or "rate"), or "" if none."""
        last = self._last_by_chat.get(chat_id)
        if last is not None and now - last < CHAT_INTERVAL:
            return "chat"
        if paid and self.limits.paid is not None:
            full = self._all.count(now) >= self.limits.paid
        else:
            full = self._free.count(now) >= self.limits.free
        return "rate" if full else ""

    def _book(self, now: float, chat_id: int, paid: bool) -> None:
        """Count an accepted send."""
        self._all.add(now)
        if not paid:
            self._free.add(now)
        self._last_by_chat[chat_id] = now
