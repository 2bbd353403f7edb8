"""The facts of one conversation, from its rows (pure; no I/O). docs/metrics.md defines them.

Everything is measured from what the database records: message times, status
changes, the SLA clocks' verdicts, the survey. Business-hours figures use the
calendar of the conversation's SLA policy (24/7 UTC without one, so they equal the
calendar-time figures then) and the arithmetic of ``sla/calendar.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledgerdesk.conversations.status import UNRESOLVED, Status
from ledgerdesk.sla.calendar import BusinessCalendar, business_time_between

# An assistant conversation counts as resolved by the assistant when nobody asked for a
# person within this long after its last answer (Intercom's Fin resolution).
ASSISTANT_WINDOW = timedelta(hours=24)
# Time spent: each message an agent writes counts the time since the conversation's
# previous message, at most this long (we do not record how long a tab was open).
EFFORT_CAP = timedelta(minutes=10)
# Statuses during which the team owes work; resolution in business hours counts only these.
WORKING = frozenset({Status.NEW, Status.OPEN})


@dataclass(frozen=True, slots=True)
class ConversationIn:
    id: int
    created_at: datetime
    channel: str
    language: str | None
    custom_fields: dict[str, Any]
    priority: str
    status: str
    inbox_id: int | None
    team_id: int | None
    assignee_id: int | None
    solved_at: datetime | None


@dataclass(frozen=True, slots=True)
class MessageIn:
    author_kind: str  # customer, agent, assistant, system
    agent_id: int | None
    is_internal: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventIn:
    kind: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ClockIn:
    metric: str
    met: bool | None
    breached_at: datetime | None
    stopped_at: datetime | None


@dataclass(slots=True)
class AgentPart:
    agent_id: int
    handled: bool = False
    is_assignee: bool = False
    replies: int = 0
    first_response_s: float | None = None
    first_response_bh_s: float | None = None
    response_n: int = 0
    response_s: float = 0.0
    response_bh_s: float = 0.0
    time_spent_s: float = 0.0
    csat_rating: int | None = None


@dataclass(slots=True)
class Facts:
    conversation_id: int
    created_at: datetime
    created_hour: datetime
    created_day: datetime
    hour_of_day: int
    weekday: int
    channel: str
    language: str
    category: str
    priority: str
    status: str
    inbox_id: int | None
    team_id: int | None
    assignee_id: int | None
    is_open: bool
    solved_at: datetime | None
    first_response_s: float | None = None
    first_response_bh_s: float | None = None
    next_response_n: int = 0
    next_response_s: float = 0.0
    next_response_bh_s: float = 0.0
    resolution_s: float | None = None
    resolution_bh_s: float | None = None
    solved_ever: bool = False
    reopens: int = 0
    sla_met: int = 0
    sla_missed: int = 0
    csat_rating: int | None = None
    assistant_involved: bool = False
    assistant_resolved: bool = False
    handoff_reason: str | None = None
    agent_replies: int = 0
    recheck_at: datetime | None = None
    source_updated_at: datetime | None = None
    agents: dict[int, AgentPart] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The columns of analytics_conversation_facts."""
        values = {name: getattr(self, name) for name in self.__slots__ if name != "agents"}
        return values

    def agent_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "conversation_id": self.conversation_id,
                "created_day": self.created_day,
                **{name: getattr(part, name) for name in part.__slots__},
            }
            for part in self.agents.values()
        ]


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def _category(custom_fields: dict[str, Any]) -> str:
    value = custom_fields.get("category") if isinstance(custom_fields, dict) else None
    return str(value)[:100] if value not in (None, "") else ""


def compute_facts(
    conversation: ConversationIn,
    messages: Sequence[MessageIn],
    events: Sequence[EventIn],
    clocks: Sequence[ClockIn],
    calendar: BusinessCalendar,
    now: datetime,
    survey_rating: int | None = None,
) -> Facts:
    """The facts of one conversation; ``messages`` and ``events`` in the order written."""
    created = conversation.created_at
    hour = created.replace(minute=0, second=0, microsecond=0)
    facts = Facts(
        conversation_id=conversation.id,
        created_at=created,
        created_hour=hour,
        created_day=hour.replace(hour=0),
        hour_of_day=created.hour,
        weekday=created.weekday(),
        channel=conversation.channel,
        language=(conversation.language or "")[:20],
        category=_category(conversation.custom_fields),
        priority=conversation.priority,
        status=conversation.status,
        inbox_id=conversation.inbox_id,
        team_id=conversation.team_id,
        assignee_id=conversation.assignee_id,
        is_open=conversation.status in UNRESOLVED,
        solved_at=conversation.solved_at,
        csat_rating=survey_rating,
    )
    _responses(facts, messages, calendar)
    _resolution(facts, conversation, events, calendar)
    _sla(facts, clocks)
    _assistant(facts, messages, events, now)
    if conversation.assignee_id is not None:
        part = facts.agents.setdefault(
            conversation.assignee_id, AgentPart(conversation.assignee_id)
        )
        part.is_assignee = True
        part.csat_rating = survey_rating
    return facts


