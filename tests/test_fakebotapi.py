"""Tests for the loopback fake Telegram Bot API, driven by real python-telegram-bot clients."""

from __future__ import annotations

import asyncio
import datetime as dtm
import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakebotapi import FakeApiTimeout, FakeBotApi, FakeUser, UploadedFile

ALICE = FakeUser(id=4242, first_name="Alice", username="alice")
KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Yes, please", callback_data="confirm:1")],
        [InlineKeyboardButton("No", callback_data="cancel:1")],
    ]
)


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    """A started fake server."""
    with FakeBotApi() as fake:
        yield fake
    assert not fake.internal_errors


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """A real PTB Bot pointed at the fake."""
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


def seconds(value: int | dtm.timedelta) -> float:
    """RetryAfter.retry_after as seconds, whichever type this PTB version returns."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def raw_request(url: str, data: bytes | None = None, content_type: str = "") -> Any:
    """A plain urllib request to the fake, returning (status, decoded JSON body)."""
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --------------------------------------------------------------------------- Bot client


async def test_get_me(bot: Bot, api: FakeBotApi) -> None:
    """getMe describes the bot derived from the token."""
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "quartier_test_bot")
    assert me.can_join_groups is True
    assert api.calls_to("getme")[0].ok


async def test_send_message_with_inline_keyboard(bot: Bot, api: FakeBotApi) -> None:
    """A sent message is returned complete and recorded with its keyboard."""
    sent = await bot.send_message(ALICE.id, "Hello", reply_markup=KEYBOARD)
    again = await bot.send_message(ALICE.id, "Second")
    assert again.message_id == sent.message_id + 1
    assert sent.chat.type == "private" and sent.from_user is not None
    assert sent.from_user.username == "quartier_test_bot"

    (recorded, _) = api.sent_messages(ALICE.id)
    assert recorded["text"] == "Hello"
    assert api.find_button(recorded, "Yes") == "confirm:1"
    assert api.calls_to("sendMessage")[0].params["chat_id"] == ALICE.id
    assert api.calls_to("sendMessage")[0].params["reply_markup"]["inline_keyboard"][1][0] == {
        "text": "No",
        "callback_data": "cancel:1",
    }
    with pytest.raises(AssertionError, match="'Yes, please', 'No'"):
        api.find_button(recorded, "Maybe")


async def test_group_chat_and_reply(bot: Bot, api: FakeBotApi) -> None:
    """Negative chat ids are supergroups; replies embed the target message."""
    api.push_message(ALICE, "in the group", chat_id=-100123)
    pushed = api.current_message(-100123, 1)  # first message of that chat
    assert pushed is not None and pushed["from"]["id"] == ALICE.id
    reply = await bot.send_message(-100123, "noted", reply_to_message_id=1)
    assert reply.message_id == 2  # users and the bot share a chat's message ids
    assert reply.chat.type == "supergroup"
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "in the group"
    with pytest.raises(BadRequest, match="(?i)replied not found"):
        await bot.send_message(-100123, "x", reply_to_message_id=99)


async def test_edit_message_text(bot: Bot, api: FakeBotApi) -> None:
    """Edits change the stored state; omitting reply_markup drops the keyboard."""
    sent = await bot.send_message(ALICE.id, "Draft", reply_markup=KEYBOARD)
    mark = api.cursor()
    edited = await bot.edit_message_text("Final", ALICE.id, sent.message_id, reply_markup=KEYBOARD)
    assert not isinstance(edited, bool) and edited.text == "Final"
    assert api.sent_messages(ALICE.id)[0]["text"] == "Final"
    seen = api.wait_for_message(ALICE.id, lambda m: m["text"] == "Final", timeout=1, after=mark)
    assert "edit_date" in seen and api.find_button(seen, "No") == "cancel:1"

    await bot.edit_message_text("Done", ALICE.id, sent.message_id)
    assert "reply_markup" not in api.sent_messages(ALICE.id)[0]


async def test_edit_errors(bot: Bot, api: FakeBotApi) -> None:
    """Unknown and unchanged edits fail like on Telegram."""
    sent = await bot.send_message(ALICE.id, "Same", reply_markup=KEYBOARD)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Same", ALICE.id, sent.message_id, reply_markup=KEYBOARD)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(ALICE.id, sent.message_id, reply_markup=KEYBOARD)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", ALICE.id, 999)


async def test_delete_message_and_chat_action(bot: Bot, api: FakeBotApi) -> None:
    """Deleted messages disappear from sent_messages; chat actions are validated."""
    sent = await bot.send_message(ALICE.id, "oops")
    assert await bot.delete_message(ALICE.id, sent.message_id)
    assert api.sent_messages(ALICE.id) == []
    with pytest.raises(BadRequest, match="(?i)to delete not found"):
        await bot.delete_message(ALICE.id, sent.message_id)
    assert await bot.send_chat_action(ALICE.id, "typing")
    with pytest.raises(BadRequest, match="(?i)action"):
        await bot.send_chat_action(ALICE.id, "dancing")


async def test_html_parse_mode(bot: Bot, api: FakeBotApi) -> None:
    """HTML is converted to text plus entities; broken HTML is rejected like Telegram does."""
    sent = await bot.send_message(
        ALICE.id, "<b>Müll</b> &amp; 🚲 <i>Rad</i>", parse_mode=ParseMode.HTML
    )
    assert sent.text == "Müll & 🚲 Rad"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 4),
        ("italic", 10, 3),  # the bicycle emoji counts two UTF-16 units
    ]
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(ALICE.id, "Name: <Bob>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)too long"):
        await bot.send_message(ALICE.id, "x" * 4097)


async def test_callback_data_limit(bot: Bot) -> None:
    """callback_data over 64 bytes is rejected with BUTTON_DATA_INVALID."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="ü" * 33)]])
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE.id, "hi", reply_markup=markup)


