"""Staff: /export [csv|xlsx] [from YYYY-MM-DD] [to YYYY-MM-DD] [quarter id] sends a file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from telegram import Update
from telegram.ext import CommandHandler, filters

from bot.context import BotContext, QuartierApplication
from bot.export import ExportRequestError, parse_export_arguments, write_report
from handlers.common import PRIVATE, audit_denied, message_of, user_of


async def export_command(update: Update, context: BotContext) -> None:
    """Export the concerns of the staff member's quarters as a document."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    message = message_of(update)
    allowed = await repos.staff.quarters_of(user.id)
    if not allowed:
        await audit_denied(context, user.id, "export")
        await message.reply_text(t._("Sorry, this command is only for staff."))
        return
    try:
        request = parse_export_arguments(context.args or [], repos.config.quarter_ids, t)
    except ExportRequestError as exc:
        await message.reply_text(str(exc))
        return
    if request.quarter_id is not None and request.quarter_id not in allowed:
        await audit_denied(context, user.id, "export", request.quarter_id)
        await message.reply_text(t._("You are not responsible for this quarter."))
        return
    quarters = {request.quarter_id} if request.quarter_id else set(allowed)
    today = repos.now().astimezone(repos.config.timezone).date()
    filename = f"quartierbot-export-{today.isoformat()}.{request.fmt}"
    with tempfile.TemporaryDirectory(prefix="quartierbot-export-") as directory:
        path = Path(directory) / filename
        count = await write_report(repos, t, quarters, request, path)
        await repos.audit.record(
            user.id,
            "export",
            ",".join(sorted(quarters)),
            {
                "format": request.fmt,
                "from": request.first_day.isoformat() if request.first_day else None,
                "to": request.last_day.isoformat() if request.last_day else None,
                "rows": count,
            },
        )
        with path.open("rb") as handle:
            await message.reply_document(
                handle,
                filename=filename,
                caption=t._n("{count} concern", "{count} concerns", count, count=count),
            )


async def export_in_group(update: Update, context: BotContext) -> None:
    """Exports hold personal data: they are only sent into a private chat."""
    await message_of(update).reply_text(
        context.t._("Please use /export in a private chat with me.")
    )


def register(app: QuartierApplication) -> None:
    """Install /export."""
    app.add_handler(CommandHandler("export", export_command, filters=PRIVATE))
    # New group messages only: an edit or a channel post has nobody to explain this to.
    app.add_handler(
        CommandHandler(
            "export", export_in_group, filters=filters.ChatType.GROUPS & filters.UpdateType.MESSAGE
        )
    )
