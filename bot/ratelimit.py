"""Answers to residents survive Telegram's flood limit: a 429 is waited out and retried.

python-telegram-bot's extension point for this is a rate limiter. This one does not throttle (the
bot's own traffic is small; broadcasts have their own pacer): it only retries calls that Telegram
answered with 429 RetryAfter. The broadcast engine opts out per call with
`rate_limit_args={"no_retry": True}`, because it must see the 429 to pause all of its sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

RateLimitArgs = dict[str, Any]


def retry_seconds(error: RetryAfter) -> float:
    """Seconds to wait; retry_after is an int or a timedelta, depending on PTB's settings."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class RetryOnFloodLimit(BaseRateLimiter[RateLimitArgs]):
    """Retry a call after the time Telegram asks for, a bounded number of times."""

    def __init__(self, max_retries: int = 3, max_wait: float = 60.0) -> None:
        self.max_retries = max_retries
        self.max_wait = max_wait

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
        """Call, and on 429 wait `retry_after` and call again (unless the caller opted out)."""
        retries = 0
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if (rate_limit_args or {}).get("no_retry") or retries >= self.max_retries:
                    raise
                if wait > self.max_wait:
                    raise
                retries += 1
                log.info("flood limit on %s: retrying in %.0f s", endpoint, wait)
                await asyncio.sleep(wait)
