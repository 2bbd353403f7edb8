"""Business-hours arithmetic on UTC-aware datetimes (pure; no I/O).

A calendar has an IANA time zone, working periods per weekday in local wall-clock
time (several a day: 09:00-12:30 and 13:30-18:00) and holidays (closed all day, or
working shorter periods that replace the weekday's).

**The one rule everything follows:** an instant is business time when its local
wall-clock reading, on its local date, falls inside one of that date's working
periods (start included, end excluded). Business time is real elapsed time inside
such instants. What it means across daylight-saving changes:

- *Spring forward* (the clock jumps, say, from 01:00 to 02:00): no instant reads
  01:xx, so a period 01:00-03:00 on that day lasts one real hour; a period that
  starts or ends inside the gap starts or ends where the clock lands.
- *Fall back* (the clock returns from 02:00 to 01:00): 01:xx is read twice, and both
  count, so a period 00:00-03:00 lasts four real hours, and a period 00:30-01:30
  covers 00:30-01:30 and then 01:00-01:30 once more (an hour and a half).

So a working day is as long as the clock on the office wall says, which is what
staff are paid for. A 24/7 calendar is every day 00:00-24:00 and no holidays; its
business time equals wall-clock (UTC) time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How many days without working time add_business_time crosses before it gives up.
MAX_SEARCH_DAYS = 366 * 5
ZERO = timedelta(0)


class CalendarError(ValueError):
    """A calendar that cannot be built (bad zone, overlapping periods...)."""


@dataclass(frozen=True, order=True)
class Period:
    """A working period in local wall-clock minutes since midnight; end may be 1440 (24:00)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < MINUTES_PER_DAY or not 0 < self.end <= MINUTES_PER_DAY:
            raise CalendarError("a period lies within 00:00-24:00")
        if self.end <= self.start:
            raise CalendarError(
                f"a period ends after it starts ({format_minutes(self.start)}-"
                f"{format_minutes(self.end)})"
            )

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        return cls(parse_minutes(start), parse_minutes(end))

    def __str__(self) -> str:
        return f"{format_minutes(self.start)}-{format_minutes(self.end)}"


def parse_minutes(text: str) -> int:
    """'09:30' -> 570; '24:00' is allowed as the end of a day."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise CalendarError(f"{text!r} is not a time of day like 09:30")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > MINUTES_PER_DAY:
        raise CalendarError(f"{text!r} is not a time of day between 00:00 and 24:00")
    return value


def format_minutes(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def check_periods(periods: Iterable[Period], where: str) -> tuple[Period, ...]:
    """Sorted periods, refusing overlaps (touching periods are fine: 09:00-12:00, 12:00-13:00)."""
    ordered = tuple(sorted(periods))
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise CalendarError(f"{where}: periods {before} and {after} overlap")
    return ordered


def _parse_day(pairs: Iterable[tuple[str, str]], where: str) -> tuple[Period, ...]:
    try:
        return check_periods((Period.parse(start, end) for start, end in pairs), where)
    except CalendarError as exc:
        message = str(exc)
        raise CalendarError(
            message if message.startswith(where) else f"{where}: {message}"
        ) from None


def check_time_zone(name: str) -> ZoneInfo:
    # ZoneInfo would also accept file paths on some systems; only IANA names are allowed.
    if name not in _zone_names():
        raise CalendarError(f"{name!r} is not an IANA time zone (like Europe/London)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"{name!r} is not an IANA time zone (like Europe/London)") from None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


@dataclass(frozen=True)
class BusinessCalendar:
    """Working periods per weekday (index 0 = Monday) and holidays, in one time zone.

    ``holidays`` maps a date to the periods worked that day: empty for a day off,
    shorter periods for a partial day (they replace the weekday's periods).
    """

    time_zone: str
    week: tuple[tuple[Period, ...], ...]
    holidays: tuple[tuple[date, tuple[Period, ...]], ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", check_time_zone(self.time_zone))
        if len(self.week) != 7:
            raise CalendarError("a calendar has periods for seven weekdays (Monday first)")
        for name, periods in zip(WEEKDAYS, self.week, strict=True):
            check_periods(periods, name)
        days = [day for day, _ in self.holidays]
        if len(set(days)) != len(days):
            raise CalendarError("a date is listed as a holiday twice")
        for day, periods in self.holidays:
            check_periods(periods, day.isoformat())
        if not any(self.week):
            raise CalendarError("a calendar needs at least one working period in the week")

    @classmethod
    def build(
        cls,
        time_zone: str,
        week: Mapping[str, Sequence[tuple[str, str]]],
        holidays: Mapping[date, Sequence[tuple[str, str]]] | None = None,
    ) -> BusinessCalendar:
        """From readable parts: ``{"mon": [("09:00", "12:30"), ...]}``; missing days are off."""
        unknown = set(week) - set(WEEKDAYS)
        if unknown:
            raise CalendarError(
                f"unknown weekday {sorted(unknown)[0]!r}; use {', '.join(WEEKDAYS)}"
            )
        days = tuple(_parse_day(week.get(name, ()), name) for name in WEEKDAYS)
        special = tuple(
            sorted(
                (day, _parse_day(periods, day.isoformat()))
                for day, periods in (holidays or {}).items()
            )
        )
        return cls(time_zone, days, special)

    @classmethod
    def always_open(cls, time_zone: str = "UTC") -> BusinessCalendar:
        full = (Period(0, MINUTES_PER_DAY),)
        return cls(time_zone, (full,) * 7)

    @cached_property
    def _holiday_map(self) -> dict[date, tuple[Period, ...]]:
        return dict(self.holidays)

    @cached_property
    def is_always_open(self) -> bool:
        full = (Period(0, MINUTES_PER_DAY),)
        return not self.holidays and all(day == full for day in self.week)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def periods_on(self, day: date) -> tuple[Period, ...]:
        found = self._holiday_map.get(day)
        return found if found is not None else self.week[day.weekday()]

    def intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The UTC intervals worked on a local date, by the rule in the module docstring."""
        return _day_intervals(self, day)


def _check_aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


def _offset_at(moment: datetime, zone: ZoneInfo) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _pieces(day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime, timedelta]]:
    """Stretches of UTC, around a local date, over which the zone's offset is constant.

    Every instant of the local date lies within 26 hours of its UTC midnights; a zone
    changes its offset at most once in such a window (true of every modern zone).
    """
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    low, high = midnight - timedelta(hours=26), midnight + timedelta(hours=50)
    before, after = _offset_at(low, zone), _offset_at(high, zone)
    if before == after:
        return [(low, high, before)]
    # Transitions fall on whole seconds: search for the first second with the new offset.
    first, last = 0, int((high - low).total_seconds())
    while last - first > 1:
        middle = (first + last) // 2
        if _offset_at(low + timedelta(seconds=middle), zone) == before:
            first = middle
        else:
            last = middle
    jump = low + timedelta(seconds=last)
    return [(low, jump, before), (jump, high, after)]


