"""Admins manage quarter officers: /staff, /staff add <user id> <quarters>, /staff remove <id>."""

from __future__ import annotations

from telegram import Message, MessageOriginUser, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from bot.commands import publish_staff_menu
from bot.concerns import quarter_name
from bot.context import BotContext, QuartierApplication
from bot.notify import send_to_resident
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
    forwarded = forwarded_user(message)
    if officer_id is None and forwarded is not None:
        # "/staff add <quarters>" as an answer to a message forwarded from the new officer.
        officer_id, args = forwarded, [args[0], str(forwarded), *args[1:]]
    if len(args) >= 2 and args[1].startswith("@"):
        await message.reply_text(
            t._(
                "Telegram does not tell bots who {name} is. Forward a message from them to me "
                "and answer it with /staff add <quarter>, or use their user number.",
                name=args[1][:40],
            )
        )
        return
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
    names = [quarter_name(q, repos.config) for q in quarters]
    # The new officer hears of it (if they have started the bot; otherwise the admin is told).
    told = await send_to_resident(
        context.bot,
        repos,
        officer_id,
        lambda reader: reader._(
            "You are now an officer of the quarter office for {quarters}. /help shows your "
            "commands.",
            quarters=reader.fmt_list(names),
        ),
    )
    text = t._("{user} now serves: {quarters}.", user=officer_id, quarters=t.fmt_list(quarters))
    if told is None:
        text += "\n" + t._(
            "They have not started the bot yet: please ask them to open it and send /start."
        )
    await message.reply_text(text)


async def staff_listing(context: BotContext) -> str:
    """Admins and officers with their quarters, named as Telegram shows them (not stored)."""
    t = context.t
    config = context.repos.config
    admins = [await named(context, i) for i in sorted(config.staff.admins)]
    lines = [t._("Admins: {ids}", ids=", ".join(admins))]
    officers = await context.repos.staff.officers_by_user()
    if not officers:
        lines.append(t._("No quarter officers yet."))
    for officer_id, quarters in officers.items():
        lines.append(
            t._(
                "Officer {user}: {quarters}",
                user=await named(context, officer_id),
                quarters=t.fmt_list(sorted(quarters)),
            )
        )
    return "\n".join(lines)


async def named(context: BotContext, user_id: int) -> str:
    """'Iris (900001)': the first name Telegram gives for someone who started the bot."""
    try:
        chat = await context.bot.get_chat(user_id)
    except TelegramError:
        return str(user_id)
    return f"{chat.first_name} ({user_id})" if chat.first_name else str(user_id)


def forwarded_user(message: Message) -> int | None:
    """The sender of the message this one answers, if it was forwarded from a user who lets
    Telegram show who they are."""
    reply = message.reply_to_message
    origin = reply.forward_origin if reply is not None else None
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.id
    return None


def register(app: QuartierApplication) -> None:
    """Install /staff."""
    app.add_handler(CommandHandler("staff", staff_command, filters=PRIVATE))
