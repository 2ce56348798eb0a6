"""Long polling with at-least-once intake, replacing python-telegram-bot's Updater.

The Updater confirms an update to Telegram (the next getUpdates offset) as soon as it is queued,
before any handler ran: a crash then silently drops a resident's message. Here every fetched update
is first committed to the inbox table; only then does the next getUpdates call confirm it. A
separate consumer hands stored updates to the Application in order and marks them handled
afterwards, so after a crash the unhandled ones are handled on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

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


class DurablePoller:
    """Fetches updates into the inbox and feeds them to the Application, one at a time."""

    def __init__(self, app: QuartierApplication, poll_timeout: int = POLL_TIMEOUT) -> None:
        self.app = app
        self.inbox = InboxRepository(app.repos.db)
        self.poll_timeout = poll_timeout
        self._stored = asyncio.Event()
        self.heartbeat = heartbeat_path(app.repos.config.database)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and handle until `stop` is set; updates not yet handled stay in the inbox."""
        await self._delete_webhook()
        consumer = asyncio.create_task(self._consume(stop), name="inbox-consumer")
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
            self._stored.set()
            fetcher.cancel()
            stopped.cancel()
            # The consumer finishes the update it is handling: what the bot confirmed is kept.
            await asyncio.gather(consumer, fetcher, stopped, return_exceptions=True)

    async def _delete_webhook(self) -> None:
        """getUpdates is refused while a webhook is set (e.g. after trying webhook mode)."""
        try:
            await self.app.bot.delete_webhook()
        except TelegramError as exc:
            log.warning("could not remove a webhook: %s", type(exc).__name__)

    async def _fetch(self, stop: asyncio.Event) -> None:
        """getUpdates in a loop; store each batch before asking for the next one."""
        last = await self.inbox.last_update_id()
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
            await self.inbox.store([(u.update_id, json.dumps(u.to_dict())) for u in updates])
            offset = max(u.update_id for u in updates) + 1
            self._stored.set()

    async def _consume(self, stop: asyncio.Event) -> None:
        """Handle stored updates in order; mark each handled only after the handlers ran."""
        await self.inbox.purge(self.app.repos.now() - INBOX_MEMORY)
        while not stop.is_set():
            self._stored.clear()
            pending = await self.inbox.pending()
            for update_id, payload in pending:
                if stop.is_set():
                    return
                await self._handle(update_id, payload)
            if not pending:
                await self._stored.wait()

    async def _handle(self, update_id: int, payload: str) -> None:
        """One update through the Application; a broken one is logged, not retried forever."""
        try:
            update = Update.de_json(json.loads(payload), self.app.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("update %d could not be read: %s", update_id, type(exc).__name__)
        else:
            # Errors inside handlers go to the error handler; anything escaping is a bug that
            # must not stop intake for everyone else.
            try:
                await self.app.process_update(update)
            except Exception:
                log.exception("update %d failed outside the handlers", update_id)
        await self.inbox.mark_handled(update_id)


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


async def serve_webhook(
    app: QuartierApplication, settings: WebhookSettings, stop: asyncio.Event
) -> None:
    """Like run_until_stopped, but Telegram pushes updates to our HTTPS endpoint.

    python-telegram-bot's webhook server checks the secret token on every request and refuses
    requests without it (403). Updates are queued when they arrive, so after a crash Telegram
    does not redeliver them: long polling (the default) is the at-least-once mode.
    """
    updater = app.updater
    if updater is None:
        raise RuntimeError("the application was built without an updater")
    async with running(app):
        # Registered after start-up (post_init opened the database), taken down before stop.
        await updater.start_webhook(
            listen=settings.listen,
            port=settings.port,
            url_path=settings.path,
            webhook_url=settings.url,
            secret_token=settings.secret,
            allowed_updates=Update.ALL_TYPES,
        )
        beating = asyncio.create_task(_beat(heartbeat_path(app.repos.config.database), stop))
        try:
            await stop.wait()
        finally:
            beating.cancel()
            await updater.stop()
