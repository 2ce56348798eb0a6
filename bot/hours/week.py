"""Opening hours of a quarter office: parsing, open/closed state and upcoming closures.

Everything here is pure (no Telegram, no I/O, no database) so that the tricky parts — DST days,
intervals running past midnight, holidays — can be tested exhaustively with plain values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "BREMEN_HOLIDAY_NAMES",
    "WEEKDAY_KEYS",
    "ClosedPeriod",
    "HoursError",
    "Interval",
    "OpenState",
    "WeeklyHours",
    "bremen_holidays",
    "format_day",
    "open_state",
    "parse_day",
    "upcoming_closed_periods",
]

# Index == date.weekday(), so a date's hours are always `days[d.weekday()]`.
WEEKDAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

MINUTES_PER_DAY = 24 * 60

# English names exactly as `holidays` returns them for Germany/Bremen with language="en_US".
# The caller uses them as gettext message ids, so a new name appearing upstream must be added here
# (tests/test_hours.py fails if `bremen_holidays` produces a name missing from this tuple).
BREMEN_HOLIDAY_NAMES: tuple[str, ...] = (
    "New Year's Day",
    "Good Friday",
    "Easter Monday",
    "Labor Day",
    "Ascension Day",
    "Pentecost Monday",
    "German Unity Day",
    "Reformation Day",
    "Christmas Day",
    "Second Day of Christmas",
)

# [0-9] rather than \d: \d also matches non-ASCII digits, which int() would accept silently.
_TIME = r"([0-9]{1,2}):([0-9]{2})"
_INTERVAL = rf"{_TIME}\s*[-–—]\s*{_TIME}"
_INTERVAL_RE = re.compile(_INTERVAL)
# One comma/semicolon separated piece may still hold several intervals separated by whitespace
# only ("10:00-13:00 14:00-16:00"), which admins type often enough to be worth accepting.
_PIECE_RE = re.compile(rf"{_INTERVAL}(?:\s+{_INTERVAL})*")
_SEPARATOR_RE = re.compile(r"[,;]")


class HoursError(ValueError):
    """A malformed opening-hours specification; str(err) is a short English explanation."""


@dataclass(frozen=True, order=True)
class Interval:
    """An opening interval of one local day, in minutes since local midnight."""

    start: int  # 0..1439
    end: int  # 1..1440; 1440 means 24:00, i.e. open until the end of the day

    def __post_init__(self) -> None:
        """Reject intervals that cannot exist, so every Interval in circulation is sane."""
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise HoursError(f"invalid interval {self.start}-{self.end} (minutes since midnight)")


def _format_minutes(minutes: int) -> str:
    """Render minutes since midnight as HH:MM (1440 becomes 24:00)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_day(intervals: Iterable[Interval]) -> str:
    """Render one day's intervals like '10:00–13:00, 14:00–16:00' ('' when closed)."""
    # The output is accepted by parse_day, so stored hours can be shown and edited round-trip.
    return ", ".join(f"{_format_minutes(i.start)}–{_format_minutes(i.end)}" for i in intervals)


def _to_minutes(hour: str, minute: str, piece: str, *, is_end: bool) -> int:
    """Convert one validated-by-regex time to minutes, checking the ranges."""
    h, m = int(hour), int(minute)
    if m > 59:
        raise HoursError(f"'{piece}': minutes must be between 00 and 59")
    if h > 24 or (h == 24 and m != 0):
        raise HoursError(f"'{piece}': hours must be between 00:00 and 24:00")
    if h == 24 and not is_end:
        raise HoursError(f"'{piece}': 24:00 is only allowed as a closing time")
    return h * 60 + m


def _parse_interval(match: re.Match[str]) -> Interval:
    """Turn one regex match of a time range into an Interval."""
    piece = match.group(0)
    start = _to_minutes(match.group(1), match.group(2), piece, is_end=False)
    end = _to_minutes(match.group(3), match.group(4), piece, is_end=True)
    if end <= start:
        raise HoursError(f"'{piece}': the closing time must be after the opening time")
    return Interval(start, end)


