"""The loopback fake Bot API with Telegram's flood limits enforced on sendMessage.

Telegram answers 429 when a bot sends more than about 30 messages in a second, or more than one
message a second into the same chat. This fake does the same over sliding 1-second windows and
records every sendMessage it saw (with the time it handled it), so a benchmark can compute rates,
gaps and reply latencies from the server's view.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from tests.fakebotapi import ApiError, FakeBotApi, JsonDict

#: Telegram's limit for the whole bot, messages per second.
RATE_LIMIT = 30
#: One message per second into the same chat.
CHAT_INTERVAL = 1.0
WINDOW = 1.0


@dataclass(frozen=True)
class Send:
    """One sendMessage as the fake handled it."""

    at: float  # time.monotonic() when the fake handled it
    chat_id: int
    refused: str = ""  # why it got a 429: "chat" or "rate"; empty when accepted

    @property
    def accepted(self) -> bool:
        """Whether the fake accepted (and delivered) it."""
        return not self.refused


class LimitedBotApi(FakeBotApi):
    """FakeBotApi whose sendMessage answers 429 (retry_after 1) when a limit would be exceeded.

    A send is refused when 30 sends were accepted within the last second, or when its chat got
    a message less than a second ago. Only accepted sends count towards the limits.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[Send] = []
        self._lock = threading.Lock()
        self._accepted: deque[float] = deque()  # within the last second
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
        with self._lock:
            now = time.monotonic()
            refused = self._refusal(now, chat_id)
            self.sends.append(Send(now, chat_id, refused))
            if refused:
                raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
            self._accepted.append(now)
            self._last_by_chat[chat_id] = now
        return self._original_send(params)

    def _refusal(self, now: float, chat_id: int) -> str:
        """Which limit a send now would exceed ("chat" or "rate"), or "" if none."""
        last = self._last_by_chat.get(chat_id)
        if last is not None and now - last < CHAT_INTERVAL:
            return "chat"
        while self._accepted and self._accepted[0] <= now - WINDOW:
            self._accepted.popleft()
        return "rate" if len(self._accepted) >= RATE_LIMIT else ""
