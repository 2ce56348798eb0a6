"""Routes typed input in private chats that no command or menu button took.

One explicit place decides, in order: a staff conversation (event, broadcast), then the
resident's concern conversation or a reply to one of our concern messages, then "not understood".
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.context import BotContext, QuartierApplication
from handlers.common import PRIVATE, user_of


async def on_input(update: Update, context: BotContext) -> None:
    """Dispatch typed input to the conversation it belongs to."""
    repos = context.repos
    application = context.application
    assert isinstance(application, QuartierApplication)
    user = user_of(update)
    # Staff first: residents' messages never need the staff-draft lookup.
    draft = await repos.staff_drafts.get(user.id) if await repos.staff.is_staff(user.id) else None
    staff_input = application.staff_input.get(draft.kind) if draft is not None else None
    if draft is not None and staff_input is not None:
        await staff_input(update, context, draft)
        return
    if application.resident_input is not None:
        await application.resident_input(update, context)


def register(app: QuartierApplication) -> None:
    """Install the router; registered after every feature that reacts to text, before fall-backs."""
    app.add_handler(MessageHandler(PRIVATE & ~filters.COMMAND, on_input))
