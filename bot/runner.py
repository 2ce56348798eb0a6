"""At-least-once intake of updates, by long polling or webhook, handled concurrently across chats.

python-telegram-bot's Updater confirms an update to Telegram (the next getUpdates offset, or the
webhook's 200) as soon as it is queued, before any handler ran: a crash then silently drops a
resident's message. Here every update is first committed to the inbox table; only then is it
confirmed. `Intake` hands stored updates to the Application and marks each handled afterwards, so
after a crash exactly the unhandled ones are handled on the next start.

Updates of different chats are handled at the same time, so nobody waits for another resident's
slow answer; updates that share a chat or a user are handled one after another, in the order
Telegram numbered them (also after a restart: the inbox replays in update_id order).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError

from bot.context import QuartierApplication
from bot.ratelimit import retry_seconds
from storage.inbox import InboxRepository

log = logging.getLogger(__name__)

#: Seconds Telegram holds a getUpdates call open when nothing happens.
POLL_TIMEOUT = 10
#: The poller touches this file next to the database after every getUpdates round;
#: `quartierbot health` (the container health check) reads its age.
HEARTBEAT_SUFFIX = ".heartbeat"
#: Handled update ids are kept this long: Telegram redelivers unconfirmed updates for 24 hours.
INBOX_MEMORY = timedelta(hours=25)
MAX_BACKOFF = 30.0
#: Updates in hand at once (running, or waiting for an earlier one of their chat); beyond this the
#: intake waits. Bounds memory when one chat floods the bot; other chats still get their turn.
MAX_UPDATES_IN_HAND = 64
#: Updates read from the inbox per round.
INBOX_BATCH = 100


def update_keys(update: Update) -> frozenset[int]:
    """The chat and the user an update belongs to (a private chat's id is its user's id)."""
    keys = set()
    if update.effective_chat is not None:
        keys.add(update.effective_chat.id)
    if update.effective_user is not None:
        keys.add(update.effective_user.id)
    return frozenset(keys)


_Handle = Callable[[], Awaitable[None]]


class ChatOrder:
    """Runs updates concurrently, but each after every earlier update that shares a key with it."""

    def __init__(self, limit: int = MAX_UPDATES_IN_HAND) -> None:
        self._slots = asyncio.Semaphore(limit)
        #: Per chat or user id: the task of its latest update (the next one waits for it).
        self._latest: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def add(self, keys: Collection[int], handle: _Handle) -> None:
        """Schedule `handle()` after the earlier updates of these keys; waits for a free slot."""
        await self._slots.acquire()
        earlier = {task for key in keys if (task := self._latest.get(key)) is not None}
        task = asyncio.create_task(self._run(earlier, handle))
        for key in keys:
            self._latest[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(done, keys))

    async def _run(self, earlier: set[asyncio.Task[None]], handle: _Handle) -> None:
        """Wait for the chat's earlier updates, then handle this one."""
        try:
            if earlier:
                await asyncio.wait(earlier)
            await handle()
        finally:
            self._slots.release()

    def _forget(self, task: asyncio.Task[None], keys: Collection[int]) -> None:
        """A finished task no longer orders anything."""
        self._tasks.discard(task)
        for key in keys:
            if self._latest.get(key) is task:
                del self._latest[key]

    async def finish(self) -> None:
        """Wait until every scheduled update was handled."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))


class Intake:
    """Hands committed updates to the Application and marks them handled afterwards."""

    def __init__(self, app: QuartierApplication) -> None:
        self.app = app
        self.inbox = InboxRepository(app.repos.db)
        self._stored = asyncio.Event()

    async def store(self, updates: list[tuple[int, str]]) -> None:
        """Commit updates (id, JSON) and wake the consumer; redelivered ids are ignored."""
        if await self.inbox.store(updates):
            self._stored.set()

    async def consume(self, stop: asyncio.Event) -> None:
        """Handle stored updates until `stop`: those in hand are finished, the rest stay stored."""
        await self.inbox.purge(self.app.repos.now() - INBOX_MEMORY)
        order = ChatOrder()
        in_hand: set[int] = set()  # scheduled, not yet marked handled
        try:
            while not stop.is_set():
                self._stored.clear()
                pending = [
                    (update_id, payload)
                    for update_id, payload in await self.inbox.pending(limit=INBOX_BATCH)
                    if update_id not in in_hand
                ]
                for update_id, payload in pending:
                    if stop.is_set():
                        break
                    in_hand.add(update_id)
                    await self._schedule(order, update_id, payload, in_hand.discard)
                if not pending:
                    await _wait_either(self._stored, stop)
        finally:
            await order.finish()

    def wake(self) -> None:
        """Let the consumer stop waiting (at shutdown)."""
        self._stored.set()

    async def _schedule(
        self, order: ChatOrder, update_id: int, payload: str, done: Callable[[int], None]
    ) -> None:
        """Parse one stored update and put it in line behind its chat's earlier ones."""
        try:
            update = Update.de_json(json.loads(payload), self.app.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("update %d could not be read: %s", update_id, type(exc).__name__)
            await self.inbox.mark_handled(update_id)
            done(update_id)
            return

        async def handle() -> None:
            """The update through the Application, then marked handled."""
            # Errors inside handlers go to the error handler; anything escaping is a bug that
            # must not stop intake for everyone else.
            try:
                await self.app.process_update(update)
            except Exception:
                log.exception("update %d failed outside the handlers", update_id)
            await self.inbox.mark_handled(update_id)
            done(update_id)

        await order.add(update_keys(update), handle)


class DurablePoller:
    """Fetches updates into the inbox while the Intake handles them."""

    def __init__(self, app: QuartierApplication, poll_timeout: int = POLL_TIMEOUT) -> None:
        self.app = app
        self.intake = Intake(app)
        self.poll_timeout = poll_timeout
        self.heartbeat = heartbeat_path(app.repos.config.database)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and handle until `stop` is set; updates not yet handled stay in the inbox."""
        await self._delete_webhook()
        consumer = asyncio.create_task(self.intake.consume(stop), name="inbox-consumer")
        fetcher = asyncio.create_task(self._fetch(stop), name="inbox-fetcher")
        stopped = asyncio.create_task(stop.wait(), name="stop-signal")
        try:
            done, _ = await asyncio.wait(
                {consumer, fetcher, stopped}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done & {consumer, fetcher}:
                task.result()  # re-raise what ended it (an invalid token, a bug)
        finally:
            stop.set()
            self.intake.wake()
            fetcher.cancel()
            stopped.cancel()
            # The consumer finishes the updates in hand: what the bot confirmed is kept.
            await asyncio.gather(consumer, fetcher, stopped, return_exceptions=True)

    async def _delete_webhook(self) -> None:
        """getUpdates is refused while a webhook is set (e.g. after trying webhook mode)."""
        try:
            await self.app.bot.delete_webhook()
        except TelegramError as exc:
            log.warning("could not remove a webhook: %s", type(exc).__name__)

    async def _fetch(self, stop: asyncio.Event) -> None:
        """getUpdates in a loop; store each batch before asking for the next one."""
        last = await self.intake.inbox.last_update_id()
        offset = None if last is None else last + 1
        failures = 0
        while not stop.is_set():
            try:
                updates = await self.app.bot.get_updates(
                    offset=offset,
                    timeout=self.poll_timeout,
                    allowed_updates=Update.ALL_TYPES,
                    read_timeout=self.poll_timeout + 10,
                )
            except InvalidToken:
                raise
            except RetryAfter as exc:
                await _sleep(retry_seconds(exc), stop)
                continue
            except TelegramError as exc:
                # Telegram down or unreachable: keep trying, more slowly, without a traceback.
                failures += 1
                delay = min(MAX_BACKOFF, 2.0 ** min(failures - 1, 5))
                log.warning("getUpdates failed (%s), retrying in %.0f s", type(exc).__name__, delay)
                await _sleep(delay, stop)
                continue
            failures = 0
            await asyncio.to_thread(self.heartbeat.touch)
            if not updates:
                continue
            await self.intake.store([(u.update_id, json.dumps(u.to_dict())) for u in updates])
            offset = max(u.update_id for u in updates) + 1


async def _wait_either(event: asyncio.Event, stop: asyncio.Event) -> None:
    """Until `event` or `stop` is set."""
    if stop.is_set():
        return
    waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _beat(path: Path, stop: asyncio.Event, every: float = 30.0) -> None:
    """Webhook mode has no polling rounds: show the event loop is alive instead."""
    while not stop.is_set():
        await asyncio.to_thread(path.touch)
        await _sleep(every, stop)


def heartbeat_path(database: Path) -> Path:
    """The heartbeat file of the bot using this database."""
    return database.with_name(database.name + HEARTBEAT_SUFFIX)


async def _sleep(seconds: float, stop: asyncio.Event) -> None:
    """Sleep, but wake up at once when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


@contextlib.asynccontextmanager
async def running(app: QuartierApplication) -> AsyncIterator[None]:
    """initialize → post_init → start … stop → post_stop → shutdown → post_shutdown."""
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            yield
        finally:
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def run_until_stopped(app: QuartierApplication, stop: asyncio.Event) -> None:
    """The Application's whole life: initialise, poll durably until `stop`, shut down cleanly."""
    async with running(app):
        await DurablePoller(app).run(stop)


@dataclass(frozen=True)
class WebhookSettings:
    """Where Telegram posts updates, and the secret it must send along."""

    url: str
    listen: str = "127.0.0.1"
    port: int = 8443
    secret: str = ""

    @property
    def path(self) -> str:
        """The local path the server answers on: the path of the public URL."""
        return urlsplit(self.url).path.strip("/") or "telegram"


def webhook_secret(configured: str | None) -> str:
    """The configured secret, or a fresh random one (Telegram learns it at every start)."""
    secret = (configured or "").strip() or secrets.token_urlsafe(32)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise ValueError(
            "the webhook secret may only use A-Z, a-z, 0-9, _ and - (1-256 characters)"
        )
    return secret


class _UpdateEndpoint(tornado.web.RequestHandler):
    """POST from Telegram: check the secret, commit the update to the inbox, then answer 200."""

    def initialize(self, intake: Intake, secret: str) -> None:
        """Tornado passes the intake and the secret to every request's handler."""
        self.intake = intake
        self.secret = secret.encode()

    async def post(self) -> None:
        """Any answer but 200 makes Telegram deliver the update again, later."""
        offered = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        # Constant time: the comparison must not tell a guesser how much of the secret was right.
        if not hmac.compare_digest(offered, self.secret):
            self.set_status(403)
            return
        try:
            payload = self.request.body.decode("utf-8")
            update_id = int(json.loads(payload)["update_id"])
        except (UnicodeDecodeError, ValueError, TypeError, KeyError):
            self.set_status(400)
            return
        await self.intake.store([(update_id, payload)])
        self.set_status(200)


def webhook_server(intake: Intake, settings: WebhookSettings) -> tornado.httpserver.HTTPServer:
    """An HTTP server for the webhook path only (TLS ends at the reverse proxy in front)."""
    routes = [
        (
            f"/{re.escape(settings.path)}",
            _UpdateEndpoint,
            {"intake": intake, "secret": settings.secret},
        )
    ]
    return tornado.httpserver.HTTPServer(tornado.web.Application(routes))


async def serve_webhook(
    app: QuartierApplication, settings: WebhookSettings, stop: asyncio.Event
) -> None:
    """Like run_until_stopped, but Telegram pushes updates to our HTTPS endpoint.

    Each update is committed to the inbox before Telegram gets its 200, so a crash right after
    loses nothing: the update is handled after the restart, exactly as in long polling.
    """
    async with running(app):
        intake = Intake(app)
        server = webhook_server(intake, settings)
        server.listen(settings.port, settings.listen)
        consumer = asyncio.create_task(intake.consume(stop), name="inbox-consumer")
        beating = asyncio.create_task(_beat(heartbeat_path(app.repos.config.database), stop))
        try:
            # Registered once we accept requests (post_init opened the database).
            await app.bot.set_webhook(
                settings.url, secret_token=settings.secret, allowed_updates=Update.ALL_TYPES
            )
            done, _ = await asyncio.wait(
                {consumer, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
            )
            if consumer in done:
                consumer.result()
        finally:
            stop.set()
            intake.wake()
            server.stop()
            await server.close_all_connections()
            beating.cancel()
            await asyncio.gather(consumer, beating, return_exceptions=True)
