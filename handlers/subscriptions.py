"""What a resident hears about: /subscribe, /unsubscribe, /stop, and the settings menu."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import BotContext, QuartierApplication
from bot.i18n import Translator, native_name
from bot.menu import (
    MENU_SETTINGS,
    language_keyboard,
    quarter_keyboard,
)
from bot.privacy import privacy_notice
from handlers.common import PRIVATE, edit_text, message_of, unknown_quarter_text, user_of


def choose_topics_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """The button under a /subscribe answer (the same for every reader of a language)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t._("🏷 Choose topics"), callback_data="sub:topics")]]
    )


def mark(selected: bool, label: str) -> str:
    """A toggle button label."""
    return ("✅ " if selected else "▫️ ") + label


async def subscription_keyboard(context: BotContext, user_id: int) -> InlineKeyboardMarkup:
    """One toggle per quarter, then 'all', topics and done."""
    t = context.t
    followed = await context.repos.subscriptions.quarters_of(user_id)
    rows = [
        [InlineKeyboardButton(mark(q.id in followed, q.name), callback_data=f"sub:t:{q.id}")]
        for q in context.repos.config.quarters
    ]
    rows.append([InlineKeyboardButton(t._("All quarters"), callback_data="sub:all")])
    rows.append(
        [
            InlineKeyboardButton(t._("🏷 Topics"), callback_data="sub:topics"),
            InlineKeyboardButton(t._("✔️ Done"), callback_data="sub:done"),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def topic_keyboard(context: BotContext, user_id: int) -> InlineKeyboardMarkup:
    """One toggle per topic (none selected: all topics), then 'all' and done."""
    t = context.t
    config = context.repos.config
    chosen = await context.repos.subscriptions.topics_of(user_id)
    buttons = [
        InlineKeyboardButton(
            mark(topic.id in chosen, topic.label(t, config.default_language)),
            callback_data=f"subtopic:{topic.id}",
        )
        for topic in config.topics
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [
            InlineKeyboardButton(mark(not chosen, t._("All topics")), callback_data="subtopic:*"),
            InlineKeyboardButton(t._("✔️ Done"), callback_data="sub:done"),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def subscription_summary(context: BotContext, user_id: int) -> str:
    """'You get news from: …; topics: …' in the reader's language."""
    t = context.t
    repos = context.repos
    quarters = await repos.subscriptions.quarters_of(user_id)
    topics = await repos.subscriptions.topics_of(user_id)
    if not quarters:
        return t._("You do not get news from any quarter. /subscribe to change that.")
    names = [q.name for q in repos.config.quarters if q.id in quarters]
    topic_names = [
        topic.label(t, repos.config.default_language)
        for topic in repos.config.topics
        if topic.id in topics
    ]
    return t._(
        "You get news from: {quarters}. Topics: {topics}.",
        quarters=t.fmt_list(names),
        topics=t.fmt_list(topic_names) if topic_names else t._("all topics"),
    )


def resolve_quarters(context: BotContext, argument: str) -> list[str] | None:
    """'all' or one quarter id → quarter ids; None if unknown."""
    config = context.repos.config
    if argument == "all":
        return list(config.quarter_ids)
    return [argument] if config.quarter(argument) else None


async def subscribe_command(update: Update, context: BotContext) -> None:
    """/subscribe [quarter id|all]."""
    await change_subscription(update, context, subscribe=True)


async def unsubscribe_command(update: Update, context: BotContext) -> None:
    """/unsubscribe [quarter id|all]."""
    await change_subscription(update, context, subscribe=False)


async def change_subscription(update: Update, context: BotContext, subscribe: bool) -> None:
    """With an argument change directly, else show the toggles."""
    message = message_of(update)
    user = user_of(update)
    t = context.t
    argument = (context.args[0] if context.args else "").strip().lower()
    if not argument:
        await message.reply_text(
            t._("Which quarters do you want news from? Tap to switch on or off."),
            reply_markup=await subscription_keyboard(context, user.id),
        )
        return
    quarter_ids = resolve_quarters(context, argument)
    if quarter_ids is None:
        await message.reply_text(unknown_quarter_text(context, argument))
        return
    repository = context.repos.subscriptions
    if subscribe:
        await ensure_resident(context, user.id)
        await repository.subscribe(user.id, quarter_ids)
    else:
        await repository.unsubscribe(user.id, quarter_ids)
    await message.reply_text(
        await subscription_summary(context, user.id),
        reply_markup=choose_topics_keyboard(t) if subscribe else None,
    )


async def ensure_resident(context: BotContext, user_id: int) -> None:
    """Subscribing needs a resident row (language for the news); create it if missing."""
    if context.resident is None:
        context.resident = await context.repos.residents.register(user_id)
        await context.repos.residents.set_language(user_id, context.t.language)


async def stop_command(update: Update, context: BotContext) -> None:
    """/stop: no news at all, in one step."""
    user = user_of(update)
    t = context.t
    await context.repos.subscriptions.stop(user.id)
    await message_of(update).reply_text(
        t._("Done. You will not get any news any more. Send /subscribe to start again.")
    )


async def subscription_button(update: Update, context: BotContext) -> None:
    """Toggles and navigation of the subscription keyboards."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    t = context.t
    repos = context.repos
    parts = query.data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    if action == "t" and len(parts) == 3 and repos.config.quarter(parts[2]):
        await ensure_resident(context, user.id)
        followed = await repos.subscriptions.quarters_of(user.id)
        if parts[2] in followed:
            await repos.subscriptions.unsubscribe(user.id, [parts[2]])
        else:
            await repos.subscriptions.subscribe(user.id, [parts[2]])
        await query.answer()
        await edit_text(
            query,
            t._("Which quarters do you want news from? Tap to switch on or off."),
            reply_markup=await subscription_keyboard(context, user.id),
        )
    elif action == "all":
        await ensure_resident(context, user.id)
        await repos.subscriptions.subscribe(user.id, repos.config.quarter_ids)
        await query.answer()
        await edit_text(
            query,
            t._("Which quarters do you want news from? Tap to switch on or off."),
            reply_markup=await subscription_keyboard(context, user.id),
        )
    elif action == "topics":
        await query.answer()
        await edit_text(query, topic_prompt(t), reply_markup=await topic_keyboard(context, user.id))
    elif action == "open":
        await query.answer()
        await edit_text(
            query,
            t._("Which quarters do you want news from? Tap to switch on or off."),
            reply_markup=await subscription_keyboard(context, user.id),
        )
    elif action == "done":
        await query.answer()
        await edit_text(query, await subscription_summary(context, user.id))
    elif action == "add" and len(parts) == 3 and repos.config.quarter(parts[2]):
        await ensure_resident(context, user.id)
        await repos.subscriptions.subscribe(user.id, [parts[2]])
        await query.answer()
        await edit_text(query, await subscription_summary(context, user.id))
    elif action == "no":
        await query.answer()
        await edit_text(query, t._("All right, no news. /subscribe switches them on at any time."))
    else:
        await query.answer(t._("This button is no longer active."), show_alert=True)


def topic_prompt(t: Translator) -> str:
    """The question above the topic toggles."""
    return t._("Which topics interest you? If you choose none, you get news on all topics.")


async def topic_button(update: Update, context: BotContext) -> None:
    """Toggle one topic, or back to all topics."""
    query = update.callback_query
    assert query is not None and query.data is not None
    user = user_of(update)
    repos = context.repos
    topic_id = query.data.removeprefix("subtopic:")
    chosen = set(await repos.subscriptions.topics_of(user.id))
    if topic_id == "*":
        chosen = set()
    elif topic_id in {topic.id for topic in repos.config.topics}:
        chosen ^= {topic_id}
    else:
        await query.answer(context.t._("This button is no longer active."), show_alert=True)
        return
    await repos.subscriptions.set_topics(user.id, chosen)
    await query.answer()
    await edit_text(
        query, topic_prompt(context.t), reply_markup=await topic_keyboard(context, user.id)
    )


async def settings_command(update: Update, context: BotContext) -> None:
    """/settings and the menu button: current choices with buttons to change them."""
    await send_settings(message_of(update), context, user_of(update).id)


async def send_settings(message: Message, context: BotContext, user_id: int) -> None:
    """Language, home quarter, news and topics at a glance."""
    t = context.t
    resident = context.resident
    quarter = context.repos.config.quarter(resident.quarter_id if resident else None)
    lines = [
        t._("Your settings"),
        "",
        t._("Language: {language}", language=native_name(t.language)),
        t._("Quarter: {quarter}", quarter=quarter.name if quarter else "–"),
        await subscription_summary(context, user_id),
    ]
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t._("🌐 Language"), callback_data="set:language"),
                InlineKeyboardButton(t._("📍 My quarter"), callback_data="set:quarter"),
            ],
            [
                InlineKeyboardButton(t._("🔔 News"), callback_data="sub:open"),
                InlineKeyboardButton(t._("🏷 Topics"), callback_data="sub:topics"),
            ],
            [InlineKeyboardButton(t._("🔒 Privacy"), callback_data="set:privacy")],
        ]
    )
    await message.reply_text("\n".join(lines), reply_markup=keyboard)


async def settings_button(update: Update, context: BotContext) -> None:
    """Language, quarter and privacy from the settings message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        return
    t = context.t
    current = context.resident
    if query.data == "set:language":
        await message.reply_text(
            t._("Please choose your language."),
            reply_markup=language_keyboard(
                context.repos.catalogs.offered, current.language if current else None
            ),
        )
    elif query.data == "set:quarter":
        await message.reply_text(
            t._("Which quarter do you live in?"),
            reply_markup=quarter_keyboard(
                context.repos.config.quarters, "quarter", current.quarter_id if current else None
            ),
        )
    elif query.data == "set:privacy":
        config = context.repos.config
        notice = privacy_notice(t, config.privacy, config.translation, config.transcription)
        await message.reply_text(notice, parse_mode=ParseMode.HTML)


def register(app: QuartierApplication) -> None:
    """Install subscriptions and settings."""
    catalogs = app.repos.catalogs
    app.add_handler(CommandHandler("subscribe", subscribe_command, filters=PRIVATE))
    app.add_handler(CommandHandler("unsubscribe", unsubscribe_command, filters=PRIVATE))
    app.add_handler(CommandHandler("stop", stop_command, filters=PRIVATE))
    app.add_handler(CommandHandler("settings", settings_command, filters=PRIVATE))
    app.add_handler(
        MessageHandler(
            PRIVATE & filters.Text(catalogs.all_translations(MENU_SETTINGS)), settings_command
        )
    )
    app.add_handler(CallbackQueryHandler(subscription_button, pattern=r"^sub:"))
    app.add_handler(CallbackQueryHandler(topic_button, pattern=r"^subtopic:"))
    app.add_handler(
        CallbackQueryHandler(settings_button, pattern=r"^set:(language|quarter|privacy)$")
    )
