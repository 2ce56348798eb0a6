"""Admins manage quarter officers: /staff, /staff add <user id> <quarters>, /staff remove <id>."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.commands import publish_staff_menu
from bot.context import BotContext, QuartierApplication
from handlers.common import (
    PRIVATE,
    admins_only_text,
    audit_denied,
    is_admin,
    message_of,
    parse_id,
    user_of,
)


async def staff_command(update: Update, context: BotContext) -> None:
    """List, add or remove officers. Admins only."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    message = message_of(update)
    args = context.args or []
    if not is_admin(context, user.id):
        await audit_denied(context, user.id, "staff", " ".join(args[:1])[:20])
        await message.reply_text(await admins_only_text(context, user.id))
        return
    usage = t._("Usage: /staff add <user id> <quarter>[,<quarter>…] or /staff remove <user id>")
    if not args:
        await message.reply_text(await staff_listing(context) + "\n\n" + usage)
        return
    action = args[0].lower()
    officer_id = parse_id(args[1]) if len(args) >= 2 else None
    if action not in ("add", "remove") or officer_id is None:
        await message.reply_text(usage)
        return
    if action == "remove":
        removed = await repos.officers.remove(user.id, officer_id)
        await publish_staff_menu(context.bot, repos, officer_id)
        await message.reply_text(
            t._("{user} is no longer an officer.", user=officer_id)
            if removed
            else t._("{user} was not an officer.", user=officer_id)
        )
        return
    quarters = [q for q in (args[2] if len(args) > 2 else "").lower().split(",") if q]
    unknown = [q for q in quarters if repos.config.quarter(q) is None]
    if not quarters or unknown:
        valid = t.fmt_list(list(repos.config.quarter_ids))
        await message.reply_text(
            t._("Please name known quarters: {valid}.", valid=valid) + "\n" + usage
        )
        return
    await repos.officers.assign(user.id, officer_id, quarters)
    await publish_staff_menu(context.bot, repos, officer_id)
    await message.reply_text(
        t._("{user} now serves: {quarters}.", user=officer_id, quarters=t.fmt_list(quarters))
    )


async def staff_listing(context: BotContext) -> str:
    """Admins and officers with their quarters."""
    t = context.t
    config = context.repos.config
    lines = [t._("Admins: {ids}", ids=", ".join(str(i) for i in sorted(config.staff.admins)))]
    officers = await context.repos.staff.officers_by_user()
    if not officers:
        lines.append(t._("No quarter officers yet."))
    for officer_id, quarters in officers.items():
        lines.append(
            t._(
                "Officer {user}: {quarters}", user=officer_id, quarters=t.fmt_list(sorted(quarters))
            )
        )
    return "\n".join(lines)


def register(app: QuartierApplication) -> None:
    """Install /staff."""
    app.add_handler(CommandHandler("staff", staff_command, filters=PRIVATE))
