"""/broadcast through the real handlers and the background engine; the bot keeps answering."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import RequestData

from bot.app import build_application
from bot.broadcasts import BroadcastService, SendOutcome, classify
from bot.context import QuartierApplication
from bot.repositories import Repositories
from storage.events import EventInput
from tests.conftest import ADMIN_ID
from tests.recording import TOKEN, Person, RecordingRequest, texts, toasts


async def subscribe_residents(repos: Repositories, count: int, first: int = 720000) -> list[int]:
    """Residents following the Bahnhofsvorstadt, half in German, half in Turkish."""
    ids = list(range(first, first + count))
    for index, user_id in enumerate(ids):
        await repos.residents.set_language(user_id, "de" if index % 2 else "tr")
        await repos.residents.set_quarter(user_id, "bahnhofsvorstadt")
        await repos.subscriptions.subscribe(user_id, ["bahnhofsvorstadt"])
    return ids


async def wait_until_idle(app: QuartierApplication, seconds: float = 10.0) -> None:
    """Until every background broadcast has finished."""
    assert app.broadcaster is not None
    for _ in range(int(seconds * 20)):
        if not app.broadcaster.running():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("broadcast still running")


async def test_broadcast_preview_send_and_report(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    recipients = await subscribe_residents(repos, 6)
    await repos.residents.set_language(ADMIN_ID, "en")
    admin = Person(application, request, ADMIN_ID, "en")
    calls = await admin.send("/broadcast bahnhofsvorstadt")
    assert texts(calls)[0].startswith("Which topic is it about?")
    await admin.press("All topics")
    calls = await admin.press("All languages")
    assert texts(calls)[-1].startswith("Now send the message as residents should see it")
    message = {
        "text": "Street festival on Saturday!",
        "entities": [{"type": "bold", "offset": 0, "length": 15}],
    }
    calls = await admin.send_extra(message, "Street festival on Saturday!")
    assert texts(calls)[0] == "<b>Street festival</b> on Saturday!"  # exactly as residents see it
    assert calls[0].params["parse_mode"] == "HTML"
    assert texts(calls)[1] == "This is the preview. It goes to 6 residents."
    calls = await admin.press("Send now")
    assert texts(calls) == ["Sending broadcast #1. You see the progress here."]
    await wait_until_idle(application)
    delivered = [c for c in request.of("sendMessage") if c.params["chat_id"] in recipients]
    assert sorted(c.params["chat_id"] for c in delivered) == recipients
    assert all(c.params["text"] == "<b>Street festival</b> on Saturday!" for c in delivered)
    report = texts(request.to_chat(ADMIN_ID))[-1]
    assert report.startswith("✅ Broadcast #1 finished: 6 delivered, 0 blocked the bot, 0 failed")
    sent_reports = [
        c
        for c in request.to_chat(ADMIN_ID)
        if c.method == "sendMessage" and "✅" in c.params["text"]
    ]
    assert len(sent_reports) == 1  # told once, not twice
    counts = await repos.broadcasts.counts(1)
    assert (counts.total, counts.sent) == (6, 6)


async def test_language_and_topic_targeting_counts(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    ids = await subscribe_residents(repos, 4)
    await repos.subscriptions.set_topics(ids[1], ["health"])
    admin = Person(application, request, ADMIN_ID, "en")
    await admin.send("/broadcast bahnhofsvorstadt")
    await admin.press("Housing")
    await admin.press("Deutsch")
    calls = await admin.send("Hallo!")
    # German speakers are ids[1] and ids[3]; ids[1] only wants health news.
    assert texts(calls)[1] == "This is the preview. It goes to 1 resident."


async def test_schedule_list_and_cancel(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    await subscribe_residents(repos, 2)
    admin = Person(application, request, ADMIN_ID, "en")
    await admin.send("/broadcast all")
    await admin.press("All topics")
    await admin.press("All languages")
    await admin.send("Office closed on Friday.")
    await admin.press("Schedule")
    calls = await admin.send("2026-11-27 09:00")
    assert texts(calls) == [
        "Scheduled for 27 Nov 2026, 09:00 as broadcast #1. /broadcasts lists it."
    ]
    calls = await admin.send("/broadcasts")
    assert "#1 · scheduled for 27 Nov 2026, 09:00 · Office closed on Friday." in texts(calls)[0]
    calls = await admin.press("Cancel #1")
    assert toasts(calls) == ["Cancelled."]
    broadcast = await repos.broadcasts.get(1)
    assert broadcast is not None and broadcast.status == "cancelled"
    assert request.of("sendMessage")[-1].params["chat_id"] == ADMIN_ID  # nobody else got it


async def test_residents_are_answered_while_a_broadcast_runs(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    await subscribe_residents(repos, 120)  # about five seconds at 25 messages per second
    admin = Person(application, request, ADMIN_ID, "en")
    await admin.send("/broadcast bahnhofsvorstadt")
    await admin.press("All topics")
    await admin.press("All languages")
    await admin.send("Long broadcast")
    await admin.press("Send now")
    assert application.broadcaster is not None
    for _ in range(100):
        if (await repos.broadcasts.counts(1)).sent:
            break
        await asyncio.sleep(0.05)
    assert application.broadcaster.running() == [1]
    resident = Person(application, request, 730000, "en")
    calls = await resident.send("/start q-bahnhofsvorstadt")
    assert texts(calls) == ["Hello! Please choose your language."]
    assert application.broadcaster.running() == [1]  # answered in the middle of the broadcast
    counts = await repos.broadcasts.counts(1)
    assert 0 < counts.sent < 120


async def test_broadcast_is_refused_to_residents_and_other_quarters(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    resident = Person(application, request, 730001, "en")
    assert texts(await resident.send("/broadcast all")) == [
        "Sorry, this command is only for staff."
    ]
    await repos.officers.assign(ADMIN_ID, 800009, ["huenertshagen"])
    other = Person(application, request, 800009, "en")
    calls = await other.send("/broadcast bahnhofsvorstadt")
    assert texts(calls) == ["You are not responsible for this quarter."]
    calls = await resident.press_data(resident.old_bot_message(), "bcf:now")
    assert toasts(calls) == ["Sorry, this is only for staff."]
    assert await repos.broadcasts.list_recent(None, 10) == []


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (RetryAfter(7), SendOutcome.RETRY_AFTER),
        (Forbidden("Forbidden: bot was blocked by the user"), SendOutcome.BLOCKED),
        (Forbidden("Forbidden: user is deactivated"), SendOutcome.BLOCKED),
        (BadRequest("Bad Request: chat not found"), SendOutcome.BLOCKED),
        (BadRequest("Bad Request: message is too long"), SendOutcome.FAILED),
        (TimedOut(), SendOutcome.TRANSIENT),
        (NetworkError("Bad Gateway"), SendOutcome.TRANSIENT),
    ],
    ids=[
        "429",
        "403 blocked",
        "403 deactivated",
        "400 chat not found",
        "400 other",
        "timeout",
        "5xx",
    ],
)
def test_telegram_errors_are_classified(error: TelegramError, outcome: SendOutcome) -> None:
    result = classify(error)
    assert result.outcome is outcome
    if outcome is SendOutcome.RETRY_AFTER:
        assert result.retry_after == 7


async def test_scheduled_broadcast_survives_a_restart(repos: Repositories) -> None:
    from tests.recording import running_app

    async with running_app(repos) as (application, request):
        await subscribe_residents(repos, 2)
        admin = Person(application, request, ADMIN_ID, "en")
        await admin.send("/broadcast all")
        await admin.press("All topics")
        await admin.press("All languages")
        await admin.send("Tomorrow: repair café")
        await admin.press("Schedule")
        await admin.send("2026-11-24 09:00")
    fresh = Repositories.create(repos.config)
    fresh.clock = lambda: datetime(2026, 11, 24, 8, 0, 30, tzinfo=UTC)  # 09:00:30 in Bremen
    async with running_app(fresh) as (application, request):
        assert application.broadcaster is not None
        await application.broadcaster.resume_and_start_due()
        await wait_until_idle(application)
        sent = [c for c in request.of("sendMessage") if c.params["text"] == "Tomorrow: repair café"]
        assert len(sent) == 2


async def test_stats_for_staff(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    await subscribe_residents(repos, 3)
    await repos.concerns.start_draft(720000, "bahnhofsvorstadt")
    await repos.concerns.update_draft(720000, topic_id="health", text="x", contact_allowed=0)
    await repos.concerns.submit(720000, "BV", "tr")
    admin = Person(application, request, ADMIN_ID, "en")
    await admin.send("/start q-bahnhofsvorstadt")
    await admin.press("English")  # staff are residents of the bot too, but not of the report
    await admin.send("/reply BV-0001 We are on it.")
    # Concerns carry the real clock; the bot's clock is pinned to 23 November in tests. The
    # period is in Bremen's days and ends tomorrow there: between midnight in Berlin and midnight
    # UTC, a UTC date would end the period before the concern.
    today = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=1)).date().isoformat()
    (text,) = texts(await admin.send(f"/stats Bahnhofsvorstadt 2026-11-01 {today}"))
    assert text.startswith("Figures for Bahnhofsvorstadt\nPeriod: 1 Nov 2026 – ")
    assert "Residents by quarter: Bahnhofsvorstadt 3" in text  # not 4: the admin is staff
    assert "Subscribers by quarter: Bahnhofsvorstadt 3" in text
    assert "by topic: Health 1" in text and "by status: new 1" in text
    assert "Median time to the office's first reply: " in text and "; to done: –" in text
    festival = EventInput(
        "bahnhofsvorstadt",
        "Street festival",
        datetime(2026, 11, 28, 14, 0, tzinfo=UTC),
        None,
        "Bahnhofsplatz",
        "",
        1,
        None,
    )
    event = await repos.events.create(ADMIN_ID, festival)
    for user_id in (720001, 720002):
        await repos.events.rsvp(event.id, user_id, datetime(2026, 11, 23, tzinfo=UTC))
    (text,) = texts(await admin.send(f"/stats 2026-11-01 {today}"))
    assert "Events: 1; sign-ups: 1, on waiting lists: 1" in text
    (outside,) = texts(await admin.send("/stats 2026-01-01 2026-01-31"))
    assert "by topic: –" in outside and "Median time to the office's first reply: –" in outside
    (wrong,) = texts(await admin.send("/stats yesterday"))
    assert wrong.startswith("I don't understand “yesterday”.\nUsage: /stats [quarter] [from] [to]")
    resident = Person(application, request, 730005, "en")
    assert texts(await resident.send("/stats")) == ["Sorry, this command is only for staff."]


@dataclass
class BlockingTelegram(RecordingRequest):
    """Telegram refusing messages to residents who blocked the bot (403)."""

    blocked: set[int] = field(default_factory=set)

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **timeouts: Any
    ) -> tuple[int, bytes]:
        """403 for a blocked chat, else the recording answer."""
        chat_id = request_data.parameters.get("chat_id") if request_data else None
        if url.endswith("/sendMessage") and chat_id in self.blocked:
            refusal = {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            }
            return 403, json.dumps(refusal).encode()
        return await super().do_request(url, method, request_data, **timeouts)


@asynccontextmanager
async def blocking_app(
    repos: Repositories, request: BlockingTelegram
) -> AsyncIterator[QuartierApplication]:
    """The application over this request, with its broadcast service, as at start-up."""
    application = build_application(
        repos, TOKEN, request=request, updates_request=RecordingRequest()
    )
    await repos.db.open()
    await application.initialize()
    application.broadcaster = BroadcastService(repos, application.bot)
    try:
        yield application
    finally:
        await application.broadcaster.shutdown()
        await application.shutdown()
        await repos.db.close()


async def broadcast_preview(admin: Person, text: str) -> str:
    """Officer: a broadcast to the Bahnhofsvorstadt up to its preview; the recipient line."""
    await admin.send("/broadcast bahnhofsvorstadt")
    await admin.press("All topics")
    await admin.press("All languages")
    return texts(await admin.send(text))[1]


async def test_residents_who_blocked_the_bot_are_skipped_until_they_write(
    repos: Repositories,
) -> None:
    request = BlockingTelegram()
    async with blocking_app(repos, request) as application:
        ids = await subscribe_residents(repos, 3)
        request.blocked.add(ids[0])
        await repos.residents.set_language(ADMIN_ID, "en")
        admin = Person(application, request, ADMIN_ID, "en")
        assert await broadcast_preview(admin, "Flohmarkt") == (
            "This is the preview. It goes to 3 residents."
        )
        await admin.press("Send now")
        await wait_until_idle(application)
        report = texts(request.to_chat(ADMIN_ID))[-1]
        assert report.startswith("✅ Broadcast #1 finished: 2 delivered, 1 blocked the bot")

        # The next broadcast leaves them out …
        assert await broadcast_preview(admin, "Repair-Café") == (
            "This is the preview. It goes to 2 residents."
        )
        await admin.press("Cancel")
        # … until they write to the bot again.
        request.blocked.clear()
        await Person(application, request, ids[0], "tr").send("/start")
        assert await broadcast_preview(admin, "Repair-Café") == (
            "This is the preview. It goes to 3 residents."
        )


async def test_a_broadcast_to_quarters_its_author_lost_is_neither_scheduled_nor_sent(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    recipients = await subscribe_residents(repos, 3)
    officer_id = 910010
    await repos.officers.assign(ADMIN_ID, officer_id, ["bahnhofsvorstadt", "huenertshagen"])
    officer = Person(application, request, officer_id, "en")
    # Scheduled while an officer of the quarter.
    await officer.send("/broadcast bahnhofsvorstadt")
    await officer.press("All topics")
    await officer.press("All languages")
    await officer.send("Straßenfest")
    await officer.press("Schedule")
    await officer.send("2026-11-27 10:00")
    (scheduled,) = await repos.broadcasts.due_scheduled(datetime(2100, 1, 1, tzinfo=UTC))
    # A second draft gets as far as the time, then the officer loses the quarter.
    await officer.send("/broadcast bahnhofsvorstadt")
    await officer.press("All topics")
    await officer.press("All languages")
    await officer.send("Noch ein Fest")
    await officer.press("Schedule")
    # Now an officer of Hünertshagen only: still staff, no longer of the Bahnhofsvorstadt.
    await repos.officers.assign(ADMIN_ID, officer_id, ["huenertshagen"])
    calls = await officer.send("2026-11-27 11:00")
    assert texts(calls) == ["Sorry, this is only for staff."]
    assert len(await repos.broadcasts.due_scheduled(datetime(2100, 1, 1, tzinfo=UTC))) == 1
    # When the first one is due, it is not sent: it is cancelled and the refusal audited.
    await repos.db.execute(
        "UPDATE broadcasts SET scheduled_at = '2020-01-01T00:00:00Z' WHERE id = ?",
        (scheduled.id,),
    )
    assert application.broadcaster is not None
    await application.broadcaster.resume_and_start_due()
    await wait_until_idle(application)
    assert not [c for c in request.of("sendMessage") if c.params["chat_id"] in recipients]
    stored = await repos.broadcasts.get(scheduled.id)
    assert stored is not None and stored.status == "cancelled"
    assert any(e.action == "broadcast.denied" for e in await repos.audit.recent())


async def test_quarter_toggles_change_in_place_and_next_says_why_it_waits(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    await subscribe_residents(repos, 2)
    admin = Person(application, request, ADMIN_ID, "en")
    await admin.send("/broadcast")
    calls = await admin.press("➡️ Next")
    assert toasts(calls) == ["Please choose at least one quarter first."]
    calls = await admin.press("Bahnhofsvorstadt")
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageText"]
    assert "✅ Bahnhofsvorstadt" in json.dumps(calls[-1].params["reply_markup"], ensure_ascii=False)
    calls = await admin.press("➡️ Next")
    assert texts(calls)[-1].startswith("Which topic is it about?")


async def test_nobody_to_reach_means_nothing_to_send(
    app: tuple[QuartierApplication, RecordingRequest], repos: Repositories
) -> None:
    application, request = app
    admin = Person(application, request, ADMIN_ID, "en")
    await admin.send("/broadcast huenertshagen")  # nobody follows it
    await admin.press("All topics")
    await admin.press("All languages")
    calls = await admin.send("Office closed on Friday.")
    assert texts(calls)[-1].startswith("Nobody would get this message")
    assert "bcf:now" not in json.dumps([c.params.get("reply_markup") for c in calls])
    await subscribe_residents(repos, 2)
    await admin.send("/broadcast bahnhofsvorstadt")
    await admin.press("All topics")
    await admin.press("All languages")
    await admin.send("Office closed on Friday.")
    calls = await admin.press("Schedule")
    example = texts(calls)[-1].split("for example ")[1].rstrip(".")
    # The example lies ahead of the bot's clock (Monday 23 November 2026), and parses back.
    assert example.endswith(" 09:00")
    calls = await admin.send(example)
    assert texts(calls)[-1].startswith("Scheduled for ")
