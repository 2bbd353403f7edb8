"""Reads: policies, calendars, and the clocks of conversations.

The clock hooks do not read policies and calendars here: they use the cached
configuration (cache.py), which changes a few times a year.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.db.load import load_now, rows_of
from ledgerdesk.errors import NotFound
from ledgerdesk.sla.calendar import BusinessCalendar
from ledgerdesk.sla.models import ConversationSla, SlaCalendar, SlaPolicy
from ledgerdesk.sla.policy import clock_state
from ledgerdesk.sla.schemas import SlaClockOut

UTC_24_7 = BusinessCalendar.always_open("UTC")


async def list_calendars(session: AsyncSession) -> Sequence[SlaCalendar]:
    found = await session.execute(select(SlaCalendar).order_by(SlaCalendar.name))
    return found.scalars().all()


async def get_calendar(session: AsyncSession, calendar_id: int) -> SlaCalendar:
    row = await session.get(SlaCalendar, calendar_id)
    if row is None:
        raise NotFound(f"calendar {calendar_id} does not exist")
    return row


async def list_policies(session: AsyncSession, *, active_only: bool = False) -> Sequence[SlaPolicy]:
    query = select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id)
    if active_only:
        query = query.where(SlaPolicy.is_active.is_(True))
    return (await session.execute(query)).scalars().all()


async def get_policy(session: AsyncSession, policy_id: int) -> SlaPolicy:
    row = await session.get(SlaPolicy, policy_id)
    if row is None:
        raise NotFound(f"SLA policy {policy_id} does not exist")
    return row


# Built once (every reply and status change asks; building cost as much as running).
_CLOCKS_OF = (
    select(ConversationSla)
    .where(ConversationSla.conversation_id == bindparam("conversation_id"))
    .order_by(ConversationSla.id)
)
_CLOCK_ROWS = (
    rows_of(ConversationSla)
    .where(ConversationSla.__table__.c.conversation_id == bindparam("conversation_id"))
    .order_by(ConversationSla.__table__.c.id)
)
_STATES_OF = (
    select(ConversationSla, SlaPolicy.name)
    .join(SlaPolicy, SlaPolicy.id == ConversationSla.policy_id)
    .where(ConversationSla.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(ConversationSla.id)
)


async def open_clocks(session: AsyncSession, conversation_id: int) -> list[ConversationSla]:
    """Clocks not stopped yet, plus the last stopped resolution clock (a reopen resumes it)."""
    rows: Sequence[ConversationSla] = await load_now(
        session, ConversationSla, _CLOCK_ROWS, _CLOCKS_OF, {"conversation_id": conversation_id}
    )
    unstopped = [row for row in rows if row.stopped_at is None]
    resolution = [row for row in rows if row.metric == "resolution"]
    if resolution and resolution[-1].stopped_at is not None:
        unstopped.append(resolution[-1])
    return unstopped


async def sla_for(
    session: AsyncSession, principal: Principal, conversation_id: int
) -> list[SlaClockOut]:
    """A conversation's clocks for the API; customers do not see the team's targets."""
    if principal.is_customer:
        return []
    return (await sla_states(session, [conversation_id])).get(conversation_id, [])


async def sla_states(
    session: AsyncSession, conversation_ids: Sequence[int], now: datetime | None = None
) -> dict[int, list[SlaClockOut]]:
    """Each conversation's current clocks (running ones, and the latest verdict per metric)."""
    if not conversation_ids:
        return defaultdict(list)
    found = await session.execute(_STATES_OF, {"ids": list(conversation_ids)})
    return clocks_out(found.all(), now or datetime.now(UTC))


_METRIC_ORDER = {"first_response": 0, "next_response": 1, "resolution": 2}


def clocks_out(
    rows: Iterable[tuple[ConversationSla, str]], now: datetime
) -> dict[int, list[SlaClockOut]]:
    """Clocks (oldest first, each with its policy's name) as the API shows them: the
    latest clock of each metric per conversation, in metric order, with its state."""
    latest: dict[tuple[int, str], tuple[ConversationSla, str]] = {}
    for clock, policy_name in rows:
        latest[(clock.conversation_id, clock.metric)] = (clock, policy_name)
    result: dict[int, list[SlaClockOut]] = defaultdict(list)
    for (conversation_id, _metric), (clock, policy_name) in sorted(
        latest.items(), key=lambda item: (item[0][0], _METRIC_ORDER.get(item[0][1], 9))
    ):
        state = clock_state(
            now=now,
            due_at=clock.due_at,
            warn_at=clock.warn_at,
            paused_at=clock.paused_at,
            breached_at=clock.breached_at,
            stopped_at=clock.stopped_at,
            met=clock.met,
        )
        result[conversation_id].append(SlaClockOut.of(clock, policy_name, state))
    return result
