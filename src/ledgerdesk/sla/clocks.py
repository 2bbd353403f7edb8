"""How one clock row moves: start, pause, resume, stop, retarget (no I/O).

The functions change a ``ConversationSla`` in memory; the actions in ``actions.py``
decide when to call them and the unit of work writes the rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ledgerdesk.sla.calendar import BusinessCalendar, business_time_between
from ledgerdesk.sla.models import ConversationSla
from ledgerdesk.sla.policy import Metric, clock_times


def next_check(clock: ConversationSla) -> datetime | None:
    """When the sweep must look next: the warning, then the due time; never while idle."""
    if clock.stopped_at is not None or clock.paused_at is not None or clock.breached_at is not None:
        return None
    return clock.warn_at if clock.warned_at is None else clock.due_at


def recompute(clock: ConversationSla, calendar: BusinessCalendar, warn_share: float) -> None:
    times = clock_times(
        clock.started_at,
        timedelta(seconds=clock.target_seconds),
        timedelta(microseconds=clock.paused_us),
        warn_share,
        calendar,
    )
    clock.warn_at, clock.due_at = times.warn_at, times.due_at
    clock.next_check_at = next_check(clock)


def new_clock(
    *,
    conversation_id: int,
    metric: Metric,
    policy_id: int,
    target_minutes: int,
    started_at: datetime,
    calendar: BusinessCalendar,
    warn_share: float,
) -> ConversationSla:
    clock = ConversationSla(
        conversation_id=conversation_id,
        metric=metric.value,
        policy_id=policy_id,
        target_seconds=target_minutes * 60,
        started_at=started_at,
        paused_us=0,
        paused_at=None,
        warned_at=None,
        breached_at=None,
        stopped_at=None,
        met=None,
    )
    recompute(clock, calendar, warn_share)
    return clock


def pause(clock: ConversationSla, now: datetime) -> bool:
    if clock.stopped_at is not None or clock.paused_at is not None:
        return False
    clock.paused_at = now
    clock.next_check_at = None
    return True


def resume(
    clock: ConversationSla, now: datetime, calendar: BusinessCalendar, warn_share: float
) -> bool:
    """Continue a paused clock: its due time moves back by the business time it was paused."""
    if clock.stopped_at is not None or clock.paused_at is None:
        return False
    clock.paused_us += _microseconds(business_time_between(clock.paused_at, now, calendar))
    clock.paused_at = None
    _rewarn(clock, now, calendar, warn_share)
    return True


def reopen(
    clock: ConversationSla, now: datetime, calendar: BusinessCalendar, warn_share: float
) -> bool:
    """Run a resolution clock again after a reopen, as if the solved time had been a pause.

    A breach already recorded stays: the customer waited too long then.
    """
    if clock.stopped_at is None or clock.met is None:
        return False
    clock.paused_us += _microseconds(business_time_between(clock.stopped_at, now, calendar))
    clock.stopped_at = None
    clock.met = None
    clock.paused_at = None
    _rewarn(clock, now, calendar, warn_share)
    return True


def stop(clock: ConversationSla, now: datetime) -> bool:
    """Stop with a verdict: met when it stopped by its due time and never breached."""
    if clock.stopped_at is not None:
        return False
    effective = clock.paused_at or now
    clock.met = clock.breached_at is None and effective <= clock.due_at
    clock.stopped_at = now
    clock.next_check_at = None
    return True


def cancel(clock: ConversationSla, now: datetime) -> bool:
    """Stop without a verdict (its policy no longer applies); analytics leave it out."""
    if clock.stopped_at is not None:
        return False
    clock.stopped_at = now
    clock.met = None
    clock.next_check_at = None
    return True


def retarget(
    clock: ConversationSla,
    *,
    policy_id: int,
    target_minutes: int,
    now: datetime,
    calendar: BusinessCalendar,
    warn_share: float,
) -> None:
    """Apply another policy's target, measured from the clock's original start."""
    clock.policy_id = policy_id
    clock.target_seconds = target_minutes * 60
    _rewarn(clock, now, calendar, warn_share)


def _rewarn(
    clock: ConversationSla, now: datetime, calendar: BusinessCalendar, warn_share: float
) -> None:
    recompute(clock, calendar, warn_share)
    if clock.warned_at is not None and clock.warn_at > now:
        # The warning time moved into the future again: warn again when it comes.
        clock.warned_at = None
        clock.next_check_at = next_check(clock)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
