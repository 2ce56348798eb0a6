"""/stats for staff: residents, subscribers, this month's concerns, broadcasts and delivery."""

from __future__ import annotations

from datetime import datetime, time

from telegram import Update
from telegram.ext import CommandHandler

from bot.concerns import quarter_name, status_label, topic_label
from bot.context import BotContext, QuartierApplication
from bot.i18n import Translator, native_name
from handlers.common import PRIVATE, audit_denied, message_of, user_of
from storage.concerns import STATUSES


def counted(items: dict[str, int], label: dict[str, str], t: Translator) -> str:
    """'Housing 3, Work 1' in the reader's locale; '–' when empty."""
    parts = [
        t._("{name} {count}", name=label.get(key, key), count=t.fmt_number(value))
        for key, value in sorted(items.items(), key=lambda item: (-item[1], item[0]))
    ]
    return ", ".join(parts) if parts else "–"


async def stats_command(update: Update, context: BotContext) -> None:
    """Figures for the staff member's quarters."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    quarters = sorted(await repos.staff.quarters_of(user.id))
    if not quarters:
        await audit_denied(context, user.id, "stats")
        await message_of(update).reply_text(t._("Sorry, this command is only for staff."))
        return
    now = repos.now().astimezone(repos.config.timezone)
    month_start = datetime.combine(now.date().replace(day=1), time(0, 0), tzinfo=now.tzinfo)
    figures = await repos.stats.figures(quarters, month_start)
    outbox = await repos.outbox.counts()
    config = repos.config
    quarter_labels = {q: quarter_name(q, config) for q in quarters}
    languages = {code: native_name(code) for code in figures.residents_by_language if code != "?"}
    topics = {topic.id: topic_label(topic.id, config, t) for topic in config.topics}
    statuses = {status: status_label(status, t) for status in STATUSES}
    delivered = figures.deliveries_by_state.get("sent", 0)
    total = sum(figures.deliveries_by_state.values())
    rate = f"{t.fmt_number(round(100 * delivered / total))} %" if total else "–"
    lines = [
        t._("Figures for {quarters}", quarters=t.fmt_list(list(quarter_labels.values()))),
        "",
        t._(
            "Residents by quarter: {figures}",
            figures=counted(figures.residents_by_quarter, quarter_labels, t),
        ),
        t._(
            "Residents by language: {figures}",
            figures=counted(figures.residents_by_language, languages, t),
        ),
        t._(
            "Unreachable (blocked the bot): {count}", count=t.fmt_number(figures.inactive_residents)
        ),
        t._(
            "Subscribers by quarter: {figures}",
            figures=counted(figures.subscribers_by_quarter, quarter_labels, t),
        ),
        "",
        t._(
            "Concerns since {date} by topic: {figures}",
            date=t.fmt_short_date(month_start.date()),
            figures=counted(figures.concerns_by_topic, topics, t),
        ),
        t._("… by status: {figures}", figures=counted(figures.concerns_by_status, statuses, t)),
        "",
        t._(
            "Broadcasts since {date}: {count}; messages delivered: {delivered} of {total} ({rate})",
            date=t.fmt_short_date(month_start.date()),
            count=t.fmt_number(figures.broadcasts),
            delivered=t.fmt_number(delivered),
            total=t.fmt_number(total),
            rate=rate,
        ),
        t._(
            "Messages waiting to go out: {waiting}; refused by Telegram: {failed}",
            waiting=t.fmt_number(outbox.waiting),
            failed=t.fmt_number(outbox.failed),
        ),
    ]
    await repos.audit.record(user.id, "stats", ",".join(quarters))
    await message_of(update).reply_text("\n".join(lines))


def register(app: QuartierApplication) -> None:
    """Install /stats."""
    app.add_handler(CommandHandler("stats", stats_command, filters=PRIVATE))
