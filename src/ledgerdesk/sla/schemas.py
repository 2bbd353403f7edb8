"""API shapes for calendars, policies and the clocks shown on a conversation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledgerdesk.conversations.status import Priority
from ledgerdesk.customers.models import Tier
from ledgerdesk.server.types import DbId, Label, Name
from ledgerdesk.sla.calendar import WEEKDAYS, BusinessCalendar, CalendarError
from ledgerdesk.sla.models import ConversationSla, SlaCalendar, SlaPolicy
from ledgerdesk.sla.policy import ClockState, Metric

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Channel = Literal["webchat", "email", "telegram", "discord", "api"]
TimeOfDay = Annotated[str, Field(pattern=r"^\d{2}:\d{2}$", examples=["09:00"])]
# A target of up to a year; longer is a typo, not a promise.
Minutes = Annotated[int, Field(ge=1, le=366 * 24 * 60)]


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: TimeOfDay
    end: TimeOfDay = Field(description="24:00 for the end of the day")


class HolidayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date
    name: Label = ""
    periods: list[PeriodIn] = Field(
        default_factory=list, max_length=10, description="hours worked that day; empty: closed"
    )


class CalendarIn(BaseModel):
    """Working periods per weekday in local time; a day left out is a day off."""

    model_config = ConfigDict(extra="forbid")
    name: Label = Field(min_length=1)
    time_zone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    always_open: bool = Field(default=False, description="24/7: every day 00:00-24:00")
    week: dict[Weekday, list[PeriodIn]] = Field(default_factory=dict)
    holidays: list[HolidayIn] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _valid_calendar(self) -> CalendarIn:
        if self.always_open and (self.week or self.holidays):
            raise ValueError("a 24/7 calendar (always_open) takes no week and no holidays")
        try:
            self.to_calendar()
        except CalendarError as exc:
            raise ValueError(str(exc)) from None
        return self

    def stored_week(self) -> dict[str, list[list[str]]]:
        if self.always_open:
            return {day: [["00:00", "24:00"]] for day in WEEKDAYS}
        return {day: [[p.start, p.end] for p in periods] for day, periods in self.week.items()}

    def stored_holidays(self) -> list[dict[str, object]]:
        ordered = sorted(self.holidays, key=lambda h: h.date)
        return [
            {
                "date": h.date.isoformat(),
                "name": h.name,
                "periods": [[p.start, p.end] for p in h.periods],
            }
            for h in ordered
        ]

    def to_calendar(self) -> BusinessCalendar:
        return calendar_of(self.time_zone, self.stored_week(), self.stored_holidays())


def calendar_of(
    time_zone: str, week: dict[str, list[list[str]]], holidays: list[dict[str, object]]
) -> BusinessCalendar:
    """The pure calendar for stored parts (raises CalendarError)."""
    special: dict[dt.date, list[tuple[str, str]]] = {}
    for holiday in holidays:
        day = dt.date.fromisoformat(str(holiday["date"]))
        if day in special:
            raise CalendarError(f"{day} is listed as a holiday twice")
        periods = holiday.get("periods") or []
        assert isinstance(periods, list)
        special[day] = [(str(a), str(b)) for a, b in periods]
    return BusinessCalendar.build(
        time_zone, {day: [(a, b) for a, b in periods] for day, periods in week.items()}, special
    )


class CalendarOut(BaseModel):
    id: int
    name: str
    time_zone: str
    always_open: bool
    week: dict[str, list[PeriodIn]]
    holidays: list[HolidayIn]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: SlaCalendar) -> CalendarOut:
        full = all(row.week.get(day) == [["00:00", "24:00"]] for day in WEEKDAYS)
        return cls(
            id=row.id,
            name=row.name,
            time_zone=row.time_zone,
            always_open=full and not row.holidays,
            week={
                day: [PeriodIn(start=a, end=b) for a, b in row.week.get(day, [])]
                for day in WEEKDAYS
            },
            holidays=[HolidayIn.model_validate(h) for h in row.holidays],
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class Conditions(BaseModel):
    """Each list accepts any of its values; an empty list accepts anything."""

    model_config = ConfigDict(extra="forbid")
    priorities: list[Priority] = Field(default_factory=list, max_length=10)
    tiers: list[Tier] = Field(default_factory=list, max_length=10)
    channels: list[Channel] = Field(default_factory=list, max_length=10)
    inbox_ids: list[DbId] = Field(default_factory=list, max_length=100)


class Notify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["notify"]


class Reassign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["reassign"]
    team_id: DbId | None = None
    agent_id: DbId | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> Reassign:
        if self.team_id is None and self.agent_id is None:
            raise ValueError("reassign needs a team_id, an agent_id or both")
        return self


class RaisePriority(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["raise_priority"]
    to: Priority | None = Field(default=None, description="default: one step up")


Escalation = Annotated[Notify | Reassign | RaisePriority, Field(discriminator="type")]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label = Field(min_length=1)
    position: int = Field(default=0, ge=0, le=1_000_000)
    is_active: bool = True
    conditions: Conditions = Field(default_factory=Conditions)
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    calendar_id: DbId | None = Field(default=None, description="none: 24/7 in UTC")
    warn_share: float = Field(
        default=0.8, gt=0, lt=1, description="warn at this share of the target"
    )
    escalations: list[Escalation] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _some_target(self) -> PolicyIn:
        targets = (self.first_response_minutes, self.next_response_minutes, self.resolution_minutes)
        if all(t is None for t in targets):
            raise ValueError(
                "a policy needs at least one target: first_response_minutes, "
                "next_response_minutes or resolution_minutes"
            )
        return self


class PolicyOut(PolicyIn):
    id: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: SlaPolicy) -> PolicyOut:
        return cls.model_validate(
            {
                "id": row.id,
                "name": row.name,
                "position": row.position,
                "is_active": row.is_active,
                "conditions": row.conditions,
                "first_response_minutes": row.first_response_minutes,
                "next_response_minutes": row.next_response_minutes,
                "resolution_minutes": row.resolution_minutes,
                "calendar_id": row.calendar_id,
                "warn_share": row.warn_share,
                "escalations": row.escalations,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
            }
        )


class SlaClockOut(BaseModel):
    """One clock on a conversation, as the API and the console show it."""

    id: int
    metric: Metric
    state: ClockState
    policy_id: int
    policy_name: Name
    target_minutes: float
    started_at: dt.datetime
    warn_at: dt.datetime
    due_at: dt.datetime
    paused_at: dt.datetime | None
    warned_at: dt.datetime | None
    breached_at: dt.datetime | None
    stopped_at: dt.datetime | None
    met: bool | None

    @classmethod
    def of(cls, clock: ConversationSla, policy_name: str, state: ClockState) -> SlaClockOut:
        return cls(
            id=clock.id,
            metric=Metric(clock.metric),
            state=state,
            policy_id=clock.policy_id,
            policy_name=policy_name,
            target_minutes=clock.target_seconds / 60,
            started_at=clock.started_at,
            warn_at=clock.warn_at,
            due_at=clock.due_at,
            paused_at=clock.paused_at,
            warned_at=clock.warned_at,
            breached_at=clock.breached_at,
            stopped_at=clock.stopped_at,
            met=clock.met,
        )


class SweepOut(BaseModel):
    warned: int
    breached: int
    escalated: int
