"""Reading the real-time stream: who may see which entries, and the entries after an id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.queries import hidden_team_ids
from ledgerdesk.realtime.models import StreamEvent
from ledgerdesk.realtime.outbox import AGENTS_TOPIC, customer_topic

BATCH = 500


@dataclass(frozen=True)
class Audience:
    """One connection's view of the stream: one customer's, or an agent's."""

    customer_id: int | None
    hidden_team_ids: frozenset[int] = frozenset()

    @property
    def topic(self) -> str:
        return AGENTS_TOPIC if self.customer_id is None else customer_topic(self.customer_id)

    def may_see_team(self, team_id: int | None) -> bool:
        return team_id is None or team_id not in self.hidden_team_ids


@dataclass(frozen=True)
class StreamEntry:
    id: int
    kind: str
    data: dict[str, Any]

    def frame(self) -> dict[str, Any]:
        return {"type": "event", "id": self.id, "kind": self.kind, "data": self.data}


async def audience_of(session: AsyncSession, principal: Principal) -> Audience:
    principal.require_scope("conversations:read")
    if principal.customer_id is not None:
        return Audience(customer_id=principal.customer_id)
    agent = principal.require_agent()
    return Audience(
        customer_id=None, hidden_team_ids=frozenset(await hidden_team_ids(session, agent))
    )


async def stream_head(session: AsyncSession) -> int:
    """The id of the newest entry (0 for an empty stream)."""
    return int(
        (await session.execute(select(func.coalesce(func.max(StreamEvent.id), 0)))).scalar_one()
    )


async def read_after(
    session: AsyncSession, audience: Audience, after_id: int, limit: int = BATCH
) -> list[StreamEntry]:
    """Entries newer than ``after_id`` that this audience may see, oldest first."""
    statement = select(StreamEvent).where(StreamEvent.id > after_id)
    if audience.customer_id is not None:
        statement = statement.where(
            StreamEvent.customer_id == audience.customer_id,
            StreamEvent.customer_data.is_not(None),
        )
    elif audience.hidden_team_ids:
        statement = statement.where(
            or_(
                StreamEvent.team_id.is_(None),
                StreamEvent.team_id.not_in(audience.hidden_team_ids),
            )
        )
    rows = (await session.execute(statement.order_by(StreamEvent.id).limit(limit))).scalars()
    if audience.customer_id is not None:
        return [StreamEntry(row.id, row.kind, row.customer_data or {}) for row in rows]
    return [StreamEntry(row.id, row.kind, row.data) for row in rows]