@lru_cache(maxsize=8192)
def _day_intervals(calendar: BusinessCalendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    # Within a stretch of constant offset, the instants reading [start, end) are one
    # interval; across a jump there are two pieces, which is exactly how the clock
    # on the wall skips or repeats an hour.
    periods = calendar.periods_on(day)
    if not periods:
        return ()
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    found: list[tuple[datetime, datetime]] = []
    for low, high, offset in _pieces(day, calendar.zone):
        for period in periods:
            start = max(midnight + timedelta(minutes=period.start) - offset, low)
            end = min(midnight + timedelta(minutes=period.end) - offset, high)
            if end > start:
                found.append((start, end))
    return tuple(_merge(sorted(found)))


def _merge(intervals: Iterable[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    pending: tuple[datetime, datetime] | None = None
    for start, end in intervals:
        if pending is None:
            pending = (start, end)
        elif start <= pending[1]:
            pending = (pending[0], max(end, pending[1]))
        else:
            yield pending
            pending = (start, end)
    if pending is not None:
        yield pending


def _intervals_from(
    calendar: BusinessCalendar, moment: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Working intervals that end after ``moment``, in order (touching ones not merged:
    the callers only sum them, and a 24/7 calendar would never end one)."""
    # Start a day early: a local date's intervals can begin before its UTC date does.
    day = moment.astimezone(calendar.zone).date() - timedelta(days=1)
    # Give up only after MAX_SEARCH_DAYS without any working time (years of holidays),
    # not after a fixed span: a sparse calendar may need years for a long duration.
    idle_days = 0
    while idle_days < MAX_SEARCH_DAYS:
        intervals = [(s, e) for s, e in _day_intervals(calendar, day) if e > moment]
        idle_days = 0 if intervals else idle_days + 1
        yield from intervals
        day += timedelta(days=1)


def add_business_time(start: datetime, duration: timedelta, calendar: BusinessCalendar) -> datetime:
    """The first instant at which ``duration`` of business time has passed since ``start``.

    A zero duration gives ``start`` itself, even outside business hours.
    """
    moment = _check_aware(start, "start")
    if duration < ZERO:
        raise ValueError("duration must not be negative")
    if duration == ZERO:
        return moment
    if calendar.is_always_open:
        return moment + duration
    remaining = duration
    for begin, end in _intervals_from(calendar, moment):
        begin = max(begin, moment)
        available = end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise CalendarError(
        f"the calendar has no working time in the {MAX_SEARCH_DAYS} days after {start}"
    )


def business_time_between(a: datetime, b: datetime, calendar: BusinessCalendar) -> timedelta:
    """Business time in [a, b); zero when b is not after a."""
    first, last = _check_aware(a, "a"), _check_aware(b, "b")
    if last <= first:
        return ZERO
    if calendar.is_always_open:
        return last - first
    total = ZERO
    for begin, end in _iter_until(calendar, first, last):
        total += min(end, last) - max(begin, first)
    return total


def _iter_until(
    calendar: BusinessCalendar, first: datetime, last: datetime
) -> Iterator[tuple[datetime, datetime]]:
    # Walk the local dates covering [first, last) directly: a long pause is days, not years.
    zone = calendar.zone
    day = first.astimezone(zone).date() - timedelta(days=1)
    final = last.astimezone(zone).date() + timedelta(days=1)
    while day <= final:
        for begin, end in _day_intervals(calendar, day):
            if end > first and begin < last:
                yield begin, end
        day += timedelta(days=1)


def is_business_time(moment: datetime, calendar: BusinessCalendar) -> bool:
    instant = _check_aware(moment, "moment")
    local_day = instant.astimezone(calendar.zone).date()
    for day in (local_day - timedelta(days=1), local_day, local_day + timedelta(days=1)):
        intervals = _day_intervals(calendar, day)
        starts = [start for start, _ in intervals]
        index = bisect_right(starts, instant) - 1
        if index >= 0 and intervals[index][1] > instant:
            return True
    return False
