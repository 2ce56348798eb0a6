"""What /hours shows: is the quarter office open now, when next, and which closures are coming."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bot.config import Quarter
from bot.hours.week import (
    ClosedPeriod,
    Interval,
    OpenState,
    WeeklyHours,
    bremen_holidays,
    open_state,
    upcoming_closed_periods,
)
from bot.i18n import N_, Translator, bold
from storage.closures import Closure

#: How far ahead /hours lists holidays and closures.
CLOSURE_LOOKAHEAD_DAYS = 28

# The `holidays` package names Bremen's holidays in English; these are our message ids for them,
# so every resident reads them in their own language.
HOLIDAY_NAMES: Mapping[str, str] = {
    "New Year's Day": N_("New Year's Day"),
    "Good Friday": N_("Good Friday"),
    "Easter Monday": N_("Easter Monday"),
    "Labor Day": N_("Labour Day"),
    "Ascension Day": N_("Ascension Day"),
    "Pentecost Monday": N_("Whit Monday"),
    "German Unity Day": N_("German Unity Day"),
    "Reformation Day": N_("Reformation Day"),
    "Christmas Day": N_("Christmas Day"),
    "Second Day of Christmas": N_("Boxing Day"),
}


@dataclass(eq=False)
class HolidayCalendar:
    """Bremen public holidays, computed once per year and cached."""

    _years: dict[int, dict[date, str]] = field(default_factory=dict)

    def for_years(self, first: int, last: int) -> dict[date, str]:
        """Holidays (date → English name) of the years first..last."""
        result: dict[date, str] = {}
        for year in range(first, last + 1):
            if year not in self._years:
                self._years[year] = bremen_holidays([year])
            result.update(self._years[year])
        return result


@dataclass(frozen=True)
class OfficeStatus:
    """What /hours shows for one quarter at one moment."""

    quarter: Quarter
    now: datetime
    state: OpenState
    closed_periods: list[ClosedPeriod]


def compute_status(
    quarter: Quarter,
    now: datetime,
    closures: Sequence[Closure],
    calendar: HolidayCalendar,
    t: Translator,
) -> OfficeStatus:
    """Combine weekly hours, Bremen holidays and staff closures (reasons already translated)."""
    local_now = now.astimezone(t.tz)
    today = local_now.date()
    holidays = calendar.for_years(today.year - 1, today.year + 2)
    relevant = [c for c in closures if c.applies_to(quarter.id)]

    def is_closed(day: date) -> bool:
        """Holiday or staff closure."""
        return day in holidays or any(c.first_day <= day <= c.last_day for c in relevant)

    reasons: dict[date, str] = {}
    horizon = today + timedelta(days=CLOSURE_LOOKAHEAD_DAYS)
    for day, name in holidays.items():
        if today <= day < horizon:
            reasons[day] = t._(HOLIDAY_NAMES.get(name, name))
    for closure in relevant:
        day = max(closure.first_day, today)
        while day <= closure.last_day and day < horizon:
            # A staff closure's own words win over the holiday name: they are more specific.
            reasons[day] = closure.reason or t._("Office closed")
            day += timedelta(days=1)
    state = open_state(quarter.office.hours, now, t.tz, is_closed)
    periods = upcoming_closed_periods(quarter.office.hours, today, CLOSURE_LOOKAHEAD_DAYS, reasons)
    return OfficeStatus(
        quarter=quarter,
        now=local_now,
        state=state,
        closed_periods=as_entered(periods, relevant, today, t),
    )


def as_entered(
    periods: list[ClosedPeriod], closures: Sequence[Closure], today: date, t: Translator
) -> list[ClosedPeriod]:
    """Staff closures shown with the dates staff entered, not only their opening days.

    "Closed 24.12.–31.12." is what the office announced on its door; showing "28.12.–30.12."
    because the office opens Monday to Wednesday reads like a different closure.
    """
    shown: list[ClosedPeriod] = []
    for period in periods:
        # Every closure with this reason inside the run: two weeks with a weekend between are
        # one run of opening days, and both stay visible.
        within = [
            c
            for c in closures
            if c.first_day <= period.last
            and c.last_day >= period.first
            and (c.reason or t._("Office closed")) == period.reason
        ]
        if within:
            first = max(min(c.first_day for c in within), today)
            period = ClosedPeriod(first, max(c.last_day for c in within), period.reason)
        if not shown or shown[-1] != period:
            shown.append(period)
    return shown


def status_text(
    quarter: Quarter,
    now: datetime,
    closures: Sequence[Closure],
    calendar: HolidayCalendar,
    t: Translator,
) -> str:
    """The /hours message (HTML) at `now`."""
    return render_status(compute_status(quarter, now, closures, calendar, t), t)


def office_title(quarter: Quarter, t: Translator) -> str:
    """The office's configured name, else 'Quarter office <quarter>'."""
    return quarter.office.name or t._("Quarter office {quarter}", quarter=quarter.name)


