"""The one place that builds the python-telegram-bot Application."""

from __future__ import annotations

import logging

from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot import jobs
from bot.broadcasts import BroadcastService
from bot.commands import publish_command_menus
from bot.context import BotContext, QuartierApplication
from bot.outbox import OutboxService
from bot.ratelimit import RetryingLimiter
from bot.repositories import Repositories
from handlers import (
    broadcasts,
    closures,
    concern_intake,
    errors,
    events,
    events_staff,
    export,
    fallback,
    hours,
    identify,
    info,
    my_data,
    onboarding,
    staff_admin,
    staff_concerns,
    stats,
    subscriptions,
    text_input,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"


def build_application(
    repos: Repositories,
    token: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    base_file_url: str = DEFAULT_BASE_FILE_URL,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> QuartierApplication:
    """Application with our context type, repositories, lifecycle hooks and every feature."""
    builder = (
        ApplicationBuilder()
        .application_class(QuartierApplication, kwargs={"repos": repos})
        .context_types(ContextTypes(context=BotContext))
        .token(token)
        .base_url(base_url)
        .base_file_url(base_file_url)
        .rate_limiter(RetryingLimiter())
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
    )
    # Without a request of the caller's, python-telegram-bot's default httpx request: its pool of
    # 256 connections holds a broadcast's sends in flight (at most 200) and the answers meanwhile.
    if request is not None:
        builder = builder.request(request)
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    app = builder.build()
    if not isinstance(app, QuartierApplication):
        raise TypeError("ApplicationBuilder did not build a QuartierApplication")
    register_features(app)
    return app


def register_features(app: QuartierApplication) -> None:
    """Explicit registration, in order: identification first, fall-backs last."""
    identify.register(app)
    onboarding.register(app)
    hours.register(app)
    info.register(app)
    my_data.register(app)
    subscriptions.register(app)
    events.register(app)
    concern_intake.register(app)
    closures.register(app)
    staff_admin.register(app)
    staff_concerns.register(app)
    events_staff.register(app)
    broadcasts.register(app)
    stats.register(app)
    export.register(app)
    # Takes all other typed input in private chats (drafts, replies to our messages), so it
    # comes after every feature that reacts to text and right before the fall-backs.
    text_input.register(app)
    fallback.register(app)
    errors.register(app)


async def _post_init(app: Application[..., ..., ..., ..., ..., ...]) -> None:  # type: ignore[misc]
    """Open the database in the running loop, then publish the command menus."""
    repos = _repositories(app)
    await repos.db.open()
    await publish_command_menus(app.bot, repos)
    if isinstance(app, QuartierApplication):
        app.broadcaster = BroadcastService(repos, app.bot)
        # Outbox messages take their turns from the broadcasts' pacer: one bot-wide rate.
        app.outbox = OutboxService(repos, app.bot, app.broadcaster.pacer)
        app.outbox.start()
        jobs.schedule(app)


async def _post_stop(app: Application[..., ..., ..., ..., ..., ...]) -> None:  # type: ignore[misc]
    """Stop broadcasts and the outbox before the database closes; both resume at the next start."""
    if isinstance(app, QuartierApplication) and app.broadcaster is not None:
        await app.broadcaster.shutdown()
    if isinstance(app, QuartierApplication) and app.outbox is not None:
        await app.outbox.shutdown()


async def _post_shutdown(app: Application[..., ..., ..., ..., ..., ...]) -> None:  # type: ignore[misc]
    """Close the database and the HTTP clients; every write was already committed."""
    repos = _repositories(app)
    await repos.translation.close()
    await repos.transcription.close()
    await repos.db.close()


def _repositories(app: object) -> Repositories:
    """The repositories of our application type."""
    if not isinstance(app, QuartierApplication):
        raise TypeError("expected a QuartierApplication")
    return app.repos
