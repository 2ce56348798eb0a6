"""Table-driven tests for bot.hours: parsing, open/closed state (incl. DST), closures, holidays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.hours.status import render_week
from bot.hours.week import (
    BREMEN_HOLIDAY_NAMES,
    WEEKDAY_KEYS,
    ClosedPeriod,
    HoursError,
    Interval,
    OpenState,
    WeeklyHours,
    bremen_holidays,
    format_day,
    open_state,
    parse_day,
    upcoming_closed_periods,
)
from bot.i18n import Catalogs

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

# A typical quarter office: lunch break on weekdays, Saturday morning, closed on Sunday.
OFFICE = WeeklyHours.from_mapping(
    {**dict.fromkeys(WEEKDAYS, "10:00-13:00, 14:00-16:00"), "sat": "10:00-13:00"}
)
MON_FRI = WeeklyHours.from_mapping(dict.fromkeys(WEEKDAYS, "10:00-16:00"))
# A late-night opening that runs past midnight into Saturday.
NIGHT = WeeklyHours.from_mapping({"fri": "20:00-24:00", "sat": "00:00-02:00"})
SUNDAY = WeeklyHours.from_mapping({"sun": "10:00-16:00"})
# Ends inside the repeated hour of the autumn switch (02:30 exists twice on 2026-10-25).
SUNDAY_EARLY = WeeklyHours.from_mapping({"sun": "00:00-02:30"})
# Spans the spring-forward gap (02:00-03:00 does not exist on 2026-03-29).
SUNDAY_NIGHT = WeeklyHours.from_mapping({"sun": "01:00-03:00"})
ALWAYS = WeeklyHours.from_mapping(dict.fromkeys(WEEKDAY_KEYS, "00:00-24:00"))
EMPTY = WeeklyHours.from_mapping({})

BREMEN = bremen_holidays([2026, 2027])
# Two full weeks, Monday 2026-08-03 .. Sunday 2026-08-16, weekends listed too.
SUMMER_CLOSURE = {date(2026, 8, 3) + timedelta(days=i): "Summer break" for i in range(14)}


def berlin(
    year: int, month: int, day: int, hour: int, minute: int, second: int = 0, *, fold: int = 0
) -> datetime:
    """Aware Europe/Berlin datetime from wall-clock fields (fold=1: second pass of a repeat)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN, fold=fold)


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """Aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def never(_: date) -> bool:
    """No holidays or closures at all."""
    return False


def always(_: date) -> bool:
    """Closed for good."""
    return True


def closed_on(*days: date) -> Callable[[date], bool]:
    """A closure predicate for exactly the given dates."""
    return frozenset(days).__contains__


def is_bremen_holiday(day: date) -> bool:
    """Closed on Bremen public holidays."""
    return day in BREMEN


def summer_closure(day: date) -> bool:
    """Closed 2026-08-03 (Mon) .. 2026-08-16 (Sun)."""
    return day in SUMMER_CLOSURE


def describe(state: OpenState) -> tuple[bool, str | None, str | None]:
    """Render a state with ISO timestamps, so the UTC offset is asserted too."""
    # Plain datetime equality is not enough: two aware datetimes with the same tzinfo compare by
    # wall clock only, which would hide a wrong offset on DST days.
    return (
        state.is_open,
        None if state.until is None else state.until.isoformat(),
        None if state.next_open is None else state.next_open.isoformat(),
    )


# ---------------------------------------------------------------------------------------------
# parse_day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("10:00-13:00", ((600, 780),), id="single"),
        pytest.param("10:00-13:00, 14:00-16:00", ((600, 780), (840, 960)), id="two-comma"),
        pytest.param("10:00-13:00;14:00-16:00", ((600, 780), (840, 960)), id="semicolon"),
        pytest.param("10:00-13:00 14:00-16:00", ((600, 780), (840, 960)), id="whitespace-sep"),
        pytest.param("10:00–13:00", ((600, 780),), id="en-dash"),
        pytest.param("10:00—13:00", ((600, 780),), id="em-dash"),
        pytest.param(" \t10:00 - 13:00 ;  14:00 – 16:00\n", ((600, 780), (840, 960)), id="spaces"),
        pytest.param("9:00-12:30", ((540, 750),), id="h-mm"),
        pytest.param("0:00-1:05", ((0, 65),), id="h-mm-both"),
        pytest.param("14:00-16:00, 10:00-13:00", ((600, 780), (840, 960)), id="sorted"),
        pytest.param("10:00-12:00, 12:00-14:00", ((600, 840),), id="touching-merged"),
        pytest.param(
            "14:00-15:00, 10:00-12:00, 12:00-14:00", ((600, 900),), id="touching-chain-merged"
        ),
        pytest.param("00:00-24:00", ((0, 1440),), id="whole-day"),
        pytest.param("20:00-24:00", ((1200, 1440),), id="until-midnight"),
        pytest.param("23:59-24:00", ((1439, 1440),), id="last-minute"),
        pytest.param("10:00-13:00,", ((600, 780),), id="trailing-separator"),
        pytest.param("", (), id="empty"),
        pytest.param("   \t", (), id="blank"),
        pytest.param("closed", (), id="closed"),
        pytest.param("  CLOSED ", (), id="closed-upper"),
        pytest.param("Closed", (), id="closed-title"),
    ],
)
def test_parse_day_valid(text: str, expected: tuple[tuple[int, int], ...]) -> None:
    assert parse_day(text) == tuple(Interval(start, end) for start, end in expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "25:00-26:00", "'25:00-26:00': hours must be between 00:00 and 24:00", id="hour-25"
        ),
        pytest.param(
            "22:00-24:30", "'22:00-24:30': hours must be between 00:00 and 24:00", id="hour-24-30"
        ),
        pytest.param(
            "10:60-11:00", "'10:60-11:00': minutes must be between 00 and 59", id="minute-60"
        ),
        pytest.param(
            "10:00-11:75", "'10:00-11:75': minutes must be between 00 and 59", id="end-minute-75"
        ),
        pytest.param(
            "24:00-24:00",
            "'24:00-24:00': 24:00 is only allowed as a closing time",
            id="24-as-start",
        ),
        pytest.param(
            "12:00-11:00",
            "'12:00-11:00': the closing time must be after the opening time",
            id="end-before-start",
        ),
        pytest.param(
            "10:00-10:00",
            "'10:00-10:00': the closing time must be after the opening time",
            id="empty-interval",
        ),
        pytest.param("10-12", "'10-12': expected a time range like 10:00-13:00", id="no-minutes"),
        pytest.param("abc", "'abc': expected a time range like 10:00-13:00", id="garbage"),
        pytest.param(
            "10:00 13:00", "'10:00 13:00': expected a time range like 10:00-13:00", id="no-dash"
        ),
        pytest.param(
            "10:0-11:00", "'10:0-11:00': expected a time range like 10:00-13:00", id="one-digit-mm"
        ),
        pytest.param(
            "100:00-110:00",
            "'100:00-110:00': expected a time range like 10:00-13:00",
            id="three-digit-hour",
        ),
        pytest.param(
            "10:00-13:00, abc", "'abc': expected a time range like 10:00-13:00", id="names-piece"
        ),
        pytest.param(
            "10:00-13:00, 12:00-14:00", "'10:00-13:00' overlaps '12:00-14:00'", id="overlap"
        ),
        pytest.param(
            "12:00-14:00; 10:00-13:00",
            "'10:00-13:00' overlaps '12:00-14:00'",
            id="overlap-unsorted",
        ),
        pytest.param(
            "10:00-16:00, 11:00-12:00", "'10:00-16:00' overlaps '11:00-12:00'", id="contained"
        ),
        pytest.param(
            "10:00-13:00, 10:00-13:00", "'10:00-13:00' overlaps '10:00-13:00'", id="duplicate"
        ),
    ],
)
def test_parse_day_invalid(text: str, message: str) -> None:
    with pytest.raises(HoursError) as excinfo:
        parse_day(text)
    assert str(excinfo.value) == message


def test_hours_error_is_value_error() -> None:
    assert issubclass(HoursError, ValueError)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(600, 600, id="empty"),
        pytest.param(600, 540, id="reversed"),
        pytest.param(-1, 60, id="negative"),
        pytest.param(0, 1441, id="past-midnight"),
    ],
)
def test_interval_rejects_impossible_values(start: int, end: int) -> None:
    with pytest.raises(HoursError):
        Interval(start, end)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("10:00-13:00, 14:00-16:00", id="two"),
        pytest.param("00:00-24:00", id="whole-day"),
        pytest.param("9:05-9:10", id="h-mm"),
    ],
)
def test_format_day_round_trips(text: str) -> None:
    intervals = parse_day(text)
    assert parse_day(format_day(intervals)) == intervals


def test_format_day() -> None:
    assert format_day(parse_day("9:00-13:00, 14:00-24:00")) == "09:00–13:00, 14:00–24:00"
    assert format_day(()) == ""


# ---------------------------------------------------------------------------------------------
# WeeklyHours


def test_weekday_keys_match_date_weekday() -> None:
    monday = date(2026, 6, 8)
    for offset, key in enumerate(WEEKDAY_KEYS):
        assert WEEKDAY_KEYS[(monday + timedelta(days=offset)).weekday()] == key


def test_from_mapping_missing_days_are_closed() -> None:
    hours = WeeklyHours.from_mapping({"tue": "10:00-12:00", "sun": "closed"})
    assert hours.days == ((), (Interval(600, 720),), (), (), (), (), ())
    assert hours.for_weekday(1) == (Interval(600, 720),)
    assert hours.for_weekday(6) == ()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        pytest.param(
            {"monday": "10:00-12:00"},
            "unknown day 'monday'; expected one of mon, tue, wed, thu, fri, sat, sun",
            id="unknown-key",
        ),
        pytest.param(
            {"mon": "10:00-12:00", "Tue": "10:00-12:00"},
            "unknown day 'Tue'; expected one of mon, tue, wed, thu, fri, sat, sun",
            id="keys-are-case-sensitive",
        ),
        pytest.param(
            {"mon": "25:00-26:00"},
            "mon: '25:00-26:00': hours must be between 00:00 and 24:00",
            id="bad-monday",
        ),
        pytest.param(
            {"mon": "10:00-12:00", "sat": "10:00-13:00, 12:00-14:00"},
            "sat: '10:00-13:00' overlaps '12:00-14:00'",
            id="bad-saturday",
        ),
    ],
)
def test_from_mapping_errors(mapping: dict[str, str], message: str) -> None:
    with pytest.raises(HoursError) as excinfo:
        WeeklyHours.from_mapping(mapping)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("mapping", "empty"),
    [
        pytest.param({}, True, id="nothing"),
        pytest.param(dict.fromkeys(WEEKDAY_KEYS, "closed"), True, id="all-closed"),
        pytest.param({"sun": "10:00-11:00"}, False, id="sunday-only"),
    ],
)
def test_is_empty(mapping: dict[str, str], empty: bool) -> None:
    assert WeeklyHours.from_mapping(mapping).is_empty() is empty


def test_to_mapping_round_trips() -> None:
    assert OFFICE.to_mapping()["mon"] == "10:00–13:00, 14:00–16:00"
    assert "sun" not in OFFICE.to_mapping()
    assert WeeklyHours.from_mapping(OFFICE.to_mapping()) == OFFICE


@pytest.mark.parametrize("weekday", [-1, 7])
def test_for_weekday_out_of_range(weekday: int) -> None:
    with pytest.raises(ValueError, match="weekday"):
        OFFICE.for_weekday(weekday)


@pytest.mark.parametrize(
    "days",
    [
        pytest.param(((),) * 6, id="six-days"),
        pytest.param(((),) * 8, id="eight-days"),
        pytest.param(((Interval(600, 780), Interval(700, 800)),) + ((),) * 6, id="overlap"),
        pytest.param(((Interval(840, 960), Interval(600, 780)),) + ((),) * 6, id="unsorted"),
    ],
)
def test_weekly_hours_invariants(days: tuple[tuple[Interval, ...], ...]) -> None:
    with pytest.raises(HoursError):
        WeeklyHours(days)


# ---------------------------------------------------------------------------------------------
# open_state

# fmt: off
OPEN_STATE_CASES = [
    # A regular Wednesday (2026-06-10) with the lunch break.
    pytest.param(
        OFFICE, berlin(2026, 6, 10, 10, 0), never,
        (True, "2026-06-10T13:00:00+02:00", None),
        id="opening-minute-is-open",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 10, 9, 59, 59), never,
        (False, None, "2026-06-10T10:00:00+02:00"),
        id="second-before-opening",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 10, 12, 59), never,
        (True, "2026-06-10T13:00:00+02:00", None),
        id="minute-before-closing",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 10, 13, 0), never,
        (False, None, "2026-06-10T14:00:00+02:00"),
        id="closing-minute-is-closed",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 10, 13, 30), never,
        (False, None, "2026-06-10T14:00:00+02:00"),
        id="lunch-break",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 10, 15, 59, 59), never,
        (True, "2026-06-10T16:00:00+02:00", None),
        id="last-second-of-day",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 10, 16, 0), never,
        (False, None, "2026-06-11T10:00:00+02:00"),
        id="after-hours-next-morning",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 13, 11, 0), never,
        (True, "2026-06-13T13:00:00+02:00", None),
        id="saturday-morning",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 13, 19, 0), never,
        (False, None, "2026-06-15T10:00:00+02:00"),
        id="saturday-evening-to-monday",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 14, 12, 0), never,
        (False, None, "2026-06-15T10:00:00+02:00"),
        id="sunday-to-monday",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 9, 0, 0), never,
        (False, None, "2026-06-09T10:00:00+02:00"),
        id="midnight-exactly",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 9, 23, 59, 59), never,
        (False, None, "2026-06-10T10:00:00+02:00"),
        id="last-second-before-midnight",
    ),
    # Friday 20:00-24:00 + Saturday 00:00-02:00 is one opening.
    pytest.param(
        NIGHT, berlin(2026, 6, 12, 19, 59, 59), never,
        (False, None, "2026-06-12T20:00:00+02:00"),
        id="night-before-opening",
    ),
    pytest.param(
        NIGHT, berlin(2026, 6, 12, 20, 0), never,
        (True, "2026-06-13T02:00:00+02:00", None),
        id="night-opening-minute",
    ),
    pytest.param(
        NIGHT, berlin(2026, 6, 12, 23, 0), never,
        (True, "2026-06-13T02:00:00+02:00", None),
        id="night-merged-across-midnight",
    ),
    pytest.param(
        NIGHT, berlin(2026, 6, 12, 23, 59, 59), never,
        (True, "2026-06-13T02:00:00+02:00", None),
        id="night-last-second-of-friday",
    ),
    pytest.param(
        NIGHT, berlin(2026, 6, 13, 0, 0), never,
        (True, "2026-06-13T02:00:00+02:00", None),
        id="night-midnight-exactly",
    ),
    pytest.param(
        NIGHT, berlin(2026, 6, 13, 2, 0), never,
        (False, None, "2026-06-19T20:00:00+02:00"),
        id="night-closing-minute",
    ),
    pytest.param(
        NIGHT, berlin(2026, 6, 12, 23, 0), closed_on(date(2026, 6, 13)),
        (True, "2026-06-13T00:00:00+02:00", None),
        id="night-saturday-closed-ends-at-midnight",
    ),
    pytest.param(
        NIGHT, berlin(2026, 6, 13, 1, 0), closed_on(date(2026, 6, 12)),
        (True, "2026-06-13T02:00:00+02:00", None),
        id="night-friday-closed-saturday-still-open",
    ),
    # Spring forward: 2026-03-29 02:00 CET -> 03:00 CEST. Instants given in UTC to be unambiguous.
    pytest.param(
        SUNDAY, utc(2026, 3, 29, 0, 59, 59), never,
        (False, None, "2026-03-29T10:00:00+02:00"),
        id="spring-before-switch",
    ),
    pytest.param(
        SUNDAY, utc(2026, 3, 29, 1, 0), never,
        (False, None, "2026-03-29T10:00:00+02:00"),
        id="spring-at-switch",
    ),
    pytest.param(
        SUNDAY, utc(2026, 3, 29, 7, 59, 59), never,
        (False, None, "2026-03-29T10:00:00+02:00"),
        id="spring-second-before-opening",
    ),
    pytest.param(
        SUNDAY, utc(2026, 3, 29, 8, 0), never,
        (True, "2026-03-29T16:00:00+02:00", None),
        id="spring-opening-10-local",
    ),
    pytest.param(
        SUNDAY, utc(2026, 3, 29, 13, 59), never,
        (True, "2026-03-29T16:00:00+02:00", None),
        id="spring-minute-before-closing",
    ),
    pytest.param(
        SUNDAY, utc(2026, 3, 29, 14, 0), never,
        (False, None, "2026-04-05T10:00:00+02:00"),
        id="spring-closing-16-local",
    ),
    pytest.param(
        SUNDAY_NIGHT, utc(2026, 3, 29, 0, 30), never,
        (True, "2026-03-29T03:00:00+02:00", None),
        id="spring-interval-across-gap",
    ),
    pytest.param(
        SUNDAY_NIGHT, utc(2026, 3, 29, 1, 0), never,
        (False, None, "2026-04-05T01:00:00+02:00"),
        id="spring-interval-across-gap-closed-at-03-local",
    ),
    pytest.param(
        OFFICE, berlin(2026, 3, 28, 22, 0), never,
        (False, None, "2026-03-30T10:00:00+02:00"),
        id="spring-saturday-night-to-monday",
    ),
    # Fall back: 2026-10-25 03:00 CEST -> 02:00 CET; 02:00-03:00 local happens twice.
    pytest.param(
        SUNDAY, utc(2026, 10, 25, 0, 30), never,
        (False, None, "2026-10-25T10:00:00+01:00"),
        id="fall-0230-first-pass",
    ),
    pytest.param(
        SUNDAY, utc(2026, 10, 25, 1, 30), never,
        (False, None, "2026-10-25T10:00:00+01:00"),
        id="fall-0230-second-pass",
    ),
    pytest.param(
        SUNDAY, utc(2026, 10, 25, 8, 59, 59), never,
        (False, None, "2026-10-25T10:00:00+01:00"),
        id="fall-second-before-opening",
    ),
    pytest.param(
        SUNDAY, utc(2026, 10, 25, 9, 0), never,
        (True, "2026-10-25T16:00:00+01:00", None),
        id="fall-opening-10-local",
    ),
    pytest.param(
        SUNDAY, utc(2026, 10, 25, 15, 0), never,
        (False, None, "2026-11-01T10:00:00+01:00"),
        id="fall-closing-16-local",
    ),
    pytest.param(
        SUNDAY_EARLY, berlin(2026, 10, 25, 2, 10, fold=0), never,
        (True, "2026-10-25T02:30:00+02:00", None),
        id="fall-repeated-hour-first-pass-open",
    ),
    pytest.param(
        # Wall clock 02:10 < 02:30, but this 02:10 CET is 40 minutes *after* 02:30 CEST.
        SUNDAY_EARLY, berlin(2026, 10, 25, 2, 10, fold=1), never,
        (False, None, "2026-11-01T00:00:00+01:00"),
        id="fall-repeated-hour-second-pass-closed",
    ),
    pytest.param(
        OFFICE, berlin(2026, 10, 24, 22, 0), never,
        (False, None, "2026-10-26T10:00:00+01:00"),
        id="fall-saturday-night-to-monday",
    ),
    # Bremen public holidays.
    pytest.param(
        OFFICE, berlin(2026, 12, 24, 16, 0), is_bremen_holiday,
        (False, None, "2026-12-28T10:00:00+01:00"),
        id="christmas-eve-evening-to-monday",
    ),
    pytest.param(
        OFFICE, berlin(2026, 12, 25, 11, 0), is_bremen_holiday,
        (False, None, "2026-12-28T10:00:00+01:00"),
        id="christmas-day-within-hours",
    ),
    pytest.param(
        OFFICE, berlin(2026, 10, 31, 11, 0), is_bremen_holiday,
        (False, None, "2026-11-02T10:00:00+01:00"),
        id="reformation-day-saturday",
    ),
    pytest.param(
        OFFICE, berlin(2026, 10, 31, 11, 0), never,
        (True, "2026-10-31T13:00:00+01:00", None),
        id="reformation-day-control-without-holidays",
    ),
    pytest.param(
        OFFICE, berlin(2026, 4, 3, 10, 30), is_bremen_holiday,
        (False, None, "2026-04-04T10:00:00+02:00"),
        id="good-friday",
    ),
    # Staff closures.
    pytest.param(
        OFFICE, berlin(2026, 8, 1, 13, 0), summer_closure,
        (False, None, "2026-08-17T10:00:00+02:00"),
        id="saturday-before-two-week-closure",
    ),
    pytest.param(
        OFFICE, berlin(2026, 8, 5, 11, 0), summer_closure,
        (False, None, "2026-08-17T10:00:00+02:00"),
        id="closure-today-within-hours",
    ),
    pytest.param(
        EMPTY, berlin(2026, 6, 10, 11, 0), never,
        (False, None, None),
        id="no-hours-at-all",
    ),
    pytest.param(
        OFFICE, berlin(2026, 6, 10, 11, 0), always,
        (False, None, None),
        id="closed-forever",
    ),
    # `now` in another zone is converted to the office's zone.
    pytest.param(
        OFFICE, utc(2026, 6, 10, 8, 30), never,
        (True, "2026-06-10T13:00:00+02:00", None),
        id="now-in-utc",
    ),
    pytest.param(
        OFFICE, utc(2026, 6, 10, 7, 59), never,
        (False, None, "2026-06-10T10:00:00+02:00"),
        id="now-in-utc-before-opening",
    ),
    pytest.param(
        # 2026-06-09 23:30 in New York is already Wednesday 05:30 in Berlin.
        OFFICE, datetime(2026, 6, 9, 23, 30, tzinfo=NEW_YORK), never,
        (False, None, "2026-06-10T10:00:00+02:00"),
        id="now-in-new-york-other-local-date",
    ),
    # Round-the-clock hours merge day after day.
    pytest.param(
        ALWAYS, berlin(2026, 6, 10, 12, 0), closed_on(date(2026, 6, 12)),
        (True, "2026-06-12T00:00:00+02:00", None),
        id="always-open-until-closure",
    ),
    pytest.param(
        ALWAYS, berlin(2026, 6, 10, 12, 0), never,
        (True, None, None),
        id="always-open-never-closes-within-horizon",
    ),
]
# fmt: on


@pytest.mark.parametrize(("hours", "now", "is_closed", "expected"), OPEN_STATE_CASES)
def test_open_state(
    hours: WeeklyHours,
    now: datetime,
    is_closed: Callable[[date], bool],
    expected: tuple[bool, str | None, str | None],
) -> None:
    assert describe(open_state(hours, now, BERLIN, is_closed)) == expected


def test_open_state_returns_office_zone() -> None:
    state = open_state(OFFICE, utc(2026, 6, 10, 8, 30), BERLIN, never)
    assert state.until is not None
    assert state.until.tzinfo == BERLIN
    assert state.until.utcoffset() == timedelta(hours=2)
    state = open_state(OFFICE, utc(2026, 6, 10, 11, 30), BERLIN, never)
    assert state.next_open is not None
    assert state.next_open.tzinfo == BERLIN


@pytest.mark.parametrize(
    ("now", "offset", "utc_iso"),
    [
        pytest.param(berlin(2026, 3, 28, 22, 0), 2, "2026-03-30T08:00:00+00:00", id="spring"),
        pytest.param(berlin(2026, 10, 24, 22, 0), 1, "2026-10-26T09:00:00+00:00", id="fall"),
    ],
)
def test_next_open_across_dst_has_new_offset(now: datetime, offset: int, utc_iso: str) -> None:
    state = open_state(OFFICE, now, BERLIN, never)
    assert state.next_open is not None
    assert (state.next_open.hour, state.next_open.minute) == (10, 0)
    assert state.next_open.utcoffset() == timedelta(hours=offset)
    assert state.next_open.astimezone(UTC).isoformat() == utc_iso


@pytest.mark.parametrize(
    ("horizon_days", "expected"),
    [
        pytest.param(15, (False, None, None), id="closure-longer-than-horizon"),
        pytest.param(16, (False, None, "2026-08-17T10:00:00+02:00"), id="horizon-reaches"),
    ],
)
def test_open_state_horizon(horizon_days: int, expected: tuple[bool, None, str | None]) -> None:
    # From Sunday 2026-08-02 the first opening after the closure is on the 16th day (today = 1st).
    state = open_state(OFFICE, berlin(2026, 8, 2, 12, 0), BERLIN, summer_closure, horizon_days)
    assert describe(state) == expected


def test_open_state_is_lazy() -> None:
    asked: list[date] = []

    def spy(day: date) -> bool:
        asked.append(day)
        return False

    open_state(OFFICE, berlin(2026, 6, 10, 11, 0), BERLIN, spy)
    # The answer lies within today: far from the 400-day horizon.
    assert asked
    assert max(asked) <= date(2026, 6, 11)


@pytest.mark.parametrize(
    ("now", "horizon_days"),
    [
        pytest.param(datetime(2026, 6, 10, 11, 0), 400, id="naive-now"),
        pytest.param(berlin(2026, 6, 10, 11, 0), 0, id="zero-horizon"),
    ],
)
def test_open_state_rejects_bad_arguments(now: datetime, horizon_days: int) -> None:
    with pytest.raises(ValueError):
        open_state(OFFICE, now, BERLIN, never, horizon_days)


# ---------------------------------------------------------------------------------------------
# upcoming_closed_periods


def _days(first: date, last: date, reason: str) -> dict[date, str]:
    """Map every date first..last (inclusive) to reason."""
    return {first + timedelta(days=i): reason for i in range((last - first).days + 1)}


def _weekdays(first: date, last: date, reason: str) -> dict[date, str]:
    """Map every Monday..Friday within first..last (inclusive) to reason."""
    return {day: r for day, r in _days(first, last, reason).items() if day.weekday() < 5}


# fmt: off
UPCOMING_CASES = [
    pytest.param(
        MON_FRI, date(2026, 8, 1), 14, _days(date(2026, 8, 3), date(2026, 8, 5), "Training"),
        [ClosedPeriod(date(2026, 8, 3), date(2026, 8, 5), "Training")],
        id="consecutive-days-grouped",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 1), 14, {date(2026, 8, 3): "Training", date(2026, 8, 4): "Move"},
        [
            ClosedPeriod(date(2026, 8, 3), date(2026, 8, 3), "Training"),
            ClosedPeriod(date(2026, 8, 4), date(2026, 8, 4), "Move"),
        ],
        id="different-reasons-split",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 1), 14, {date(2026, 8, 3): "Training", date(2026, 8, 5): "Training"},
        [
            ClosedPeriod(date(2026, 8, 3), date(2026, 8, 3), "Training"),
            ClosedPeriod(date(2026, 8, 5), date(2026, 8, 5), "Training"),
        ],
        id="open-day-in-between-splits",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 1), 21, _days(date(2026, 8, 3), date(2026, 8, 14), "Summer break"),
        [ClosedPeriod(date(2026, 8, 3), date(2026, 8, 14), "Summer break")],
        id="weekend-inside-closure-listed",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 1), 21,
        _weekdays(date(2026, 8, 3), date(2026, 8, 14), "Summer break"),
        [ClosedPeriod(date(2026, 8, 3), date(2026, 8, 14), "Summer break")],
        id="weekend-inside-closure-not-listed",
    ),
    pytest.param(
        OFFICE, date(2026, 8, 1), 21, _days(date(2026, 8, 3), date(2026, 8, 14), "Summer break"),
        [ClosedPeriod(date(2026, 8, 3), date(2026, 8, 14), "Summer break")],
        id="sunday-inside-closure-office",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 1), 21, _days(date(2026, 8, 3), date(2026, 8, 9), "Summer break"),
        [ClosedPeriod(date(2026, 8, 3), date(2026, 8, 7), "Summer break")],
        id="trailing-weekend-not-reported",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 1), 21, _days(date(2026, 8, 1), date(2026, 8, 7), "Summer break"),
        [ClosedPeriod(date(2026, 8, 3), date(2026, 8, 7), "Summer break")],
        id="leading-weekend-not-reported",
    ),
    pytest.param(
        MON_FRI, date(2026, 10, 1), 31, BREMEN,
        [],
        id="holidays-on-saturdays-skipped",
    ),
    pytest.param(
        OFFICE, date(2026, 10, 1), 31, BREMEN,
        [
            ClosedPeriod(date(2026, 10, 3), date(2026, 10, 3), "German Unity Day"),
            ClosedPeriod(date(2026, 10, 31), date(2026, 10, 31), "Reformation Day"),
        ],
        id="holidays-on-saturdays-kept-when-open",
    ),
    pytest.param(
        MON_FRI, date(2027, 10, 1), 31, BREMEN,
        [],
        id="holidays-on-sundays-skipped",
    ),
    pytest.param(
        MON_FRI, date(2026, 12, 20), 14, BREMEN,
        [
            ClosedPeriod(date(2026, 12, 25), date(2026, 12, 25), "Christmas Day"),
            ClosedPeriod(date(2027, 1, 1), date(2027, 1, 1), "New Year's Day"),
        ],
        id="christmas-second-day-on-saturday-skipped",
    ),
    pytest.param(
        OFFICE, date(2026, 12, 20), 14, BREMEN,
        [
            ClosedPeriod(date(2026, 12, 25), date(2026, 12, 25), "Christmas Day"),
            ClosedPeriod(date(2026, 12, 26), date(2026, 12, 26), "Second Day of Christmas"),
            ClosedPeriod(date(2027, 1, 1), date(2027, 1, 1), "New Year's Day"),
        ],
        id="christmas-both-days-when-saturday-open",
    ),
    pytest.param(
        MON_FRI, date(2026, 4, 1), 10, BREMEN,
        [
            ClosedPeriod(date(2026, 4, 3), date(2026, 4, 3), "Good Friday"),
            ClosedPeriod(date(2026, 4, 6), date(2026, 4, 6), "Easter Monday"),
        ],
        id="easter-weekend-different-reasons",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 5), 3, SUMMER_CLOSURE,
        [ClosedPeriod(date(2026, 8, 5), date(2026, 8, 7), "Summer break")],
        id="window-clips-both-ends",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 3), 7, {date(2026, 8, 10): "Training"},
        [],
        id="window-end-exclusive",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 3), 8, {date(2026, 8, 10): "Training"},
        [ClosedPeriod(date(2026, 8, 10), date(2026, 8, 10), "Training")],
        id="window-last-day-included",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 4), 14, {date(2026, 8, 3): "Training"},
        [],
        id="past-closure-ignored",
    ),
    pytest.param(
        MON_FRI, date(2026, 8, 3), 0, SUMMER_CLOSURE,
        [],
        id="zero-days",
    ),
    pytest.param(
        EMPTY, date(2026, 8, 1), 30, SUMMER_CLOSURE,
        [],
        id="no-hours-nothing-to-tell",
    ),
]
# fmt: on


@pytest.mark.parametrize(("hours", "today", "days", "closed", "expected"), UPCOMING_CASES)
def test_upcoming_closed_periods(
    hours: WeeklyHours,
    today: date,
    days: int,
    closed: dict[date, str],
    expected: list[ClosedPeriod],
) -> None:
    assert upcoming_closed_periods(hours, today, days, closed) == expected


def test_upcoming_closed_periods_sorted_by_first() -> None:
    closed = {**BREMEN, **SUMMER_CLOSURE}
    periods = upcoming_closed_periods(OFFICE, date(2026, 1, 1), 365, closed)
    assert [p.first for p in periods] == sorted(p.first for p in periods)
    # Saturday 2026-08-15 is an opening day of OFFICE; the closing Sunday is not worth telling.
    assert ClosedPeriod(date(2026, 8, 3), date(2026, 8, 15), "Summer break") in periods


def test_upcoming_closed_periods_negative_days() -> None:
    with pytest.raises(ValueError):
        upcoming_closed_periods(OFFICE, date(2026, 8, 3), -1, {})


# ---------------------------------------------------------------------------------------------
# bremen_holidays


def test_bremen_holiday_names_cover_package_output() -> None:
    # The caller translates these names as gettext ids: an unknown one would go out untranslated.
    assert set(bremen_holidays([2026, 2027]).values()) <= set(BREMEN_HOLIDAY_NAMES)


def test_bremen_holiday_names_are_all_used() -> None:
    # Every Bremen holiday occurs once a year, so a stale name in the tuple shows up here.
    assert sorted(bremen_holidays([2026]).values()) == sorted(BREMEN_HOLIDAY_NAMES)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        pytest.param(date(2026, 1, 1), "New Year's Day", id="new-year"),
        pytest.param(date(2026, 4, 3), "Good Friday", id="good-friday"),
        pytest.param(date(2026, 4, 6), "Easter Monday", id="easter-monday"),
        pytest.param(date(2026, 10, 3), "German Unity Day", id="unity-day"),
        pytest.param(date(2026, 10, 31), "Reformation Day", id="reformation-day"),
        pytest.param(date(2026, 12, 25), "Christmas Day", id="christmas"),
        pytest.param(date(2026, 12, 26), "Second Day of Christmas", id="second-christmas"),
        pytest.param(date(2027, 3, 26), "Good Friday", id="good-friday-2027"),
    ],
)
def test_bremen_holidays_dates(day: date, name: str) -> None:
    assert BREMEN[day] == name


@pytest.mark.parametrize(
    "day",
    [
        pytest.param(date(2026, 6, 4), id="corpus-christi-not-in-bremen"),
        pytest.param(date(2026, 11, 1), id="all-saints-not-in-bremen"),
        pytest.param(date(2026, 12, 24), id="christmas-eve-not-a-holiday"),
    ],
)
def test_bremen_holidays_excludes_other_states(day: date) -> None:
    assert day not in BREMEN


def test_bremen_holidays_only_requested_years() -> None:
    assert {day.year for day in bremen_holidays([2026])} == {2026}
    assert bremen_holidays([]) == {}
    assert bremen_holidays(iter([2027, 2027])) == bremen_holidays([2027])


def test_arabic_office_hours_are_24_hour_with_the_arabic_comma() -> None:
    catalogs = Catalogs.load(("de", "ar"), "de", ZoneInfo("Europe/Berlin"))
    hours = WeeklyHours.from_mapping({"mon": "10:00-13:00, 14:00-16:00"})
    (monday, *_) = render_week(hours, catalogs.translator("ar"))
    assert "10:00–13:00، 14:00–16:00" in monday  # not "1:00 م", not a Latin comma
    assert "م" not in monday.split(":", 1)[1]