async def test_get_updates_offset_semantics(bot: Bot, api: FakeBotApi) -> None:
    """Updates stay until confirmed with offset, then are forgotten."""
    ids = [api.push_message(ALICE, f"msg {n}") for n in range(3)]
    first = await bot.get_updates(timeout=0)
    assert [u.update_id for u in first] == ids
    assert first[0].message is not None and first[0].message.text == "msg 0"
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert await bot.get_updates(offset=ids[-1] + 1, timeout=0) == ()
    assert await bot.get_updates(timeout=0) == ()


async def test_get_updates_command_entity(bot: Bot, api: FakeBotApi) -> None:
    """Commands carry a bot_command entity covering the @botname suffix."""
    api.push_message(ALICE, "/start@quartier_test_bot payload")
    (update,) = await bot.get_updates()
    assert update.message is not None
    assert update.message.parse_entities() == {
        update.message.entities[0]: "/start@quartier_test_bot"
    }


async def test_long_poll_returns_early(bot: Bot, api: FakeBotApi) -> None:
    """A waiting getUpdates returns as soon as another thread pushes an update."""
    timer = threading.Timer(0.2, api.push_message, args=(ALICE, "late"))
    timer.start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    timer.join()
    assert 0.1 < time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["late"]


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    """Without updates, getUpdates waits about `timeout` seconds and returns nothing."""
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 2


async def test_second_poller_conflicts(bot: Bot, api: FakeBotApi) -> None:
    """A newer getUpdates terminates the older one with 409, as with two bot instances."""
    async with Bot(api.token, base_url=api.base_url) as other:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.to_thread(api.wait_polling, 2)
        second = asyncio.create_task(other.get_updates(timeout=1))
        with pytest.raises(Conflict):
            await first
        assert await second == ()


async def test_commands_per_scope_and_language(bot: Bot, api: FakeBotApi) -> None:
    """Commands are stored per (scope, language) and read back through both APIs."""
    staff = [BotCommand("inbox", "Offene Anfragen"), BotCommand("help", "Hilfe")]
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands(staff, scope=BotCommandScopeChat(777), language_code="de")
    assert api.commands() == [{"command": "start", "description": "Start"}]
    scope = {"type": "chat", "chat_id": 777}
    assert [c["command"] for c in api.commands(scope, "de")] == ["inbox", "help"]
    assert api.commands(scope) == []
    fetched = await bot.get_my_commands(scope=BotCommandScopeChat(777), language_code="de")
    assert tuple(fetched) == tuple(staff)
    await bot.delete_my_commands(scope=BotCommandScopeChat(777), language_code="de")
    assert api.commands(scope, "de") == []
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Command", "x")])


async def test_send_document_and_download(bot: Bot, api: FakeBotApi) -> None:
    """A multipart upload keeps exact bytes and can be downloaded via getFile."""
    content = b"name;count\r\n\x00\xff\xfe--boundary-ish\r\n" * 50
    sent = await bot.send_document(
        ALICE.id, content, filename="Übersicht.csv", caption="Export", reply_markup=KEYBOARD
    )
    assert sent.document is not None and sent.document.file_name == "Übersicht.csv"
    assert sent.caption == "Export" and sent.document.file_size == len(content)
    upload = api.calls_to("sendDocument")[0].params["document"]
    assert isinstance(upload, UploadedFile) and upload.content == content
    assert api.file_bytes(sent.document.file_id) == content

    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content
    resent = await bot.send_document(ALICE.id, sent.document.file_id)
    assert resent.document is not None and resent.document.file_id == sent.document.file_id


