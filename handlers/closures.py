"""Staff: /closed adds an office closure or lists upcoming ones with delete buttons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import BotContext, QuartierApplication
from bot.dateparse import example_day, parse_date, typed_date
from bot.i18n import Translator
from handlers.common import (
    PRIVATE,
    admins_only_text,
    audit_denied,
    command_argument,
    edit_text,
    is_admin,
    message_of,
    parse_id,
    user_of,
)
from storage.closures import Closure

MAX_REASON = 200
MAX_DAYS = 366


@dataclass(frozen=True)
class ClosureRequest:
    """A parsed `/closed <from> [<to>] [quarter id[,…]] [reason]`."""

    first_day: date
    last_day: date
    quarter_ids: tuple[str | None, ...]
    reason: str


class ClosureInputError(ValueError):
    """The staff member's input cannot be used; the message is already translated."""


def parse_request(text: str, t: Translator, quarter_ids: set[str], today: date) -> ClosureRequest:
    """Parse the argument text of /closed; raise ClosureInputError with a helpful message."""
    tokens = text.split(None, 1)
    first = parse_date(tokens[0], t.locale)
    if first is None:
        raise ClosureInputError(
            t._(
                "I could not read the date “{text}”. Please write it like {example}.",
                text=tokens[0][:20],
                example=typed_date(example_day(today), t.locale),
            )
        )
    rest = tokens[1] if len(tokens) > 1 else ""
    last = first
    parts = rest.split(None, 1)
    if parts and (second := parse_date(parts[0], t.locale)) is not None:
        last = second
        rest = parts[1] if len(parts) > 1 else ""
    scope: tuple[str | None, ...] = (None,)
    parts = rest.split(None, 1)
    if parts and all(q in quarter_ids for q in parts[0].lower().split(",") if q):
        scope = tuple(dict.fromkeys(q for q in parts[0].lower().split(",") if q))
        rest = parts[1] if len(parts) > 1 else ""
    reason = " ".join(rest.split())
    if last < first:
        raise ClosureInputError(t._("The end date is before the start date."))
    if last < today:
        raise ClosureInputError(t._("This closure is entirely in the past."))
    if (last - first).days >= MAX_DAYS:
        raise ClosureInputError(
            t._n(
                "A closure can last at most {count} day.",
                "A closure can last at most {count} days.",
                MAX_DAYS,
                count=MAX_DAYS,
            )
        )
    if len(reason) > MAX_REASON:
        raise ClosureInputError(
            t._("The reason is too long (at most {count} characters).", count=MAX_REASON)
        )
    return ClosureRequest(first, last, scope, reason)


async def closed_command(update: Update, context: BotContext) -> None:
    """/closed: list (no arguments) or add a closure. Admins only."""
    message = message_of(update)
    user = user_of(update)
    repos = context.repos
    t = context.t
    argument = command_argument(update)
    if not is_admin(context, user.id):
        await audit_denied(context, user.id, "closure.add")
        await message.reply_text(await admins_only_text(context, user.id))
        return
    today = repos.now().astimezone(repos.config.timezone).date()
    if not argument:
        await send_closure_list(message, context, today)
        return
    try:
        request = parse_request(argument, t, set(repos.config.quarter_ids), today)
    except ClosureInputError as exc:
        await message.reply_text(str(exc) + "\n\n" + usage(t, today))
        return
    added = [
        await repos.closures.add(
            user.id, request.first_day, request.last_day, request.reason, quarter_id
        )
        for quarter_id in request.quarter_ids
    ]
    lines = [t._("Saved. The office is closed:")]
    lines += [describe(closure, context) for closure in added]
    await message.reply_text("\n".join(lines))


def usage(t: Translator, today: date) -> str:
    """How to use /closed, with examples in the staff member's date format."""
    start = example_day(today)
    return t._(
        "Usage: /closed <from> [<to>] [quarter] [reason]\n"
        "Example: /closed {start} {end} Team training\n"
        "Without a quarter the closure applies to all offices. "
        "/closed alone lists the coming closures.",
        start=typed_date(start, t.locale),
        end=typed_date(start + timedelta(days=2), t.locale),
    )


def describe(closure: Closure, context: BotContext) -> str:
    """'24.12.2026 – 26.12.2026, Bahnhofsvorstadt: Christmas break'."""
    t = context.t
    quarter = context.repos.config.quarter(closure.quarter_id)
    where = quarter.name if quarter else t._("all offices")
    if closure.first_day == closure.last_day:
        when = t.fmt_short_date(closure.first_day)
    else:
        when = f"{t.fmt_short_date(closure.first_day)} – {t.fmt_short_date(closure.last_day)}"
    if closure.reason:
        return t._("{dates}, {where}: {reason}", dates=when, where=where, reason=closure.reason)
    return t._("{dates}, {where}", dates=when, where=where)


async def closure_list(context: BotContext, today: date) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and delete buttons for the upcoming closures."""
    t = context.t
    closures = await context.repos.closures.upcoming(today)
    if not closures:
        return t._("No office closures are planned."), None
    lines = [t._("Planned office closures:")]
    buttons = []
    for index, closure in enumerate(closures, start=1):
        lines.append(f"{index}. {describe(closure, context)}")
        buttons.append(
            [
                InlineKeyboardButton(
                    t._("🗑 Delete {number}", number=index),
                    callback_data=f"closure:ask:{closure.id}",
                )
            ]
        )
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


async def send_closure_list(message: Message, context: BotContext, today: date) -> None:
    """Send the list of upcoming closures."""
    text, keyboard = await closure_list(context, today)
    await message.reply_text(text, reply_markup=keyboard)


async def closure_button(update: Update, context: BotContext) -> None:
    """Delete buttons: 'ask' shows a confirmation, 'del' deletes, 'keep' returns to the list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    repos = context.repos
    t = context.t
    # Authorised here, on the server: a button press can be forged or forwarded.
    if not is_admin(context, user.id):
        await audit_denied(context, user.id, "closure.delete", query.data[:64])
        await query.answer(t._("Sorry, this is only for staff."), show_alert=True)
        return
    _, action, raw_id = ([*query.data.split(":"), "", ""])[:3]
    today = repos.now().astimezone(repos.config.timezone).date()
    closure_id = parse_id(raw_id)
    if action == "del" and closure_id is not None:
        removed = await repos.closures.delete(user.id, closure_id)
        await query.answer(t._("Deleted.") if removed else t._("This closure was already deleted."))
    elif action == "ask" and closure_id is not None:
        closure = next(
            (c for c in await repos.closures.upcoming(today) if c.id == closure_id), None
        )
        if closure is None:
            await query.answer(t._("This closure was already deleted."))
        else:
            await query.answer()
            confirm = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            t._("Yes, delete"), callback_data=f"closure:del:{closure.id}"
                        ),
                        InlineKeyboardButton(t._("No, keep it"), callback_data="closure:keep:"),
                    ]
                ]
            )
            await edit_text(
                query,
                t._("Delete this closure?\n{closure}", closure=describe(closure, context)),
                reply_markup=confirm,
            )
            return
    else:
        await query.answer()
    text, keyboard = await closure_list(context, today)
    await edit_text(query, text, reply_markup=keyboard)


def register(app: QuartierApplication) -> None:
    """Install /closed and its buttons."""
    app.add_handler(CommandHandler("closed", closed_command, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(closure_button, pattern=r"^closure:"))
