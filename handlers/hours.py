"""/hours: where the quarter office is and whether it is open now."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.config import Quarter
from bot.context import BotContext, QuartierApplication
from bot.hours.status import status_text
from bot.menu import MENU_HOURS, quarter_keyboard
from handlers.common import (
    PRIVATE,
    edit_text,
    message_of,
    quarter_from_button,
    unknown_quarter_text,
)


async def office_text(context: BotContext, quarter: Quarter) -> str:
    """The rendered office status for `quarter` at the current moment."""
    repos = context.repos
    now = repos.now()
    today = now.astimezone(repos.config.timezone).date()
    closures = await repos.closures.upcoming(today, quarter.id)
    return status_text(quarter, now, closures, repos.holidays, context.t)


async def hours_command(update: Update, context: BotContext) -> None:
    """/hours [quarter id], default the resident's quarter; ask when there is none."""
    message = message_of(update)
    config = context.repos.config
    quarter_id = " ".join(context.args or ()).strip()
    if quarter_id:
        quarter = config.find_quarter(quarter_id)
        if quarter is None:
            await message.reply_text(
                unknown_quarter_text(context, quarter_id),
                reply_markup=quarter_keyboard(config.quarters, "hours"),
            )
            return
    else:
        quarter = config.quarter(context.resident.quarter_id if context.resident else None)
    if quarter is None:
        if len(config.quarters) == 1:
            quarter = config.quarters[0]
        else:
            await message.reply_text(
                context.t._("Which quarter office do you mean?"),
                reply_markup=quarter_keyboard(config.quarters, "hours"),
            )
            return
    await send_hours(message, context, quarter)


async def send_hours(message: Message, context: BotContext, quarter: Quarter) -> None:
    """Answer with the office status."""
    await message.reply_text(await office_text(context, quarter), parse_mode=ParseMode.HTML)


async def hours_chosen(update: Update, context: BotContext) -> None:
    """A quarter was picked for /hours."""
    query = update.callback_query
    quarter = await quarter_from_button(update, context, "hours")
    if quarter is not None and query is not None:
        await edit_text(query, await office_text(context, quarter), parse_mode=ParseMode.HTML)


def register(app: QuartierApplication) -> None:
    """Install /hours, its menu button and its quarter buttons."""
    app.add_handler(CommandHandler("hours", hours_command, filters=PRIVATE))
    app.add_handler(
        MessageHandler(
            PRIVATE & filters.Text(app.repos.catalogs.all_translations(MENU_HOURS)),
            hours_command,
        )
    )
    app.add_handler(CallbackQueryHandler(hours_chosen, pattern=r"^hours:"))
