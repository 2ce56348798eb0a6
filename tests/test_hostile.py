"""Property-based tests: hostile updates never crash the bot, write nothing, or leak into groups.

Hypothesis generates updates as Telegram could deliver them (and as an attacker could forge
them): random Unicode with right-to-left text, control characters and emoji, maximum-length texts,
stickers and voice, edited messages, channel posts, group messages, forged callback data, unknown
commands and arguments of every wrong shape.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.context import QuartierApplication
from bot.repositories import Repositories
from tests.conftest import GROUP_ID
from tests.recording import BOT_ID, RecordingRequest

STRANGER = 760001
COMMANDS = [
    "/start",
    "/hours",
    "/language",
    "/quarter",
    "/help",
    "/privacy",
    "/concern",
    "/cancel",
    "/myconcerns",
    "/mydata",
    "/deleteme",
    "/events",
    "/subscribe",
    "/unsubscribe",
    "/stop",
    "/settings",
    "/closed",
    "/concerns",
    "/reply",
    "/status",
    "/note",
    "/export",
    "/staff",
    "/event_new",
    "/event_edit",
    "/event_cancel",
    "/broadcast",
    "/broadcasts",
    "/stats",
    "/nonsense",
    "/start@quartier_test_bot",
    "/HOURS",
]
CALLBACK_PREFIXES = [
    "lang:",
    "quarter:",
    "hours:",
    "closure:del:",
    "closure:ask:",
    "cst:",
    "cshow:",
    "ctopic:",
    "ccontact:",
    "cconsent:",
    "cflow:",
    "cchange:",
    "delme:",
    "sub:",
    "subtopic:",
    "set:",
    "ev:go:",
    "ev:no:",
    "ev:ics:",
    "evf:",
    "evq:",
    "evt:",
    "evc:",
    "evx:",
    "evann:",
    "bcf:",
    "bcq:",
    "bct:",
    "bcl:",
    "bcx:",
    "",
    "unknown:",
]
# Text a resident might paste or an attacker might try: RTL, isolates, control characters, emoji.
NASTY = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list("\u202e\u2066\u2069\u200f\x00\x1b\n\t<>&\"'{}%$;=+-@")),
        st.sampled_from(
            ["مرحبا", "שלום", "👩‍👩‍👧", "🚲", "Привіт", "BV-0042", "q-bahnhofsvorstadt"]
        ),
    ),
    max_size=30,
).map("".join)
TEXTS = st.one_of(
    NASTY,
    st.builds(lambda c, a: f"{c} {a}", st.sampled_from(COMMANDS), NASTY),
    st.builds(lambda c, a, b: f"{c} {a} {b}", st.sampled_from(COMMANDS), NASTY, NASTY),
    st.just("x" * 4096),
    st.just("/reply " + "ä" * 4000),
)
CHATS = st.sampled_from(
    [
        {"id": STRANGER, "type": "private"},
        {"id": GROUP_ID, "type": "supergroup", "title": "Team"},
        {"id": -100999, "type": "supergroup", "title": "Elsewhere"},
        {"id": -100888, "type": "channel", "title": "Channel"},
    ]
)
MEDIA = st.sampled_from(
    [
        {},
        {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "s",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
        {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 2}},
        {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]},
        {"location": {"latitude": 53.08, "longitude": 8.8}},
        {"contact": {"phone_number": "+49421", "first_name": "X"}},
    ]
)
_ids = iter(range(10**6, 10**9))


@st.composite
def updates(draw: st.DrawFn) -> dict[str, Any]:
    """One hostile or unusual update."""
    kind = draw(st.sampled_from(["message", "edited_message", "channel_post", "callback_query"]))
    chat = draw(CHATS)
    sender = {
        "id": STRANGER,
        "is_bot": False,
        "first_name": draw(NASTY) or "x",
        "language_code": draw(st.sampled_from(["en", "de", "ar", "xx", "pt-BR", ""])),
    }
    if not sender["language_code"]:
        del sender["language_code"]
    if kind == "callback_query":
        data = draw(st.sampled_from(CALLBACK_PREFIXES)) + draw(
            st.text(alphabet="0123456789:abcxyz*-", max_size=12)
        )
        message = {
            "message_id": 5,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"},
            "text": "old",
        }
        return {
            "update_id": next(_ids),
            "callback_query": {
                "id": str(next(_ids)),
                "from": sender,
                "chat_instance": "c",
                "data": data[:64],
                "message": message,
            },
        }
    message: dict[str, Any] = {"message_id": next(_ids), "date": int(time.time()), "chat": chat}
    if kind != "channel_post":
        message["from"] = sender
    media = draw(MEDIA)
    message.update(media)
    text = draw(TEXTS)
    if text and not media:
        message["text"] = text[:4096]
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    elif text and "photo" in media:
        message["caption"] = text[:1024]
    if kind == "edited_message":
        message["edit_date"] = int(time.time())
    return {"update_id": next(_ids), kind: message}


# Not content: the audit log records refusals by design, the inbox is not used in-process,
# and last_seen is refreshed (coarsely) whenever a known resident writes at all.
SELECTS = {
    "audit_log": None,
    "residents": "SELECT user_id, language, quarter_id, consent_at, inactive_since FROM residents",
}


def snapshot(path: object) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that holds what residents or staff changed."""
    with sqlite3.connect(str(path)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        result = {}
        for table in tables:
            sql = SELECTS.get(table, f"SELECT * FROM {table}")  # noqa: S608 - names from sqlite
            if sql is not None:
                result[table] = sorted(conn.execute(sql).fetchall(), key=repr)
        return result


WRITING_COMMANDS = ("/start", "/concern", "/subscribe", "/settings", "/language", "/quarter")


def may_write(update: dict[str, Any]) -> bool:
    """Updates that legitimately store something for a stranger (starting, subscribing…)."""
    message = update.get("message") or {}
    text = str(message.get("text", ""))
    data = str((update.get("callback_query") or {}).get("data", ""))
    private = (message.get("chat") or {}).get("type") == "private"
    return (private and text.lower().startswith(WRITING_COMMANDS)) or data.startswith(
        ("lang:", "quarter:", "sub:", "subtopic:")
    )


# CI runs the short variant; QUARTIERBOT_HYPOTHESIS_EXAMPLES=5000 for a long run.
EXAMPLES = int(os.environ.get("QUARTIERBOT_HYPOTHESIS_EXAMPLES", "300"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(update=updates())
async def test_hostile_updates_are_handled_safely(
    app: tuple[QuartierApplication, RecordingRequest],
    repos: Repositories,
    caplog: pytest.LogCaptureFixture,
    update: dict[str, Any],
) -> None:
    application, request = app
    before = snapshot(repos.config.database)
    calls_before = len(request.calls)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        await application.process_update(Update.de_json(update, application.bot))
    calls = request.calls[calls_before:]
    # 1. No handler failed (the error handler would have logged it).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    # 2. Nothing is written for input that is refused or not understood.
    if not may_write(update):
        assert snapshot(repos.config.database) == before
    # 3. Private messages get an answer; groups and channels get nothing unless addressed.
    message = update.get("message")
    if message and message["chat"]["type"] == "private":
        assert any(c.method in ("sendMessage", "sendDocument") for c in calls), update
    if update.get("channel_post") or update.get("edited_message"):
        assert not [c for c in calls if c.method == "sendMessage"]
    for call in calls:
        chat_id = call.params.get("chat_id")
        if chat_id is not None and int(chat_id) < 0 and chat_id != GROUP_ID:
            # Only /export gets a hint in a foreign group: a command addressed to the bot.
            assert str((message or {}).get("text", "")).startswith("/export"), call


@pytest.mark.parametrize("raw", ["²", "１２", "1" * 20, "0", "-3", "3 ", "", "12a"])
def test_ids_from_users_are_parsed_strictly(raw: str) -> None:
    from handlers.common import parse_id

    # str.isdigit() accepts "²" and "１２", and int() of 20 digits overflowed SQLite's integers.
    assert parse_id(raw) is None


def test_a_plain_id_is_accepted() -> None:
    from handlers.common import parse_id

    assert parse_id("42") == 42
    assert parse_id("9" * 16) == int("9" * 16)


@pytest.mark.parametrize(
    "data", ["ev:go:" + "9" * 20, "ev:show:²", "bcx:" + "1" * 25, "closure:del:" + "8" * 30]
)
async def test_oversized_or_odd_ids_in_buttons_are_refused_without_an_error(
    app: tuple[QuartierApplication, RecordingRequest],
    caplog: pytest.LogCaptureFixture,
    data: str,
) -> None:
    from tests.recording import Person

    application, request = app
    person = Person(application, request, 700777, "en")
    with caplog.at_level(logging.ERROR):
        calls = await person.press_data(person.old_bot_message(), data)
    # 20 digits used to overflow SQLite's integers and log the attacker's text in a traceback.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert any(c.method == "answerCallbackQuery" for c in calls)
