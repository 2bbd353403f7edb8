"""Appending to the real-time stream inside the transaction of the change.

Rows are added last thing before the commit. On PostgreSQL a transaction-level
advisory lock is taken first, so stream ids are handed out in commit order: a
reader who has seen id N can never later find a committed N-1 it missed. On
SQLite writers are already serialised. After the commit one bus notification
("stream.appended") tells each process's stream hub (hub.py) to read what is new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Insert, Table, bindparam, func, insert, select, text

from ledgerdesk.db.direct import execute_direct
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import Event
from ledgerdesk.realtime.models import StreamEvent

STAGE_KEY = "realtime.stream"
STREAM = cast(Table, StreamEvent.__table__)
ADVISORY_LOCK_KEY = 0x6C647374  # "ldst"
AGENTS_TOPIC = "stream:agents"
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_INSERT_ONE = insert(STREAM).returning(STREAM.c.id)
_INSERT_MANY = insert(STREAM).returning(STREAM.c.id, sort_by_parameter_order=True)
_COLUMNS = ("kind", "conversation_id", "customer_id", "team_id", "data", "customer_data")


def _locked_insert_one() -> Insert:
    """PostgreSQL, one entry: the lock and the INSERT in one round trip. The lock is a
    materialised CTE the row is selected from, so it is held before the id (the
    column's sequence, evaluated for the selected row) is drawn."""
    lock = (
        select(func.pg_advisory_xact_lock(bindparam("lock_key", type_=BigInteger)))
        .cte("stream_lock")
        .prefix_with("MATERIALIZED")
    )
    names = (*_COLUMNS, "created_at")
    row = select(*(bindparam(name, type_=STREAM.c[name].type) for name in names))
    return insert(STREAM).from_select(names, row.select_from(lock)).returning(STREAM.c.id)


_LOCKED_INSERT_ONE = _locked_insert_one()


def customer_topic(customer_id: int) -> str:
    return f"stream:customer:{customer_id}"


def append(
    uow: UnitOfWork,
    *,
    kind: str,
    data: dict[str, Any],
    customer_data: dict[str, Any] | None = None,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    team_id: int | None = None,
) -> None:
    """Stage a stream entry: ``data`` for agents, ``customer_data`` for the customer."""
    uow.staged(STAGE_KEY).append(
        {
            "kind": kind,
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "team_id": team_id,
            "data": data,
            "customer_data": customer_data,
        }
    )
    uow.before_commit(STAGE_KEY, _write_staged)


async def _write_staged(uow: UnitOfWork) -> None:
    rows: list[dict[str, Any]] = list(uow.staged(STAGE_KEY))
    if not rows:
        return
    session = uow.session
    postgresql = session.get_bind().dialect.name == "postgresql"
    # One Core INSERT (no ORM objects: nobody reads these rows back in this transaction),
    # which costs a fraction of a flush; the statement is built once.
    now = datetime.now(UTC)
    if len(rows) == 1:
        if postgresql:
            statement = _LOCKED_INSERT_ONE
            values = {**rows[0], "created_at": now, "lock_key": ADVISORY_LOCK_KEY}
        else:
            statement, values = _INSERT_ONE, {**rows[0], "created_at": now}
        direct = await execute_direct(session, statement, values)
        if direct is not None:
            last_id = int(direct.scalar_one_or_none())
        else:
            last_id = int((await session.execute(statement, values)).scalar_one())
    else:
        if postgresql:
            await session.execute(_LOCK, {"key": ADVISORY_LOCK_KEY})
        inserted = await session.execute(_INSERT_MANY, [{**row, "created_at": now} for row in rows])
        last_id = max(inserted.scalars().all())
    # Every append carries the agents' topic, which the hubs hear; the customers' topics
    # are kept for listeners of the previous version (a rolling restart) and cost little.
    topics = {AGENTS_TOPIC}
    topics.update(
        customer_topic(row["customer_id"])
        for row in rows
        if row["customer_id"] is not None and row["customer_data"] is not None
    )
    uow.emit(Event("stream.appended", tuple(sorted(topics)), {"last_id": last_id}))