async def test_send_photo_and_location(bot: Bot, api: FakeBotApi) -> None:
    """Photos and locations produce the matching message fields."""
    photo = await bot.send_photo(ALICE.id, b"\x89PNG fake", caption="<b>Hof</b>", parse_mode="HTML")
    assert photo.photo and photo.caption == "Hof" and photo.caption_entities[0].type == "bold"
    location = await bot.send_location(ALICE.id, latitude=53.0793, longitude=8.8017)
    assert location.location is not None and location.location.latitude == pytest.approx(53.0793)
    chat = await bot.get_chat(ALICE.id)
    assert chat.id == ALICE.id and chat.type == "private"


async def test_user_photo_is_downloadable(bot: Bot, api: FakeBotApi) -> None:
    """A pushed photo can be fetched by the bot with getFile."""
    api.push_photo(ALICE, b"jpeg-bytes", caption="Sperrmüll")
    api.push_location(ALICE, 53.1, 8.8)
    api.push_sticker(ALICE)
    photo_update, location_update, sticker_update = await bot.get_updates()
    assert photo_update.message is not None and location_update.message is not None
    assert location_update.message.location is not None
    assert sticker_update.message is not None and sticker_update.message.sticker is not None
    file = await photo_update.message.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == b"jpeg-bytes"


async def test_wrong_token_raises(api: FakeBotApi) -> None:
    """A well-formed but wrong token yields InvalidToken."""
    other = Bot("999:wrong-token", base_url=api.base_url)
    with pytest.raises(InvalidToken):
        await other.get_me()
    status, body = raw_request(f"{api.base_url}nocolon/getMe")
    assert (status, body["description"]) == (404, "Not Found")


async def test_retry_after(bot: Bot, api: FakeBotApi) -> None:
    """fail_next with retry_after raises RetryAfter carrying the delay, once."""
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryAfter) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        await bot.send_message(ALICE.id, "flood")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert seconds(caught.value.retry_after) == 7
    assert (await bot.send_message(ALICE.id, "later")).text == "later"
    assert [c.error_code for c in api.calls_to("sendMessage")] == [429, None]


async def test_server_errors_and_drops(bot: Bot, api: FakeBotApi) -> None:
    """5xx answers and dropped connections surface as NetworkError."""
    api.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(ALICE.id, "x")
    api.drop_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(ALICE.id, "x")
    assert api.calls_to("sendMessage")[-1].response is None
    assert api.sent_messages() == []
    api.drop_next("sendMessage", after_processing=True)
    with pytest.raises(NetworkError):
        await bot.send_message(ALICE.id, "delivered but unconfirmed")
    assert [m["text"] for m in api.sent_messages()] == ["delivered but unconfirmed"]
    assert (await bot.send_message(ALICE.id, "works again")).text == "works again"


async def test_blocked_user_and_missing_chat(bot: Bot, api: FakeBotApi) -> None:
    """Per-chat faults: blocked user is 403, unknown chat is 400."""
    api.block_user(ALICE.id)
    with pytest.raises(Forbidden, match="(?i)blocked by the user"):
        await bot.send_message(ALICE.id, "hi")
    api.set_chat_not_found(5)
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_document(5, b"x", filename="a.txt")
    api.unblock_user(ALICE.id)
    assert (await bot.send_message(ALICE.id, "hi")).text == "hi"


async def test_delay(bot: Bot, api: FakeBotApi) -> None:
    """set_delay slows the chosen method only."""
    api.set_delay("sendChatAction", 0.3)
    started = time.monotonic()
    await bot.send_chat_action(ALICE.id, "typing")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await bot.send_message(ALICE.id, "fast")
    assert time.monotonic() - started < 0.3


async def test_unknown_method(bot: Bot, api: FakeBotApi) -> None:
    """Unknown methods answer 404 method not found (PTB maps it to an error)."""
    with pytest.raises(TelegramError):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 1})
    assert api.calls_to("sendTelepathy")[0].error_code == 404


# --------------------------------------------------------------------------- raw HTTP