def render_status(status: OfficeStatus, t: Translator) -> str:
    """The /hours message (HTML): office, address, open state, weekly hours, closures."""
    quarter = status.quarter
    office = quarter.office
    lines = [bold(office_title(quarter, t))]
    if office.address:
        lines.append("📍 " + html.escape(office.address))
    if office.phone:
        lines.append("☎️ " + t.isolate(html.escape(office.phone)))
    if office.email:
        lines.append("✉️ " + t.isolate(html.escape(office.email)))
    lines += ["", render_open_state(status, t), "", bold(t._("Opening hours"))]
    lines += [html.escape(line) for line in render_week(office.hours, t)]
    if status.closed_periods:
        lines += ["", bold(t._("Closed on these days"))]
        lines += [html.escape(render_period(period, t)) for period in status.closed_periods]
    return "\n".join(lines)


def render_open_state(status: OfficeStatus, t: Translator) -> str:
    """'🟢 Open now, until 16:00' or '🔴 Closed — opens Monday at 10:00'."""
    state = status.state
    today = status.now.date()
    if state.is_open and state.until is None:
        # Open around the clock with no closure ahead: there is no closing time to tell.
        return "🟢 " + t._("Open now")
    if state.is_open and state.until is not None:
        until = state.until.astimezone(t.tz)
        if until.time() == time(0, 0) and until.date() == today + timedelta(days=1):
            return "🟢 " + t._("Open now, until midnight")
        if until.date() == today:
            return "🟢 " + t._("Open now, until {time}", time=t.fmt_time(until))
        return "🟢 " + t._(
            "Open now, until {day} at {time}", day=t.fmt_date(until), time=t.fmt_time(until)
        )
    if state.next_open is None:
        return "🔴 " + t._("Closed. No opening hours are planned at the moment.")
    opens = state.next_open.astimezone(t.tz)
    days_ahead = (opens.date() - today).days
    when = t.fmt_time(opens)
    if days_ahead == 0:
        return "🔴 " + t._("Closed — opens today at {time}", time=when)
    if days_ahead == 1:
        return "🔴 " + t._("Closed — opens tomorrow at {time}", time=when)
    if days_ahead < 7:
        return "🔴 " + t._(
            "Closed — opens {weekday} at {time}", weekday=t.weekday(opens.weekday()), time=when
        )
    return "🔴 " + t._("Closed — opens on {date} at {time}", date=t.fmt_date(opens), time=when)


def render_week(hours: WeeklyHours, t: Translator) -> list[str]:
    """One line per weekday, Monday first, in the reader's language."""
    lines = []
    for weekday in range(7):
        intervals = hours.for_weekday(weekday)
        if intervals:
            spans = t.fmt_series([render_interval(interval, t) for interval in intervals])
        else:
            spans = t._("closed")
        lines.append(t._("{weekday}: {hours}", weekday=t.weekday(weekday), hours=spans))
    return lines


def render_interval(interval: Interval, t: Translator) -> str:
    """'10:00–13:00'; an interval ending at 24:00 ends at 'midnight'."""
    start = t.fmt_time(_clock(interval.start))
    end = t._("midnight") if interval.end >= 24 * 60 else t.fmt_time(_clock(interval.end))
    return f"{start}–{end}"


def render_period(period: ClosedPeriod, t: Translator) -> str:
    """'Thursday 24 December – Saturday 26 December: Christmas break'."""
    if period.first == period.last:
        when = t.fmt_date(period.first)
    else:
        when = f"{t.fmt_date(period.first)} – {t.fmt_date(period.last)}"
    return t._("{dates}: {reason}", dates=when, reason=period.reason)


def _clock(minutes: int) -> time:
    """Minutes since midnight → time."""
    return time(minutes // 60, minutes % 60)
