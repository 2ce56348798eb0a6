"""Answers to residents survive Telegram's flood limit and short outages.

python-telegram-bot's extension point for this is a rate limiter. This one does not throttle (the
bot's own traffic is small; broadcasts have their own pacer): it retries calls that Telegram
answered with 429 RetryAfter (after the time Telegram asks for) or that failed with a server error
or timeout (after 1, 2, 4 … s), a bounded number of times. A retried send whose first answer was
lost may arrive twice; losing an answer to a resident would be worse. The broadcast engine opts out
per call with `rate_limit_args={"no_retry": True}`: it must see the 429 to pause all of its sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

RateLimitArgs = dict[str, Any]


def retry_seconds(error: RetryAfter) -> float:
    """Seconds to wait; retry_after is an int or a timedelta, depending on PTB's settings."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class RetryingLimiter(BaseRateLimiter[RateLimitArgs]):
    """Retry flood-limited and failed calls, a bounded number of times."""

    def __init__(
        self, max_retries: int = 3, max_single_wait: float = 5.0, max_total_wait: float = 30.0
    ) -> None:
        #: Retries after a network or server error.
        self.max_retries = max_retries
        #: The longest flood-limit pause an answer to the update's sender waits out: a chat's
        #: next updates wait for it (other chats do not). Messages to anyone else go through
        #: the outbox (bot/outbox.py), which waits as long as Telegram asks, holding nobody.
        self.max_single_wait = max_single_wait
        #: Short pauses of a flood, added up: an answer half a minute late still helps.
        self.max_total_wait = max_total_wait

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: RateLimitArgs | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Call; on 429 or a network/server error wait and call again (unless opted out)."""
        retries = 0
        waited = 0.0
        # getUpdates has its own retry loop (bot/runner.py) and must not sleep in here.
        opted_out = bool((rate_limit_args or {}).get("no_retry")) or endpoint == "getUpdates"
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                too_long = wait > self.max_single_wait or waited + wait > self.max_total_wait
                if opted_out or too_long:
                    raise
                log.info("flood limit on %s: retrying in %.0f s", endpoint, wait)
            except BadRequest:
                # A subclass of NetworkError, but permanent ("message to edit not found"):
                # retrying would only delay the answer, and a stop, by seconds.
                raise
            except NetworkError as exc:
                wait = float(2**retries)
                if opted_out or retries >= self.max_retries:
                    raise
                retries += 1
                log.info("%s on %s: retrying in %.0f s", type(exc).__name__, endpoint, wait)
            waited += wait
            await asyncio.sleep(wait)