def parse_day(text: str) -> tuple[Interval, ...]:
    """Parse one day's spec like '10:00-13:00, 14:00-16:00'."""
    stripped = text.strip()
    if not stripped or stripped.casefold() == "closed":
        return ()
    parsed: list[tuple[Interval, str]] = []
    for raw_piece in _SEPARATOR_RE.split(stripped):
        piece = raw_piece.strip()
        if not piece:
            # Tolerate stray separators ("10:00-13:00,"); they carry no meaning.
            continue
        if _PIECE_RE.fullmatch(piece) is None:
            raise HoursError(f"'{piece}': expected a time range like 10:00-13:00")
        parsed.extend((_parse_interval(m), m.group(0)) for m in _INTERVAL_RE.finditer(piece))
    parsed.sort()
    # Sorted by start, so checking neighbours finds every overlap.
    for (prev, prev_text), (cur, cur_text) in pairwise(parsed):
        if cur.start < prev.end:
            raise HoursError(f"'{prev_text}' overlaps '{cur_text}'")
    merged: list[Interval] = []
    for interval, _ in parsed:
        if merged and merged[-1].end == interval.start:
            # Touching intervals are one opening for the visitor; merging keeps the stored form
            # canonical and "open until" honest.
            merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return tuple(merged)


@dataclass(frozen=True)
class WeeklyHours:
    """Regular opening hours for each weekday, Monday first."""

    days: tuple[tuple[Interval, ...], ...]

    def __post_init__(self) -> None:
        """Enforce the invariants open_state relies on when built directly, not via parse_day."""
        if len(self.days) != len(WEEKDAY_KEYS):
            raise HoursError(f"expected {len(WEEKDAY_KEYS)} days, got {len(self.days)}")
        for key, intervals in zip(WEEKDAY_KEYS, self.days, strict=True):
            for prev, cur in pairwise(intervals):
                if cur.start < prev.end:
                    raise HoursError(f"{key}: intervals must be sorted and must not overlap")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str]) -> WeeklyHours:
        """Build from {'mon': '10:00-13:00', ...}; a missing day is closed."""
        unknown = sorted(key for key in mapping if key not in WEEKDAY_KEYS)
        if unknown:
            raise HoursError(
                f"unknown day '{unknown[0]}'; expected one of {', '.join(WEEKDAY_KEYS)}"
            )
        days: list[tuple[Interval, ...]] = []
        for key in WEEKDAY_KEYS:
            try:
                days.append(parse_day(mapping.get(key, "")))
            except HoursError as err:
                # The day key tells the admin which of the seven specs to fix.
                raise HoursError(f"{key}: {err}") from err
        return cls(tuple(days))

    def to_mapping(self) -> dict[str, str]:
        """Render as {'mon': '10:00–13:00', ...}, omitting closed days (inverse of from_mapping)."""
        pairs = zip(WEEKDAY_KEYS, self.days, strict=True)
        return {key: format_day(day) for key, day in pairs if day}

    def is_empty(self) -> bool:
        """Tell whether the office has no opening at all in the week."""
        return not any(self.days)

    def for_weekday(self, weekday: int) -> tuple[Interval, ...]:
        """Return the intervals of a weekday (0 = Monday, as date.weekday())."""
        # Guard explicitly: a negative index would silently pick a day from the end of the week.
        if not 0 <= weekday < len(self.days):
            raise ValueError(f"weekday must be 0..6, got {weekday}")
        return self.days[weekday]


@dataclass(frozen=True)
class OpenState:
    """Whether the office is open at a moment, and the next change of that state."""

    is_open: bool
    # When open: the real closing moment (touching intervals merged, also across midnight);
    # None if the office stays open through the whole horizon (e.g. 24/7 hours).
    until: datetime | None
    # When closed: the next opening; None if there is no opening within the horizon.
    next_open: datetime | None