def test_raw_wire_formats(api: FakeBotApi) -> None:
    """JSON bodies, query strings and case-insensitive method names all work."""
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    body = json.dumps({"chat_id": 7, "text": "json", "reply_markup": markup}).encode()
    status, sent = raw_request(f"{api.base_url}{api.token}/SENDMESSAGE", body, "application/json")
    assert status == 200 and sent["result"]["reply_markup"] == markup
    status, got = raw_request(f"{api.base_url}{api.token}/getMe?x=1")
    assert status == 200 and got["result"]["username"] == "quartier_test_bot"
    status, missing = raw_request(f"{api.base_url}{api.token}/noSuchMethod")
    assert (status, missing["description"]) == (404, "Not Found: method not found")
    status, _ = raw_request(f"{api.base_file_url}{api.token}/documents/missing.bin")
    assert status == 404


def test_form_and_chunked_bodies(api: FakeBotApi) -> None:
    """Form values that merely look like JSON stay text; chunked bodies are decoded."""
    form = urllib.parse.urlencode(
        {"chat_id": "7", "text": "[1, 2]", "reply_markup": '{"inline_keyboard": []}'}
    ).encode()
    status, sent = raw_request(
        f"{api.base_url}{api.token}/sendMessage", form, "application/x-www-form-urlencoded"
    )
    assert status == 200 and sent["result"]["text"] == "[1, 2]"
    assert api.calls_to("sendMessage")[0].params == {
        "chat_id": 7,
        "text": "[1, 2]",
        "reply_markup": {"inline_keyboard": []},
    }
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    connection.request(
        "POST",
        f"/bot{api.token}/sendMessage",
        body=iter([b"chat_id=7&", b"text=chunked"]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with connection.getresponse() as response:
        assert json.loads(response.read())["result"]["text"] == "chunked"
    connection.close()


async def test_allowed_updates_and_raw_updates(bot: Bot, api: FakeBotApi) -> None:
    """Opt-in and filtered update kinds are dropped; raw updates pass through verbatim."""
    api.push_update({"message_reaction": {}})  # opt-in kind: never delivered by default
    raw = {"message": {"message_id": 9, "date": 0, "chat": {"id": 5, "type": "private"}}}
    raw_id = api.push_update(raw)
    api.push_callback(ALICE, {"message_id": 1, "chat": {"id": ALICE.id}}, "stale")
    updates = await bot.get_updates(allowed_updates=["message"])
    assert [u.update_id for u in updates] == [raw_id]
    assert updates[0].message is not None and updates[0].message.text is None
    api.wait_idle(timeout=1, quiet=0.05)


def test_restart_keeps_state_and_port(api: FakeBotApi) -> None:
    """stop()/start() simulates an outage: same URL, same recorded state."""
    url = api.base_url
    api.push_message(ALICE, "queued")
    api.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}{api.token}/getMe", timeout=1)
    api.start()
    assert api.base_url == url
    status, body = raw_request(f"{url}{api.token}/getUpdates")
    assert status == 200 and body["result"][0]["message"]["text"] == "queued"


def test_wait_for_message_timeout_lists_messages(api: FakeBotApi) -> None:
    """A timed-out wait explains what the bot did send to the chat."""
    body = json.dumps({"chat_id": ALICE.id, "text": "Wrong reply"}).encode()
    raw_request(f"{api.base_url}{api.token}/sendMessage", body, "application/json")
    with pytest.raises(FakeApiTimeout, match="Wrong reply"):
        api.wait_for_message(ALICE.id, lambda m: "Right" in m["text"], timeout=0.1)
    with pytest.raises(FakeApiTimeout, match="never called getUpdates"):
        api.push_message(ALICE, "hello?")
        api.wait_idle(timeout=0.2)


# --------------------------------------------------------------------------- Application


async def test_application_polling_roundtrip(api: FakeBotApi) -> None:
    """A real Application polls the fake, answers commands and callback queries."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        text = " ".join(context.args or []) or "empty"
        await update.effective_message.reply_text(f"echo: {text}", reply_markup=KEYBOARD)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("ok")
        await query.edit_message_text(f"chosen {query.data}")

    app = (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("echo", echo))
    app.add_handler(CallbackQueryHandler(pressed))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        mark = api.cursor()
        api.push_message(ALICE, "/echo hallo Quartier")
        reply = await api.wait_for_message_async(ALICE.id, timeout=5, after=mark)
        assert reply["text"] == "echo: hallo Quartier"

        mark = api.cursor()
        update_id = api.push_callback(ALICE, reply, api.find_button(reply, "Yes"))
        edited = await api.wait_for_message_async(ALICE.id, timeout=5, after=mark)
        assert edited["text"] == "chosen confirm:1" and "reply_markup" not in edited
        answer = await api.wait_for_call_async("answerCallbackQuery", timeout=5, after=mark)
        assert answer.params["callback_query_id"] == api.callback_query_id(update_id)
        await api.wait_idle_async(timeout=5)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
