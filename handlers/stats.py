"""/stats [quarter] [from] [to] for staff: the figures a funding report asks for."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from telegram import Update
from telegram.ext import CommandHandler

from bot.concerns import quarter_name, status_label, topic_label
from bot.context import BotContext, QuartierApplication
from bot.dateparse import parse_date, typed_date
from bot.i18n import Translator, native_name
from handlers.common import PRIVATE, audit_denied, message_of, user_of
from storage.concerns import ALL_STATUSES
from storage.outbox import OutboxCounts
from storage.stats import Figures


def counted(items: dict[str, int], label: dict[str, str], t: Translator) -> str:
    """'Housing 3, Work 1' in the reader's locale; '–' when empty."""
    parts = [
        t._("{name} {count}", name=label.get(key, key), count=t.fmt_number(value))
        for key, value in sorted(items.items(), key=lambda item: (-item[1], item[0]))
    ]
    return ", ".join(parts) if parts else "–"


class StatsRequestError(ValueError):
    """The arguments of /stats cannot be used; the message is already translated."""


def parse_stats_arguments(
    words: list[str], context: BotContext, allowed: frozenset[str], today: date
) -> tuple[list[str], date, date]:
    """`[quarter] [from] [to]`: quarters (default: all of the officer's), the first and last day
    (default: this month so far)."""
    t = context.t
    config = context.repos.config
    quarters = sorted(allowed)
    days: list[date] = []
    for word in words[:3]:
        day = parse_date(word, t.locale)
        quarter = config.find_quarter(word) if day is None else None
        if day is not None and len(days) < 2:
            days.append(day)
        elif quarter is not None and quarter.id in allowed:
            quarters = [quarter.id]
        elif quarter is not None:
            raise StatsRequestError(t._("You are not responsible for this quarter."))
        else:
            raise StatsRequestError(
                t._("I don't understand “{word}”.", word=word[:30])
                + "\n"
                + t._(
                    "Usage: /stats [quarter] [from] [to], e.g. /stats {quarter} {first} {last}",
                    quarter=config.quarters[0].id,
                    first=typed_date(today.replace(day=1), t.locale),
                    last=typed_date(today, t.locale),
                )
            )
    first = days[0] if days else today.replace(day=1)
    last = days[1] if len(days) > 1 else today
    if last < first:
        raise StatsRequestError(t._("The end date is before the start date."))
    return quarters, first, last


async def stats_command(update: Update, context: BotContext) -> None:
    """Figures for a funding report: the staff member's quarters (or one), any period."""
    user = user_of(update)
    t = context.t
    repos = context.repos
    allowed = await repos.staff.quarters_of(user.id)
    if not allowed:
        await audit_denied(context, user.id, "stats")
        await message_of(update).reply_text(t._("Sorry, this command is only for staff."))
        return
    tz = repos.config.timezone
    today = repos.now().astimezone(tz).date()
    try:
        quarters, first, last = parse_stats_arguments(context.args or [], context, allowed, today)
    except StatsRequestError as exc:
        await message_of(update).reply_text(str(exc))
        return
    since = datetime.combine(first, time(0, 0), tzinfo=tz)
    until = datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=tz)
    staff = set(repos.config.staff.admins) | set(await repos.staff.officers_by_user())
    figures = await repos.stats.figures(quarters, since, until, staff)
    outbox = await repos.outbox.counts()
    await repos.audit.record(
        user.id, "stats", ",".join(quarters), {"from": first.isoformat(), "to": last.isoformat()}
    )
    await message_of(update).reply_text(
        "\n".join(stats_lines(figures, quarters, first, last, context) + outbox_lines(outbox, t))
    )


def stats_lines(
    figures: Figures, quarters: list[str], first: date, last: date, context: BotContext
) -> list[str]:
    """The report: people now, and what happened between `first` and `last`."""
    t = context.t
    config = context.repos.config
    quarter_labels = {q: quarter_name(q, config) for q in quarters}
    languages = {code: native_name(code) for code in figures.residents_by_language if code != "?"}
    topics = {topic.id: topic_label(topic.id, config, t) for topic in config.topics}
    statuses = {status: status_label(status, t) for status in ALL_STATUSES}
    delivered = figures.deliveries_by_state.get("sent", 0)
    total = sum(figures.deliveries_by_state.values())
    rate = f"{t.fmt_number(round(100 * delivered / total))} %" if total else "–"

    def hours(value: float | None) -> str:
        """A median span, or a dash when there was nothing to measure."""
        return t.fmt_hours(value) if value is not None else "–"

    return [
        t._("Figures for {quarters}", quarters=t.fmt_list(list(quarter_labels.values()))),
        t._(
            "Period: {first} – {last}",
            first=t.fmt_short_date(first),
            last=t.fmt_short_date(last),
        ),
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
        t._("Concerns by topic: {figures}", figures=counted(figures.concerns_by_topic, topics, t)),
        t._("… by status: {figures}", figures=counted(figures.concerns_by_status, statuses, t)),
        t._("Questions to the office: {count}", count=t.fmt_number(figures.questions)),
        t._(
            "Median time to the office's first reply: {reply}; to done: {done}",
            reply=hours(figures.hours_to_first_reply),
            done=hours(figures.hours_to_done),
        ),
        "",
        t._(
            "Events: {count}; sign-ups: {going}, on waiting lists: {waiting}",
            count=t.fmt_number(figures.events),
            going=t.fmt_number(figures.attending),
            waiting=t.fmt_number(figures.waiting),
        ),
        t._(
            "Broadcasts: {count}; messages delivered: {delivered} of {total} ({rate})",
            count=t.fmt_number(figures.broadcasts),
            delivered=t.fmt_number(delivered),
            total=t.fmt_number(total),
            rate=rate,
        ),
    ]


def outbox_lines(outbox: OutboxCounts, t: Translator) -> list[str]:
    """How the bot's own messages are doing right now."""
    return [
        t._(
            "Messages waiting to go out: {waiting}; refused by Telegram: {failed}",
            waiting=t.fmt_number(outbox.waiting),
            failed=t.fmt_number(outbox.failed),
        )
    ]


def register(app: QuartierApplication) -> None:
    """Install /stats."""
    app.add_handler(CommandHandler("stats", stats_command, filters=PRIVATE))
