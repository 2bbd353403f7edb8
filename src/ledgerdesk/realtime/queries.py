"""Reading the real-time stream: who may see which entries, and the entries after an id.

Entries are read with their JSON as stored (``CAST(... AS TEXT)``) and spliced into
the frame's text, so an entry is never decoded and encoded again on its way out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.queries import hidden_team_ids
from ledgerdesk.db.direct import execute_direct
from ledgerdesk.db.load import begin
from ledgerdesk.realtime.models import StreamEvent
from ledgerdesk.realtime.outbox import STREAM

BATCH = 500


@dataclass(frozen=True)
class Audience:
    """One connection's view of the stream: one customer's, or an agent's."""

    customer_id: int | None
    hidden_team_ids: frozenset[int] = frozenset()

    def may_see_team(self, team_id: int | None) -> bool:
        return team_id is None or team_id not in self.hidden_team_ids


def event_frame(entry_id: int, kind: str, data_json: str) -> str:
    """The text of an ``event`` frame around an entry's stored JSON."""
    return f'{{"type":"event","id":{entry_id},"kind":{json.dumps(kind)},"data":{data_json}}}'


@dataclass(frozen=True, slots=True)
class StreamRow:
    """One entry with both views' JSON as stored (``customer_json`` None: not for the
    customer). Frames are made on demand, once per view."""

    id: int
    kind: str
    team_id: int | None
    customer_id: int | None
    data_json: str
    customer_json: str | None

    def agent_frame(self) -> str:
        return event_frame(self.id, self.kind, self.data_json)

    def customer_frame(self) -> str | None:
        if self.customer_json is None:
            return None
        return event_frame(self.id, self.kind, self.customer_json)


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """An entry as one audience sees it: its id and the frame's text."""

    id: int
    text: str

    def frame(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.text)
        return parsed


async def audience_of(session: AsyncSession, principal: Principal) -> Audience:
    principal.require_scope("conversations:read")
    if principal.customer_id is not None:
        return Audience(customer_id=principal.customer_id)
    agent = principal.require_agent()
    return Audience(
        customer_id=None, hidden_team_ids=frozenset(await hidden_team_ids(session, agent))
    )


_HEAD = select(func.coalesce(func.max(StreamEvent.id), 0))


async def stream_head(session: AsyncSession | AsyncConnection) -> int:
    """The id of the newest entry (0 for an empty stream)."""
    return int((await session.execute(_HEAD)).scalar_one())


# Statements are built once: building one (clauses, cache key) costs more than running
# it on SQLite. The ids and limits are bound parameters.
_AFTER = STREAM.c.id > bindparam("after")
_UP_TO = STREAM.c.id <= bindparam("up_to")
_ROWS = (
    select(
        STREAM.c.id,
        STREAM.c.kind,
        STREAM.c.team_id,
        STREAM.c.customer_id,
        cast(STREAM.c.data, Text),
        cast(STREAM.c.customer_data, Text),
    )
    .where(_AFTER)
    .order_by(STREAM.c.id)
    .limit(bindparam("limit"))
)
_FOR_CUSTOMER = (
    select(STREAM.c.id, STREAM.c.kind, cast(STREAM.c.customer_data, Text))
    .where(
        _AFTER,
        _UP_TO,
        STREAM.c.customer_id == bindparam("customer_id"),
        STREAM.c.customer_data.is_not(None),
    )
    .order_by(STREAM.c.id)
    .limit(bindparam("limit"))
)
_FOR_AGENTS = (
    select(STREAM.c.id, STREAM.c.kind, cast(STREAM.c.data, Text))
    .where(_AFTER, _UP_TO)
    .order_by(STREAM.c.id)
    .limit(bindparam("limit"))
)
_FOR_AGENTS_HIDING = (
    select(STREAM.c.id, STREAM.c.kind, cast(STREAM.c.data, Text))
    .where(
        _AFTER,
        _UP_TO,
        or_(
            STREAM.c.team_id.is_(None),
            STREAM.c.team_id.not_in(bindparam("hidden", expanding=True)),
        ),
    )
    .order_by(STREAM.c.id)
    .limit(bindparam("limit"))
)
# Above any id either database hands out.
_NO_LIMIT = 2**63 - 1


async def read_rows(
    source: AsyncSession | AsyncConnection, after_id: int, limit: int = BATCH
) -> list[StreamRow]:
    """Every entry newer than ``after_id``, oldest first, with both views (the hub's read).

    From a session the SELECT runs straight on the driver (db/direct.py): under a chat
    load the hub reads after nearly every commit, and SQLAlchemy's execution around the
    statement cost several times the database's work.
    """
    params = {"after": after_id, "limit": limit}
    if isinstance(source, AsyncSession):
        await begin(source)
        direct = await execute_direct(source, _ROWS, params)
        if direct is not None:
            return [StreamRow(*row) for row in direct.rows]
    result = await source.execute(_ROWS, params)
    return [StreamRow(*row) for row in result.all()]


async def read_after(
    session: AsyncSession | AsyncConnection,
    audience: Audience,
    after_id: int,
    limit: int = BATCH,
    *,
    up_to: int | None = None,
) -> list[StreamEntry]:
    """Entries newer than ``after_id`` (and at most ``up_to``) that this audience may see,
    oldest first."""
    params: dict[str, Any] = {
        "after": after_id,
        "up_to": _NO_LIMIT if up_to is None else up_to,
        "limit": limit,
    }
    if audience.customer_id is not None:
        statement = _FOR_CUSTOMER
        params["customer_id"] = audience.customer_id
    elif audience.hidden_team_ids:
        statement = _FOR_AGENTS_HIDING
        params["hidden"] = sorted(audience.hidden_team_ids)
    else:
        statement = _FOR_AGENTS
    result = await session.execute(statement, params)
    return [
        StreamEntry(entry_id, event_frame(entry_id, kind, data_json or "{}"))
        for entry_id, kind, data_json in result.all()
    ]