def _responses(facts: Facts, messages: Sequence[MessageIn], calendar: BusinessCalendar) -> None:
    """First response, next responses (a customer's message after an agent's reply, until
    the next agent reply), and each agent's replies, waits ended and time spent."""
    waiting_since: datetime | None = None
    answered = False
    previous: datetime | None = None
    for message in messages:
        at = message.created_at
        if message.author_kind == "agent" and message.agent_id is not None:
            part = facts.agents.setdefault(message.agent_id, AgentPart(message.agent_id))
            if previous is not None:
                part.time_spent_s += _seconds(min(max(at - previous, timedelta(0)), EFFORT_CAP))
            if not message.is_internal:
                part.replies += 1
                part.handled = True
                facts.agent_replies += 1
                start = facts.created_at if not answered else waiting_since
                if start is not None:
                    wait = _seconds(at - start)
                    wait_bh = _seconds(business_time_between(start, at, calendar))
                    if not answered:
                        facts.first_response_s, facts.first_response_bh_s = wait, wait_bh
                        part.first_response_s, part.first_response_bh_s = wait, wait_bh
                    else:
                        facts.next_response_n += 1
                        facts.next_response_s += wait
                        facts.next_response_bh_s += wait_bh
                    part.response_n += 1
                    part.response_s += wait
                    part.response_bh_s += wait_bh
                answered = True
                waiting_since = None
        elif (
            message.author_kind == "customer"
            and not message.is_internal
            and answered
            and waiting_since is None
        ):
            waiting_since = at
        previous = at


def _resolution(
    facts: Facts,
    conversation: ConversationIn,
    events: Sequence[EventIn],
    calendar: BusinessCalendar,
) -> None:
    """Calendar: creation to the last solve. Business hours: only the time the team owed
    work (new or open), so waiting on the customer and earlier solved spells are left out,
    the way the SLA resolution clock pauses."""
    changes = [e for e in events if e.kind == "status_changed"]
    facts.solved_ever = conversation.status in (Status.SOLVED, Status.CLOSED) or any(
        e.data.get("to") == Status.SOLVED for e in changes
    )
    facts.reopens = sum(
        1
        for e in changes
        if e.data.get("from") in (Status.SOLVED, Status.CLOSED)
        and e.data.get("to") not in (Status.SOLVED, Status.CLOSED)
    )
    solved_at = conversation.solved_at
    if conversation.status not in (Status.SOLVED, Status.CLOSED) or solved_at is None:
        return
    facts.resolution_s = max(0.0, _seconds(solved_at - facts.created_at))
    working = timedelta(0)
    status, since = str(Status.NEW), facts.created_at
    for change in changes:
        if change.created_at >= solved_at:
            break
        if status in WORKING:
            working += business_time_between(since, change.created_at, calendar)
        status, since = str(change.data.get("to")), change.created_at
    if status in WORKING:
        working += business_time_between(since, solved_at, calendar)
    facts.resolution_bh_s = _seconds(working)


def _sla(facts: Facts, clocks: Sequence[ClockIn]) -> None:
    """A clock counts once it has a verdict: met, missed, or breached while still running.
    Cancelled clocks (their policy stopped applying) are left out."""
    for clock in clocks:
        if clock.met is True:
            facts.sla_met += 1
        elif clock.met is False or (clock.stopped_at is None and clock.breached_at is not None):
            facts.sla_missed += 1


def _assistant(
    facts: Facts, messages: Sequence[MessageIn], events: Sequence[EventIn], now: datetime
) -> None:
    answers = [m for m in messages if m.author_kind == "assistant" and not m.is_internal]
    if not answers:
        return
    facts.assistant_involved = True
    handoffs = [e for e in events if e.kind == "assistant_handoff"]
    if handoffs:
        facts.handoff_reason = str(handoffs[0].data.get("reason") or "unknown")[:60]
        return
    if facts.agent_replies:
        facts.handoff_reason = "agent_replied"
        return
    if any(e.kind == "assistant_resolved" for e in events):
        facts.assistant_resolved = True
        return
    settles = answers[-1].created_at + ASSISTANT_WINDOW
    if now >= settles:
        facts.assistant_resolved = True
    else:
        facts.recheck_at = settles
