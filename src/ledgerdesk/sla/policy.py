"""Choosing a policy and computing a clock's times (pure; no I/O).

Policies are tried in order of position (then id); the first whose conditions all
match the conversation wins. A condition is a list of accepted values; an empty or
missing list accepts anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from ledgerdesk.sla.calendar import BusinessCalendar, add_business_time


class Metric(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class ClockState(StrEnum):
    ACTIVE = "active"
    WARNING = "warning"
    PAUSED = "paused"
    BREACHED = "breached"
    MET = "met"
    CANCELLED = "cancelled"


CONDITION_KEYS = ("priorities", "tiers", "channels", "inbox_ids")
ESCALATION_TYPES = ("notify", "reassign", "raise_priority")


@dataclass(frozen=True, slots=True)
class Subject:
    """What a policy's conditions look at."""

    priority: str
    tier: str | None
    channel: str
    inbox_id: int | None


class PolicyLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def conditions(self) -> Mapping[str, Sequence[Any]]: ...


def matches(conditions: Mapping[str, Sequence[Any]], subject: Subject) -> bool:
    values = {
        "priorities": subject.priority,
        "tiers": subject.tier,
        "channels": subject.channel,
        "inbox_ids": subject.inbox_id,
    }
    return all(not conditions.get(key) or values[key] in conditions[key] for key in CONDITION_KEYS)


P = TypeVar("P", bound=PolicyLike)


def select_policy(policies: Iterable[P], subject: Subject) -> P | None:
    for policy in sorted(policies, key=lambda p: (p.position, p.id)):
        if matches(policy.conditions, subject):
            return policy
    return None


def target_minutes(
    metric: Metric, first: int | None, next_: int | None, resolution: int | None
) -> int | None:
    return {
        Metric.FIRST_RESPONSE: first,
        Metric.NEXT_RESPONSE: next_,
        Metric.RESOLUTION: resolution,
    }[metric]


@dataclass(frozen=True, slots=True)
class ClockTimes:
    warn_at: datetime
    due_at: datetime


def clock_times(
    started_at: datetime,
    target: timedelta,
    paused: timedelta,
    warn_share: float,
    calendar: BusinessCalendar,
) -> ClockTimes:
    """Due when ``target`` of running business time has passed; pauses push it back.

    Business time is additive, so "started, then paused for P" is the same as having
    started with a target of ``target + P``: no need to replay the pauses.
    """
    warn = target * warn_share
    return ClockTimes(
        warn_at=add_business_time(started_at, warn + paused, calendar),
        due_at=add_business_time(started_at, target + paused, calendar),
    )


def clock_state(
    *,
    now: datetime,
    due_at: datetime,
    warn_at: datetime,
    paused_at: datetime | None,
    breached_at: datetime | None,
    stopped_at: datetime | None,
    met: bool | None,
) -> ClockState:
    """What the console shows; it reads the times, so it is right even between sweeps."""
    if stopped_at is not None:
        if met is None:
            return ClockState.CANCELLED
        return ClockState.MET if met else ClockState.BREACHED
    # A moment is "passed" once now is later than it: a reply at due_at is on time.
    effective = paused_at or now
    if breached_at is not None or effective > due_at:
        return ClockState.BREACHED
    if paused_at is not None:
        return ClockState.PAUSED
    if effective > warn_at:
        return ClockState.WARNING
    return ClockState.ACTIVE


PRIORITY_ORDER = ("low", "normal", "high", "urgent")


def raised_priority(current: str, to: str | None) -> str:
    """One step up, or to ``to``; never lower than the current priority."""
    rank = PRIORITY_ORDER.index(current) if current in PRIORITY_ORDER else 1
    wanted = (
        PRIORITY_ORDER.index(to) if to in PRIORITY_ORDER else min(rank + 1, len(PRIORITY_ORDER) - 1)
    )
    return PRIORITY_ORDER[max(rank, wanted)]