def _instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of a local wall-clock time on `day` (1440 = next day 00:00)."""
    # Built from wall-clock fields, not as "UTC instant of local midnight + N minutes": on DST
    # days that lands on 09:00 or 11:00 local, whereas the office opens at 10:00 local.
    # Nonexistent times (spring gap) resolve with fold=0, i.e. they are shifted forward.
    if minutes == MINUTES_PER_DAY:
        day, minutes = day + timedelta(days=1), 0
    local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
    # Compare in UTC only: aware datetimes sharing one tzinfo compare by wall clock and ignore
    # `fold`, which gets the repeated hour of the autumn switch wrong.
    return local.astimezone(UTC)


def _concrete_intervals(
    hours: WeeklyHours,
    first_day: date,
    last_day: date,
    tz: ZoneInfo,
    is_closed: Callable[[date], bool],
) -> Iterator[tuple[datetime, datetime]]:
    """Yield the UTC openings from first_day to last_day (inclusive), lazily, in order."""
    day = first_day
    while day <= last_day:
        intervals = hours.for_weekday(day.weekday())
        # Ask is_closed only for days that would be open: it may be a lookup the caller pays for.
        if intervals and not is_closed(day):
            for interval in intervals:
                start = _instant(day, interval.start, tz)
                end = _instant(day, interval.end, tz)
                # An interval lying wholly inside the spring-forward gap has no real duration.
                if start < end:
                    yield start, end
        day += timedelta(days=1)


def _merge_touching(
    intervals: Iterable[tuple[datetime, datetime]],
) -> Iterator[tuple[datetime, datetime]]:
    """Merge consecutive intervals that touch (e.g. fri 20:00-24:00 + sat 00:00-02:00)."""
    current: tuple[datetime, datetime] | None = None
    for start, end in intervals:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def open_state(
    hours: WeeklyHours,
    now: datetime,
    tz: ZoneInfo,
    is_closed: Callable[[date], bool],
    horizon_days: int = 400,
) -> OpenState:
    """Tell whether the office is open at `now` and until when, or when it opens next."""
    if now.utcoffset() is None:
        # astimezone() would treat a naive value as the server's local time: silently wrong.
        raise ValueError("now must be a timezone-aware datetime")
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, got {horizon_days}")
    now_utc = now.astimezone(UTC)
    today = now.astimezone(tz).date()
    # Start yesterday: its interval ending at 24:00 may merge with today's opening at 00:00.
    first_day = today - timedelta(days=1)
    last_day = today + timedelta(days=horizon_days - 1)
    horizon_end = _instant(last_day, MINUTES_PER_DAY, tz)
    # Lazy all the way down: usually the answer is found within the first few days.
    openings = _merge_touching(_concrete_intervals(hours, first_day, last_day, tz, is_closed))
    for start, end in openings:
        if end <= now_utc:
            continue  # already over; the closing moment itself counts as closed
        if start <= now_utc:
            # The opening moment itself counts as open.
            until = None if end >= horizon_end else end.astimezone(tz)
            return OpenState(is_open=True, until=until, next_open=None)
        return OpenState(is_open=False, until=None, next_open=start.astimezone(tz))
    return OpenState(is_open=False, until=None, next_open=None)


@dataclass(frozen=True)
class ClosedPeriod:
    """A run of days on which the office is closed although it normally would be open."""

    first: date
    last: date  # inclusive
    reason: str


def upcoming_closed_periods(
    hours: WeeklyHours, today: date, days: int, closed: Mapping[date, str]
) -> list[ClosedPeriod]:
    """List closures within today .. today+days-1 that actually cancel opening hours."""
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    periods: list[ClosedPeriod] = []
    run: ClosedPeriod | None = None
    for offset in range(days):
        day = today + timedelta(days=offset)
        if not hours.for_weekday(day.weekday()):
            # Closed anyway: not worth telling, and it must not split a longer closure either
            # (a two-week closure with a weekend inside is one period for the visitor).
            continue
        reason = closed.get(day)
        if reason is not None and run is not None and run.reason == reason:
            run = ClosedPeriod(run.first, day, reason)
            continue
        if run is not None:
            periods.append(run)
        run = None if reason is None else ClosedPeriod(day, day, reason)
    if run is not None:
        periods.append(run)
    return periods


def bremen_holidays(years: Iterable[int]) -> dict[date, str]:
    """Return the public holidays of the state of Bremen as date → English name."""
    year_list = sorted(set(years))
    if not year_list:
        return {}
    calendar = holidays.country_holidays("DE", subdiv="HB", years=year_list, language="en_US")
    result: dict[date, str] = {}
    for day in sorted(calendar):
        # Two holidays on one date come back joined with "; ", which is no gettext message id;
        # keep the first name (the day is closed either way).
        names: list[str] = calendar.get_list(day)
        result[day] = str(names[0])
    return result
