"""The outbox: a flood limit holds back only its chat, refusals are counted, erasure empties it."""

from __future__ import annotations

from typing import Any

import pytest
from telegram.error import Forbidden, RetryAfter

from bot.context import QuartierApplication
from bot.repositories import Repositories
from storage.db import utc_now
from tests.conftest import GROUP_ID
from tests.recording import Person, RecordingRequest


async def onboard(person: Person) -> None:
    """Start via the Bahnhofsvorstadt poster, in English."""
    await person.send("/start q-bahnhofsvorstadt")
    await person.press("English")


async def submit(person: Person, text: str = "The bench in the park is broken.") -> None:
    """One whole concern."""
    await person.send("/concern")
    await person.press("Green")
    await person.send(text)
    await person.press("Yes, you may write to me")
    await person.press("I agree")
    await person.press("Submit")


def failing(request: RecordingRequest, chat_id: int, error: Exception) -> Any:
    """`request.result_for`, except that sends into `chat_id` raise `error`."""
    answer = request.result_for

    def result_for(method: str, params: dict[str, Any]) -> Any:
        if method.startswith("send") and int(params.get("chat_id", 0)) == chat_id:
            raise error
        return answer(method, params)

    return result_for


async def test_a_flood_limit_on_the_staff_group_holds_back_only_the_group(
    app: tuple[QuartierApplication, RecordingRequest],
    repos: Repositories,
    resident: Person,
    admin: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, request = app
    await onboard(resident)
    monkeypatch.setattr(request, "result_for", failing(request, GROUP_ID, RetryAfter(25)))
    await submit(resident)
    # The post waits for the group's 25 s; the resident's status notice goes out meanwhile.
    await admin.send("/status BV-0001 in_progress")
    notices = [c for c in request.calls if c.params.get("chat_id") == resident.user_id]
    assert "the status is now “in progress”" in str(notices[-1].params["text"])
    (waiting,) = await repos.outbox.due(utc_now().replace(year=2100))
    assert waiting.kind == "concern_post" and waiting.chat_id == GROUP_ID
    assert waiting.not_before > utc_now()
    assert (await repos.outbox.counts()).waiting == 1


async def test_a_resident_who_blocked_the_bot_is_counted_and_marked_inactive(
    app: tuple[QuartierApplication, RecordingRequest],
    repos: Repositories,
    resident: Person,
    admin: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, request = app
    await onboard(resident)
    await submit(resident)
    monkeypatch.setattr(
        request, "result_for", failing(request, resident.user_id, Forbidden("blocked"))
    )
    calls = await admin.send("/reply BV-0001 We will come on Monday.")
    # The officer (German) learns at once that it did not reach the resident.
    assert "nicht zugestellt" in str(calls[-1].params["text"])
    counts = await repos.outbox.counts()
    assert (counts.waiting, counts.failed) == (0, 1)
    stored = await repos.residents.get(resident.user_id)
    assert stored is not None and stored.inactive_since is not None
    calls = await admin.send("/stats")
    assert "von Telegram abgelehnt: 1" in str(calls[-1].params["text"])


async def test_erasure_takes_the_residents_waiting_messages_along(
    app: tuple[QuartierApplication, RecordingRequest],
    repos: Repositories,
    resident: Person,
    admin: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, request = app
    await onboard(resident)
    await submit(resident)
    answer = request.result_for
    monkeypatch.setattr(request, "result_for", failing(request, resident.user_id, RetryAfter(30)))
    await admin.send("/reply BV-0001 We will come on Monday.")
    assert len(await repos.outbox.for_chat(resident.user_id)) == 1
    monkeypatch.setattr(request, "result_for", answer)
    await resident.send("/deleteme")
    await resident.press_callback("delme:yes")
    row = await repos.db.fetchone("SELECT count(*) FROM outbox")
    assert row is not None and row[0] == 0
