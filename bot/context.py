"""The typed application and callback context that every handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.broadcasts import BroadcastService
from bot.i18n import Translator
from bot.outbox import OutboxService
from bot.ratelimit import RateLimitArgs
from bot.repositories import Repositories
from storage.drafts import StaffDraft
from storage.residents import Resident

AnyDict = dict[Any, Any]
#: Continues a staff member's conversation (a new event, a broadcast) with their typed input.
StaffInput = Callable[[Update, "BotContext", StaffDraft], Awaitable[None]]
#: Takes a resident's typed input that no command, button or staff conversation took.
ResidentInput = Callable[[Update, "BotContext"], Awaitable[None]]


class QuartierApplication(
    Application[ExtBot[RateLimitArgs], "BotContext", AnyDict, AnyDict, AnyDict, Any]
):
    """python-telegram-bot's Application, carrying our repositories, not an untyped bot_data."""

    def __init__(self, *, repos: Repositories, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repos = repos
        #: Delivers broadcasts in the background; created at start-up, when the bot exists.
        self.broadcaster: BroadcastService | None = None
        #: Delivers the outbox in the background; created at start-up, like the broadcaster.
        self.outbox: OutboxService | None = None
        #: Where typed input goes (handlers/text_input.py): features register themselves here
        #: in their register(app), so the router needs to import none of them.
        self.staff_input: dict[str, StaffInput] = {}
        self.resident_input: ResidentInput | None = None


class BotContext(CallbackContext[ExtBot[RateLimitArgs], AnyDict, AnyDict, AnyDict]):
    """CallbackContext with the repositories, the resident and their translator."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self._translator: Translator | None = None
        #: The stored resident behind this update, loaded once per update by the identify step.
        self.resident: Resident | None = None

    @property
    def repos(self) -> Repositories:
        """The running bot's repositories and configuration."""
        application = self.application
        if not isinstance(application, QuartierApplication):
            raise TypeError("BotContext needs a QuartierApplication")
        return application.repos

    @property
    def outbox(self) -> OutboxService:
        """The running bot's outbox delivery (handlers wake it after committing a message)."""
        application = self.application
        if not isinstance(application, QuartierApplication) or application.outbox is None:
            raise RuntimeError("the outbox is not running")
        return application.outbox

    @property
    def broadcaster(self) -> BroadcastService:
        """The running bot's broadcast service."""
        application = self.application
        if not isinstance(application, QuartierApplication) or application.broadcaster is None:
            raise RuntimeError("the broadcast service is not running")
        return application.broadcaster

    @property
    def t(self) -> Translator:
        """The translator for this update's user (the default language before identification)."""
        if self._translator is None:
            catalogs = self.repos.catalogs
            self._translator = catalogs.translator(catalogs.default_language)
        return self._translator

    def use_language(self, language: str) -> None:
        """Answer this update in `language` from now on (e.g. right after the user picked it)."""
        self._translator = self.repos.catalogs.translator(language)


BotJobQueue = JobQueue[BotContext]
