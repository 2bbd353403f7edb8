"""Business-hours arithmetic as plain functions: hand-computed cases, then properties
(hypothesis) across daylight-saving changes, holidays and multi-period days, checked
against a minute-by-minute oracle that applies the documented rule directly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerdesk.sla.calendar import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    BusinessCalendar,
    CalendarError,
    Period,
    add_business_time,
    business_time_between,
    is_business_time,
)

LONDON = "Europe/London"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"
ZONES = [LONDON, NEW_YORK, SYDNEY, "UTC", "Asia/Kolkata"]
H = timedelta(hours=1)

OFFICE = BusinessCalendar.build(
    LONDON,
    {day: [("09:00", "12:30"), ("13:30", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")},
    {date(2024, 12, 25): [], date(2024, 12, 24): [("09:00", "13:00")]},
)
NIGHTS = {day: [("00:00", "03:00")] for day in WEEKDAYS}


def local(zone: str, *parts: int, fold: int = 0) -> datetime:
    year, month, day, hour, minute = parts
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold).astimezone(
        UTC
    )


# Hand-computed cases -------------------------------------------------------------


def test_a_two_period_day_counts_both_periods_and_skips_lunch() -> None:
    monday_9 = local(LONDON, 2024, 1, 8, 9, 0)
    assert business_time_between(monday_9, local(LONDON, 2024, 1, 8, 23, 0), OFFICE) == 8 * H
    assert add_business_time(monday_9, 4 * H, OFFICE) == local(LONDON, 2024, 1, 8, 14, 0)


def test_friday_evening_plus_two_hours_is_monday_morning() -> None:
    friday_17 = local(LONDON, 2024, 1, 12, 17, 0)
    assert add_business_time(friday_17, 2 * H, OFFICE) == local(LONDON, 2024, 1, 15, 10, 0)


def test_a_target_that_ends_exactly_at_closing_time_is_due_at_closing_time() -> None:
    start = local(LONDON, 2024, 1, 8, 13, 30)
    assert add_business_time(start, 4.5 * H, OFFICE) == local(LONDON, 2024, 1, 8, 18, 0)


def test_a_start_outside_hours_waits_for_the_next_period() -> None:
    saturday = local(LONDON, 2024, 1, 13, 11, 0)
    assert add_business_time(saturday, timedelta(minutes=1), OFFICE) == local(
        LONDON, 2024, 1, 15, 9, 1
    )
    assert add_business_time(saturday, timedelta(0), OFFICE) == saturday


def test_a_holiday_is_closed_and_a_partial_day_works_its_own_hours() -> None:
    # Tue 24 Dec works 09:00-13:00; Wed 25 Dec is closed; Thu 26 is a normal day.
    start = local(LONDON, 2024, 12, 24, 12, 0)
    assert add_business_time(start, 2 * H, OFFICE) == local(LONDON, 2024, 12, 26, 10, 0)
    whole = business_time_between(
        local(LONDON, 2024, 12, 23, 0, 0), local(LONDON, 2024, 12, 27, 0, 0), OFFICE
    )
    assert whole == 8 * H + 4 * H + 0 * H + 8 * H


def test_spring_forward_skips_the_missing_hour_in_london() -> None:
    # 31 March 2024: 01:00 GMT becomes 02:00 BST; 00:00-03:00 lasts two real hours.
    calendar = BusinessCalendar.build(LONDON, NIGHTS)
    ((start, end),) = calendar.intervals_on(date(2024, 3, 31))
    assert start == datetime(2024, 3, 31, 0, 0, tzinfo=UTC)
    assert end - start == 2 * H


def test_fall_back_counts_the_repeated_hour_twice_in_london() -> None:
    # 27 October 2024: 02:00 BST becomes 01:00 GMT; 00:00-03:00 lasts four real hours.
    calendar = BusinessCalendar.build(LONDON, NIGHTS)
    ((start, end),) = calendar.intervals_on(date(2024, 10, 27))
    assert end - start == 4 * H
    assert start == local(LONDON, 2024, 10, 27, 0, 0)


def test_a_period_ending_inside_the_repeated_hour_also_covers_its_repeat() -> None:
    calendar = BusinessCalendar.build(NEW_YORK, {d: [("00:30", "01:30")] for d in WEEKDAYS})
    # 3 November 2024: 02:00 EDT becomes 01:00 EST. The wall clock reads 00:30-01:30
    # (EDT), then, after going back, 01:00-01:30 again (EST): an hour and a half.
    first, second = calendar.intervals_on(date(2024, 11, 3))
    assert first == (local(NEW_YORK, 2024, 11, 3, 0, 30), local(NEW_YORK, 2024, 11, 3, 1, 30))
    assert second == (
        local(NEW_YORK, 2024, 11, 3, 1, 0, fold=1),
        local(NEW_YORK, 2024, 11, 3, 1, 30, fold=1),
    )
    assert business_time_between(first[0], second[1], calendar) == 1.5 * H


def test_a_period_starting_inside_the_spring_gap_starts_when_the_clock_lands() -> None:
    calendar = BusinessCalendar.build(NEW_YORK, {d: [("02:30", "04:00")] for d in WEEKDAYS})
    # 10 March 2024: 02:00 EST becomes 03:00 EDT, so 02:30 never happens.
    ((start, end),) = calendar.intervals_on(date(2024, 3, 10))
    assert start == datetime(2024, 3, 10, 7, 0, tzinfo=UTC)  # 03:00 EDT, the jump
    assert end - start == 1 * H


def test_sydney_daylight_saving_runs_the_other_way_round_the_year() -> None:
    calendar = BusinessCalendar.build(SYDNEY, {d: [("01:00", "04:00")] for d in WEEKDAYS})
    # Ends 7 April 2024 (03:00 AEDT -> 02:00 AEST); starts 6 October 2024 (02:00 -> 03:00).
    assert sum((e - s for s, e in calendar.intervals_on(date(2024, 4, 7))), timedelta()) == 4 * H
    assert sum((e - s for s, e in calendar.intervals_on(date(2024, 10, 6))), timedelta()) == 2 * H


def test_a_24_7_calendar_is_wall_clock_time_across_daylight_saving() -> None:
    calendar = BusinessCalendar.always_open(LONDON)
    a, b = local(LONDON, 2024, 3, 30, 12, 0), local(LONDON, 2024, 4, 1, 12, 0)
    assert business_time_between(a, b, calendar) == b - a == 47 * H


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ({"mon": [("09:00", "12:00"), ("11:00", "13:00")]}, "overlap"),
        ({"mon": [("12:00", "09:00")]}, "ends after it starts"),
        ({"mon": [("09:00", "25:00")]}, "between 00:00 and 24:00"),
        ({"mon": [("9am", "17:00")]}, "not a time of day"),
        ({"funday": [("09:00", "17:00")]}, "unknown weekday"),
        ({}, "at least one working period"),
    ],
)
def test_it_refuses_impossible_calendars_with_a_clear_reason(
    week: dict[str, list[tuple[str, str]]], message: str
) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar.build(LONDON, week)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "local"])
def test_it_refuses_a_time_zone_that_is_not_an_iana_name(zone: str) -> None:
    with pytest.raises(CalendarError, match="IANA"):
        BusinessCalendar.build(zone, {"mon": [("09:00", "17:00")]})


def test_it_refuses_naive_datetimes_and_negative_durations() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(datetime(2024, 1, 1), H, OFFICE)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(datetime(2024, 1, 1, tzinfo=UTC), -H, OFFICE)


def test_a_calendar_closed_for_years_of_holidays_gives_up_instead_of_looping() -> None:
    first = date(2024, 1, 1)
    closed: dict[date, list[tuple[str, str]]] = {
        first + timedelta(days=n): [] for n in range(366 * 6)
    }
    calendar = BusinessCalendar.build("UTC", {"mon": [("09:00", "10:00")]}, closed)
    with pytest.raises(CalendarError, match="no working time"):
        add_business_time(datetime(2024, 1, 1, tzinfo=UTC), H, calendar)


# Properties ----------------------------------------------------------------------

# Around the daylight-saving changes of 2024-2025 in the three zones, and elsewhere.
TRANSITIONS = [
    datetime(2024, 3, 10, tzinfo=UTC),
    datetime(2024, 3, 31, tzinfo=UTC),
    datetime(2024, 4, 7, tzinfo=UTC),
    datetime(2024, 10, 6, tzinfo=UTC),
    datetime(2024, 10, 27, tzinfo=UTC),
    datetime(2024, 11, 3, tzinfo=UTC),
    datetime(2025, 3, 9, tzinfo=UTC),
    datetime(2025, 3, 30, tzinfo=UTC),
    datetime(2025, 10, 26, tzinfo=UTC),
    datetime(2025, 6, 15, tzinfo=UTC),
]


@st.composite
def periods(draw: st.DrawFn) -> tuple[Period, ...]:
    # Quarter-hour boundaries, 0-3 periods a day; sorted distinct cuts never overlap.
    count = draw(st.integers(0, 3))
    cuts = draw(
        st.lists(
            st.integers(0, MINUTES_PER_DAY // 15),
            min_size=2 * count,
            max_size=2 * count,
            unique=True,
        )
    )
    cuts.sort()
    return tuple(Period(cuts[i] * 15, cuts[i + 1] * 15) for i in range(0, len(cuts), 2))


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    zone = draw(st.sampled_from(ZONES))
    week = [draw(periods()) for _ in range(7)]
    if not any(week):
        week[0] = (Period(9 * 60, 17 * 60),)
    holidays = draw(
        st.dictionaries(st.dates(date(2024, 1, 1), date(2025, 12, 31)), periods(), max_size=20)
    )
    return BusinessCalendar(zone, tuple(week), tuple(sorted(holidays.items())))


def moments() -> st.SearchStrategy[datetime]:
    near = st.builds(
        lambda base, minutes: base + timedelta(minutes=minutes),
        st.sampled_from(TRANSITIONS),
        st.integers(-3 * 24 * 60, 3 * 24 * 60),
    )
    anywhere = st.datetimes(datetime(2024, 1, 1), datetime(2025, 12, 1), timezones=st.just(UTC))
    return st.one_of(near, anywhere)


durations = st.timedeltas(timedelta(0), timedelta(days=20))
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars(), moments(), durations)
def test_business_time_from_a_to_a_plus_d_is_d(
    calendar: BusinessCalendar, a: datetime, d: timedelta
) -> None:
    assert business_time_between(a, add_business_time(a, d, calendar), calendar) == d


@PROPERTY
@given(calendars(), moments(), durations, durations)
def test_adding_is_monotonic_and_adds_up(
    calendar: BusinessCalendar, a: datetime, d1: timedelta, d2: timedelta
) -> None:
    short, long = sorted((d1, d2))
    assert add_business_time(a, short, calendar) <= add_business_time(a, long, calendar)
    in_steps = add_business_time(add_business_time(a, d1, calendar), d2, calendar)
    assert in_steps == add_business_time(a, d1 + d2, calendar)
    assert add_business_time(a, d1, calendar) - a >= d1


@PROPERTY
@given(calendars(), moments(), st.lists(durations, min_size=2, max_size=2))
def test_business_time_between_is_additive_and_bounded_by_wall_time(
    calendar: BusinessCalendar, a: datetime, gaps: list[timedelta]
) -> None:
    b = a + gaps[0]
    c = b + gaps[1]
    whole = business_time_between(a, c, calendar)
    assert whole == business_time_between(a, b, calendar) + business_time_between(b, c, calendar)
    assert timedelta(0) <= whole <= c - a
    assert business_time_between(c, a, calendar) == timedelta(0)


@PROPERTY
@given(st.sampled_from(ZONES), moments(), durations)
def test_a_24_7_calendar_equals_the_wall_clock_even_on_the_long_path(
    zone: str, a: datetime, d: timedelta
) -> None:
    # Two half-day periods: not recognised as 24/7, so the day-by-day path runs.
    halves = (Period(0, 720), Period(720, MINUTES_PER_DAY))
    calendar = BusinessCalendar(zone, (halves,) * 7)
    assert not calendar.is_always_open
    assert add_business_time(a, d, calendar) == a + d
    assert business_time_between(a, a + d, calendar) == d


def _oracle_minutes(calendar: BusinessCalendar, a: datetime, b: datetime) -> int:
    """Count whole minutes in [a, b) whose local reading lies in a period of its local date."""
    zone = ZoneInfo(calendar.time_zone)
    count, moment = 0, a
    while moment < b:
        reading = moment.astimezone(zone)
        minute = reading.hour * 60 + reading.minute
        if any(p.start <= minute < p.end for p in calendar.periods_on(reading.date())):
            count += 1
        moment += timedelta(minutes=1)
    return count


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendars(),
    st.sampled_from(TRANSITIONS),
    st.integers(-36 * 60, 12 * 60),
    st.integers(0, 2 * 24 * 60),
)
def test_it_agrees_with_a_minute_by_minute_reading_of_the_wall_clock(
    calendar: BusinessCalendar, base: datetime, offset: int, length: int
) -> None:
    a = base + timedelta(minutes=offset)
    b = a + timedelta(minutes=length)
    expected = timedelta(minutes=_oracle_minutes(calendar, a, b))
    assert business_time_between(a, b, calendar) == expected
    if expected:
        due = add_business_time(a, expected, calendar)
        assert due <= b
        assert is_business_time(due - timedelta(seconds=1), calendar)
