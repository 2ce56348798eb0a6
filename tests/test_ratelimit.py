"""Replies wait out Telegram's flood limit; the broadcast engine's sends opt out."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import ExtBot

from bot.ratelimit import RateLimitArgs, RetryingLimiter
from tests.fakebotapi import FakeBotApi


async def test_a_reply_is_retried_after_429_unless_opted_out() -> None:
    with FakeBotApi() as api:
        bot: ExtBot[RateLimitArgs] = ExtBot(
            api.token,
            base_url=api.base_url,
            base_file_url=api.base_file_url,
            rate_limiter=RetryingLimiter(max_retries=2, max_total_wait=2),
        )
        async with bot:
            api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
            message = await bot.send_message(1234, "hello")
            assert message.text == "hello"
            attempts = [c for c in api.calls_to("sendMessage")]
            assert [c.response["ok"] for c in attempts] == [False, True]

            api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
            with pytest.raises(RetryAfter):
                await bot.send_message(1234, "broadcast", rate_limit_args={"no_retry": True})

            api.fail_next("sendMessage", 429, "Too Many Requests", retry_after=1, times=3)
            with pytest.raises(RetryAfter):  # waiting is bounded (here: 2 s in all)
                await bot.send_message(1234, "again")

            api.fail_next("sendMessage", 502, "Bad Gateway", times=2)
            assert (await bot.send_message(1234, "after an outage")).text == "after an outage"
            api.fail_next("sendMessage", 502, "Bad Gateway", times=3)
            with pytest.raises(NetworkError):  # two retries, then the error
                await bot.send_message(1234, "still down")

            before = len(api.calls_to("editMessageText"))
            with pytest.raises(BadRequest):  # permanent: not retried
                await bot.edit_message_text("x", chat_id=1234, message_id=999_999)
            assert len(api.calls_to("editMessageText")) == before + 1
