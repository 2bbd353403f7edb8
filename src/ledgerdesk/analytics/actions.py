"""Keeping the analytics tables up to date: the refresh from a watermark, and the rebuild.

**Refresh.** Conversations whose ``updated_at`` is past the watermark (every message,
status change, assignment and survey answer bumps it), whose SLA clock the sweep
breached since the breach watermark, or whose facts expire with time (the assistant's
24 hours) get their facts recomputed from their rows, and the rollup rows they count in
change by the difference between their new facts and their old ones. Running it twice,
or on a conversation that did not change, changes nothing. A rebuild recomputes
everything from scratch.

**Why an overlap.** ``updated_at`` is written by the application before its transaction
commits. On PostgreSQL a transaction that started earlier can commit after a later one,
so a row may appear with an ``updated_at`` older than a watermark already passed. Each
refresh therefore starts ``OVERLAP`` before its watermark; a transaction open longer
than that is caught by the next change to the conversation or by a rebuild. On SQLite
writers are serialised, so the overlap only costs a few repeated rows.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from typing import cast as type_cast

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Insert, Select
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from ledgerdesk.analytics.facts import (
    ClockIn,
    ConversationIn,
    EventIn,
    Facts,
    MessageIn,
    compute_facts,
)
from ledgerdesk.analytics.models import AgentFacts, AnalyticsState, ConversationFacts, Rollup
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.db.direct import run_direct_many
from ledgerdesk.db.engine import Database
from ledgerdesk.feedback.models import Survey
from ledgerdesk.sla.calendar import BusinessCalendar
from ledgerdesk.sla.models import ConversationSla, SlaCalendar, SlaPolicy
from ledgerdesk.sla.queries import UTC_24_7
from ledgerdesk.sla.schemas import calendar_of

OVERLAP = timedelta(minutes=2)
FACTS_TABLE = type_cast(Table, ConversationFacts.__table__)
AGENT_FACTS_TABLE = type_cast(Table, AgentFacts.__table__)
# Conversations read and computed per batch of a refresh. The embedded worker runs the
# refresh on the server's event loop, between requests at each step of a batch
# (_let_requests_run). Under api_bench's replies (bench/README.md), 200 a batch served
# 950-980 replies/s, 100 a batch 859-889/s: a conversation costs a fifth less with
# 200 (about 0.1 ms of CPU), and no step took more than 9 ms in a catch-up.
BATCH = 200
# Conversations per write transaction within a batch: on SQLite a write holds the
# process's other writers. With 10,000-request phases of api_bench, parts of 100 kept
# the replies' p99 at 47-51 ms against 57-60 ms for whole batches of 200, at the same
# throughput (parts of 50 cost a fifth more CPU a conversation).
WRITE_PART = 100
# pg_advisory_xact_lock key of the refresh ("ldanalyt" in ASCII).
REFRESH_LOCK_KEY = 0x6C64616E616C7974
STATE_NAME = "refresh"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EVENT_KINDS = ("status_changed", "assistant_handoff", "assistant_resolved")
DIMENSIONS = ("channel", "language", "category", "priority", "team", "handoff", "agent")


@dataclass
class RefreshResult:
    conversations: int = 0
    days: int = 0
    seconds: float = 0.0


# Facts ----------------------------------------------------------------------------


async def _calendars(session: AsyncSession) -> dict[int, BusinessCalendar]:
    """Each policy's calendar by policy id (policies are few)."""
    found = await session.execute(
        select(SlaPolicy.id, SlaCalendar.time_zone, SlaCalendar.week, SlaCalendar.holidays).join(
            SlaCalendar, SlaCalendar.id == SlaPolicy.calendar_id
        )
    )
    return {row[0]: calendar_of(row[1], row[2], row[3]) for row in found}


async def load_facts(
    session: AsyncSession,
    ids: Sequence[int],
    now: datetime,
    calendars: dict[int, BusinessCalendar] | None = None,
) -> list[Facts]:
    """Compute the facts of the given conversations from their rows (missing ids: none)."""
    if not ids:
        return []
    if calendars is None:
        calendars = await _calendars(session)
    conversations = await session.execute(
        select(
            Conversation.id,
            Conversation.created_at,
            Conversation.channel,
            Conversation.language,
            Conversation.custom_fields,
            Conversation.priority,
            Conversation.status,
            Conversation.inbox_id,
            Conversation.team_id,
            Conversation.assignee_id,
            Conversation.solved_at,
            Conversation.updated_at,
        ).where(Conversation.id.in_(ids))
    )
    messages: dict[int, list[MessageIn]] = defaultdict(list)
    found_messages = await session.execute(
        select(
            Message.conversation_id,
            Message.author_kind,
            Message.agent_id,
            Message.is_internal,
            Message.created_at,
        )
        .where(Message.conversation_id.in_(ids))
        .order_by(Message.conversation_id, Message.id)
    )
    for cid, kind, agent_id, internal, at in found_messages:
        messages[cid].append(MessageIn(kind, agent_id, internal, at))
    events: dict[int, list[EventIn]] = defaultdict(list)
    found_events = await session.execute(
        select(
            ConversationEvent.conversation_id,
            ConversationEvent.kind,
            ConversationEvent.data,
            ConversationEvent.created_at,
        )
        .where(ConversationEvent.conversation_id.in_(ids), ConversationEvent.kind.in_(EVENT_KINDS))
        .order_by(ConversationEvent.conversation_id, ConversationEvent.id)
    )
    for cid, kind, data, at in found_events:
        events[cid].append(EventIn(kind, data or {}, at))
    clocks: dict[int, list[ClockIn]] = defaultdict(list)
    policy_of: dict[int, int] = {}
    found_clocks = await session.execute(
        select(
            ConversationSla.conversation_id,
            ConversationSla.metric,
            ConversationSla.met,
            ConversationSla.breached_at,
            ConversationSla.stopped_at,
            ConversationSla.policy_id,
        )
        .where(ConversationSla.conversation_id.in_(ids))
        .order_by(ConversationSla.id)
    )
    for cid, metric, met, breached, stopped, policy_id in found_clocks:
        clocks[cid].append(ClockIn(metric, met, breached, stopped))
        policy_of.setdefault(cid, policy_id)
    ratings: dict[int, int] = {}
    found_ratings = await session.execute(
        select(Survey.conversation_id, Survey.rating).where(
            Survey.conversation_id.in_(ids), Survey.rating.is_not(None)
        )
    )
    for cid, rating in found_ratings:
        if rating is not None:
            ratings[cid] = int(rating)
    result = []
    for *row, updated_at in conversations:
        conversation = ConversationIn(*row)
        policy = policy_of.get(conversation.id)
        calendar = calendars.get(policy, UTC_24_7) if policy is not None else UTC_24_7
        facts = compute_facts(
            conversation,
            messages[conversation.id],
            events[conversation.id],
            clocks[conversation.id],
            calendar,
            now,
            ratings.get(conversation.id),
        )
        facts.source_updated_at = updated_at
        result.append(facts)
    return result


# Built once, so that the direct path (db/direct.py) compiles them once.
_INSERT_FACTS: Final = insert(FACTS_TABLE)
_INSERT_AGENT_FACTS: Final = insert(AGENT_FACTS_TABLE)


async def _store_facts(session: AsyncSession, ids: Sequence[int], facts: list[Facts]) -> None:
    # Core deletes on the tables: the session holds no facts objects, so the ORM's bulk
    # delete had nothing to synchronise and only added its own machinery (7% of the
    # refresh in a profile of the server).
    await session.execute(delete(FACTS_TABLE).where(FACTS_TABLE.c.conversation_id.in_(ids)))
    await session.execute(
        delete(AGENT_FACTS_TABLE).where(AGENT_FACTS_TABLE.c.conversation_id.in_(ids))
    )
    # Core inserts on the tables (an executemany), not ORM bulk inserts: several times
    # faster for thousands of plain rows; on SQLite straight to sqlite3's executemany
    # (db/direct.py), which took this step of a 250-conversation batch from 8.2 to 7.4 ms.
    for statement, rows in (
        (_INSERT_FACTS, [f.row() for f in facts]),
        (_INSERT_AGENT_FACTS, [row for f in facts for row in f.agent_rows()]),
    ):
        if rows and not run_direct_many(session, statement, rows):
            await session.execute(statement, rows)


# Rollups --------------------------------------------------------------------------


def _flag(column: Any) -> ColumnElement[int]:
    return case((column.is_(True), 1), else_=0)


def _conversation_sums() -> dict[str, ColumnElement[Any]]:
    f = ConversationFacts
    return {
        "conversations": func.count(),
        "first_response_n": func.count(f.first_response_s),
        "first_response_s": func.coalesce(func.sum(f.first_response_s), 0.0),
        "first_response_bh_s": func.coalesce(func.sum(f.first_response_bh_s), 0.0),
        "next_response_n": func.coalesce(func.sum(f.next_response_n), 0),
        "next_response_s": func.coalesce(func.sum(f.next_response_s), 0.0),
        "next_response_bh_s": func.coalesce(func.sum(f.next_response_bh_s), 0.0),
        "resolved_n": func.count(f.resolution_s),
        "resolution_s": func.coalesce(func.sum(f.resolution_s), 0.0),
        "resolution_bh_s": func.coalesce(func.sum(f.resolution_bh_s), 0.0),
        "solved_ever_n": func.coalesce(func.sum(_flag(f.solved_ever)), 0),
        "reopened_n": func.coalesce(func.sum(case((f.reopens > 0, 1), else_=0)), 0),
        "sla_met": func.coalesce(func.sum(f.sla_met), 0),
        "sla_total": func.coalesce(func.sum(f.sla_met + f.sla_missed), 0),
        "csat_n": func.count(f.csat_rating),
        "csat_good": func.coalesce(func.sum(case((f.csat_rating >= 4, 1), else_=0)), 0),
        "assistant_n": func.coalesce(func.sum(_flag(f.assistant_involved)), 0),
        "assistant_resolved_n": func.coalesce(func.sum(_flag(f.assistant_resolved)), 0),
        "handoff_n": func.count(f.handoff_reason),
        "replies": func.coalesce(func.sum(f.agent_replies), 0),
        "time_spent_s": literal(0.0),
    }


def _agent_sums() -> dict[str, ColumnElement[Any]]:
    a = AgentFacts
    zero = literal(0)
    return {
        "conversations": func.coalesce(func.sum(_flag(a.handled)), 0),
        "first_response_n": func.count(a.first_response_s),
        "first_response_s": func.coalesce(func.sum(a.first_response_s), 0.0),
        "first_response_bh_s": func.coalesce(func.sum(a.first_response_bh_s), 0.0),
        # For an agent, the "next response" columns hold every wait the agent ended.
        "next_response_n": func.coalesce(func.sum(a.response_n), 0),
        "next_response_s": func.coalesce(func.sum(a.response_s), 0.0),
        "next_response_bh_s": func.coalesce(func.sum(a.response_bh_s), 0.0),
        "resolved_n": zero,
        "resolution_s": literal(0.0),
        "resolution_bh_s": literal(0.0),
        "solved_ever_n": zero,
        "reopened_n": zero,
        "sla_met": zero,
        "sla_total": zero,
        "csat_n": func.count(a.csat_rating),
        "csat_good": func.coalesce(func.sum(case((a.csat_rating >= 4, 1), else_=0)), 0),
        "assistant_n": zero,
        "assistant_resolved_n": zero,
        "handoff_n": zero,
        "replies": func.coalesce(func.sum(a.replies), 0),
        "time_spent_s": func.coalesce(func.sum(a.time_spent_s), 0.0),
    }


def _key_of(dim: str) -> ColumnElement[str]:
    f = ConversationFacts
    column: Any = {
        "channel": f.channel,
        "language": f.language,
        "category": f.category,
        "priority": f.priority,
        "team": func.coalesce(cast(f.team_id, String), ""),
        "handoff": f.handoff_reason,
    }[dim]
    return column  # type: ignore[no-any-return]


async def _rebuild_rollups(session: AsyncSession, days: Iterable[datetime] | None) -> None:
    """Recompute the rollups of the given creation days (None: all of them)."""
    chosen = None if days is None else sorted(set(days))
    if chosen is not None and not chosen:
        return
    groups: list[list[datetime]] | list[None] = (
        [chosen[i : i + 200] for i in range(0, len(chosen), 200)] if chosen is not None else [None]
    )
    for group in groups:
        if group is None:
            await session.execute(delete(Rollup))
        else:
            bounds = or_(
                *(and_(Rollup.bucket >= d, Rollup.bucket < d + timedelta(days=1)) for d in group)
            )
            await session.execute(delete(Rollup).where(bounds))
        await _insert_rollups(session, group)


def _rollup_selects(
    days: list[datetime] | None = None, ids: Sequence[int] | BindParameter[Any] | None = None
) -> list[Select[Any]]:
    """The rollup rows (dim, bucket, key, *sums) of some facts: those of the conversations
    created on ``days`` (None: all), or of the conversations ``ids``."""
    f, a = ConversationFacts, AgentFacts
    sums = _conversation_sums()

    def where(day: Any, conversation: Any) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if days is not None:
            conditions.append(day.in_(days))
        if ids is not None:
            conditions.append(conversation.in_(ids))
        return conditions

    statements: list[Select[Any]] = [
        select(literal("all"), f.created_hour, literal(""), *sums.values())
        .where(*where(f.created_day, f.conversation_id))
        .group_by(f.created_hour),
        # The same sums per day, so a daily series reads one row a day, not 24.
        select(literal("day"), f.created_day, literal(""), *sums.values())
        .where(*where(f.created_day, f.conversation_id))
        .group_by(f.created_day),
    ]
    for dim in DIMENSIONS:
        if dim == "agent":
            agent_sums = _agent_sums()
            statements.append(
                select(
                    literal("agent"),
                    a.created_day,
                    cast(a.agent_id, String),
                    *agent_sums.values(),
                )
                .where(*where(a.created_day, a.conversation_id))
                .group_by(a.created_day, a.agent_id)
            )
            continue
        key = _key_of(dim)
        conditions = where(f.created_day, f.conversation_id)
        if dim == "handoff":
            conditions.append(f.handoff_reason.is_not(None))
        statements.append(
            select(literal(dim), f.created_day, key, *sums.values())
            .where(*conditions)
            .group_by(f.created_day, key)
        )
    return statements


async def _insert_rollups(session: AsyncSession, days: list[datetime] | None) -> None:
    names = ["dim", "bucket", "key", *_conversation_sums()]
    for statement in _rollup_selects(days=days):
        await session.execute(insert(Rollup).from_select(names, statement))


SUM_NAMES: Final = tuple(_conversation_sums())
# A rollup row whose counts are all zero holds no conversation any more.
_COUNT_NAMES: Final = tuple(
    name for name in SUM_NAMES if not name.endswith("_s") and name != "conversations"
)

RollupKey = tuple[str, datetime, str]


# Built once: constructing nine grouped selects took as long as running them. One
# statement (UNION ALL), not nine: for 250 conversations the nine took 3.7 ms, of
# which SQLite's own work was 1.85 ms; the refresh cost 13% less (bench/README.md).
_ROLLUP_SUMS_OF_IDS: Final = union_all(*_rollup_selects(ids=bindparam("ids", expanding=True)))


async def _rollup_sums(session: AsyncSession, ids: Sequence[int]) -> dict[RollupKey, list[float]]:
    """What the stored facts of ``ids`` add to each rollup row."""
    found: dict[RollupKey, list[float]] = {}
    for dim, bucket, key, *values in (
        await session.execute(_ROLLUP_SUMS_OF_IDS, {"ids": list(ids)})
    ).all():
        found[(dim, bucket, key)] = [float(v or 0) for v in values]
    return found


async def _add_to_rollups(
    session: AsyncSession,
    before: dict[RollupKey, list[float]],
    after: dict[RollupKey, list[float]],
) -> set[datetime]:
    """Add (after - before) to the rollup rows, and drop the rows left holding nothing.

    Every rollup column is a count or a sum, so replacing some conversations' facts
    changes each row by exactly their new sums minus their old ones: the refresh costs
    what changed, not the size of the day (a rebuild of a day of 10,000 conversations
    every five seconds took half a second of the event loop each time). The update is
    ``column + delta`` in SQL, so two refreshes at once add both their changes.
    """
    deltas: list[dict[str, Any]] = []
    for row_key in before.keys() | after.keys():
        old = before.get(row_key)
        new = after.get(row_key)
        values = [
            (new[i] if new else 0.0) - (old[i] if old else 0.0) for i in range(len(SUM_NAMES))
        ]
        if any(values):
            dim, bucket, key = row_key
            row: dict[str, Any] = {"dim": dim, "bucket": bucket, "key": key}
            for name, value in zip(SUM_NAMES, values, strict=True):
                row[name] = value if name.endswith("_s") else round(value)
            deltas.append(row)
    if not deltas:
        return set()
    statement = _ADD_TO_ROLLUPS.get(session.get_bind().dialect.name)
    if statement is None:
        raise RuntimeError("analytics needs SQLite or PostgreSQL")
    await session.execute(statement, deltas)
    buckets = sorted({row["bucket"] for row in deltas})
    await session.execute(_DROP_EMPTY_ROLLUPS, {"buckets": buckets})
    return {_day_of(bucket) for bucket in buckets}


_ROLLUPS = type_cast(Table, Rollup.__table__)


def _add_to_rollups_statement(dialect: str) -> Insert:
    upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(_ROLLUPS)
    return upsert.on_conflict_do_update(
        index_elements=[_ROLLUPS.c.dim, _ROLLUPS.c.bucket, _ROLLUPS.c.key],
        set_={name: _ROLLUPS.c[name] + upsert.excluded[name] for name in SUM_NAMES},
    )


# Built once per dialect. Built per call (with an ORM delete, which first matched its
# criteria against the session's objects), this step was a fifth of a refresh in
# batches of 50, building about half of that; 225 -> 166 us a conversation.
_ADD_TO_ROLLUPS: Final = {
    name: _add_to_rollups_statement(name) for name in ("sqlite", "postgresql")
}
# Rows left holding nothing.
_DROP_EMPTY_ROLLUPS: Final = delete(_ROLLUPS).where(
    _ROLLUPS.c.bucket.in_(bindparam("buckets", expanding=True)),
    _ROLLUPS.c.conversations == 0,
    *(_ROLLUPS.c[name] == 0 for name in _COUNT_NAMES),
    _ROLLUPS.c.time_spent_s < 1e-6,
)


def _day_of(bucket: datetime) -> datetime:
    return bucket.replace(hour=0, minute=0, second=0, microsecond=0)


# Refresh and rebuild ---------------------------------------------------------------


async def _state(session: AsyncSession) -> AnalyticsState:
    state = await session.get(AnalyticsState, STATE_NAME)
    if state is None:
        state = AnalyticsState(name=STATE_NAME)
        session.add(state)
        await session.flush()
    return state


async def _apply(
    session: AsyncSession,
    ids: Sequence[int],
    now: datetime,
    calendars: dict[int, BusinessCalendar],
    *,
    rollups: bool = True,
    stored: Sequence[int] | None = None,
    computed: list[Facts] | None = None,
) -> set[datetime]:
    """Recompute the facts of ``ids`` and, with ``rollups``, change the rollups by the
    difference; returns the days whose rollups changed.

    ``stored``: those of ``ids`` that have facts already, when the caller knows (under
    lock); the others add nothing to the rollups yet, so their old sums need no query.
    ``computed``: their facts, when the caller computed them before taking the lock.
    """
    if not ids:
        return set()
    if rollups:
        await _serialise_refreshes(session)
        known = ids if stored is None else stored
        before = await _rollup_sums(session, known) if known else {}
        await _let_requests_run()
    facts = computed if computed is not None else await load_facts(session, ids, now, calendars)
    await _let_requests_run()
    await _store_facts(session, ids, facts)
    if not rollups:
        return set()
    await _let_requests_run()
    after = await _rollup_sums(session, ids)
    await _let_requests_run()
    return await _add_to_rollups(session, before, after)


async def _let_requests_run() -> None:
    """Give the event loop back between the steps of a batch.

    On SQLite the statements run on the loop's own thread (db/sqlite_inline.py) and
    never suspend, so a whole batch was one pause for every request of the process;
    reads now run between its steps.
    """
    await asyncio.sleep(0)


async def _serialise_refreshes(session: AsyncSession) -> None:
    """On PostgreSQL, one refresh batch at a time (the job, a CLI run): two batches
    reading the same conversations' old facts at once would add one change twice.
    SQLite's writer lock already does this."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REFRESH_LOCK_KEY})


async def _present_with_facts(session: AsyncSession, ids: Sequence[int]) -> dict[int, bool]:
    """Those of ``ids`` that still exist, each with whether it has stored facts."""
    if not ids:
        return {}
    found = await session.execute(
        select(Conversation.id, ConversationFacts.conversation_id)
        .outerjoin(ConversationFacts, ConversationFacts.conversation_id == Conversation.id)
        .where(Conversation.id.in_(ids))
    )
    return {cid: facts_of is not None for cid, facts_of in found}


async def do_refresh_analytics(
    db: Database, now: datetime | None = None, *, batch: int = BATCH, write_part: int = WRITE_PART
) -> RefreshResult:
    """Bring facts and rollups up to date with everything changed since the watermarks.

    Facts are written in batches, each its own transaction with its change to the
    rollups, so a long catch-up never holds the (SQLite) write lock for long and facts
    and rollups always agree. The watermarks move at the end: an interrupted run
    leaves them where they were, and the next one does the batches again (a batch
    whose facts are already current changes nothing).
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    result = RefreshResult()
    days: set[datetime] = set()
    cursor: tuple[datetime, int] | None = None
    conversations_seen: datetime | None = None
    while True:
        # The facts are computed in a read transaction, without the write lock: it reads
        # every message of the changed conversations, and on SQLite every write of the
        # process (a chat message...) waited for that. A conversation that changes
        # meanwhile gets facts as of the read, whose source_updated_at no longer matches
        # its row: the next run computes it again.
        async with db.session() as session:
            state = await session.get(AnalyticsState, STATE_NAME)
            calendars = await _calendars(session)
            # Only conversations whose facts are missing or older than the row: the
            # overlap window holds every change of the last OVERLAP, which under load
            # is tens of thousands of conversations already done by the last run.
            query = (
                select(Conversation.id, Conversation.updated_at, ConversationFacts.conversation_id)
                .outerjoin(ConversationFacts, ConversationFacts.conversation_id == Conversation.id)
                .where(
                    or_(
                        ConversationFacts.source_updated_at.is_(None),
                        ConversationFacts.source_updated_at != Conversation.updated_at,
                    )
                )
            )
            if cursor is None:
                since = ((state and state.conversations_seen) or EPOCH) - OVERLAP
                query = query.where(Conversation.updated_at > since)
            else:
                last_at, last_id = cursor
                query = query.where(
                    or_(
                        Conversation.updated_at > last_at,
                        and_(Conversation.updated_at == last_at, Conversation.id > last_id),
                    )
                )
            rows = (
                await session.execute(
                    query.order_by(Conversation.updated_at, Conversation.id).limit(batch)
                )
            ).all()
            await _let_requests_run()
            facts = await load_facts(session, [row[0] for row in rows], now, calendars)
        await _let_requests_run()
        # Stored in parts (WRITE_PART), each its own transaction with its change to the
        # rollups: a part holds the process's other writers for less time.
        for start in range(0, len(rows), write_part):
            part = rows[start : start + write_part]
            async with db.writer() as session:
                # Under the lock: which have facts must not change until the commit,
                # and a conversation deleted since the read gets none.
                await _serialise_refreshes(session)
                present = await _present_with_facts(session, [row[0] for row in part])
                ids = [row[0] for row in part if row[0] in present]
                stored = [cid for cid in ids if present[cid]]
                computed = [f for f in facts if f.conversation_id in present]
                days |= await _apply(session, ids, now, calendars, stored=stored, computed=computed)
                cursor = (part[-1][1], part[-1][0])
                conversations_seen = cursor[0]
                await session.commit()
            result.conversations += len(ids)
            await _let_requests_run()
        if len(rows) < batch:
            break
    # Breaches noticed by the sweep, and facts that change with time alone.
    async with db.writer() as session:
        state = await _state(session)
        calendars = await _calendars(session)
        since = (state.breaches_seen or EPOCH) - OVERLAP
        breached = (
            await session.execute(
                select(ConversationSla.conversation_id, ConversationSla.breached_at).where(
                    ConversationSla.breached_at > since
                )
            )
        ).all()
        due = (
            await session.execute(
                select(ConversationFacts.conversation_id).where(ConversationFacts.recheck_at <= now)
            )
        ).all()
        ids = sorted({row[0] for row in breached} | {row[0] for row in due})
        for start in range(0, len(ids), batch):
            days |= await _apply(session, ids[start : start + batch], now, calendars)
        if conversations_seen is not None:
            seen = state.conversations_seen
            state.conversations_seen = (
                conversations_seen if seen is None else max(seen, conversations_seen)
            )
        state.refreshed_at = now
        if breached:
            latest = max(row[1] for row in breached if row[1] is not None)
            seen = state.breaches_seen
            state.breaches_seen = latest if seen is None else max(seen, latest)
        await session.commit()
    result.conversations += len(ids)
    result.days = len(days)
    result.seconds = time.perf_counter() - started
    return result


async def do_rebuild_analytics(
    db: Database, now: datetime | None = None, *, batch: int = 2000
) -> RefreshResult:
    """Recompute every conversation's facts and all rollups from scratch."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    result = RefreshResult()
    async with db.writer() as session:
        await _serialise_refreshes(session)
        # The watermarks first: anything changing during the rebuild is refreshed after it.
        marks = (
            await session.scalar(select(func.max(Conversation.updated_at))),
            await session.scalar(select(func.max(ConversationSla.breached_at))),
        )
        await session.execute(delete(AgentFacts))
        await session.execute(delete(ConversationFacts))
        state = await _state(session)
        state.conversations_seen, state.breaches_seen = marks[0], marks[1]
        await session.commit()
    last_id = 0
    while True:
        async with db.writer() as session:
            calendars = await _calendars(session)
            ids = list(
                (
                    await session.execute(
                        select(Conversation.id)
                        .where(Conversation.id > last_id)
                        .order_by(Conversation.id)
                        .limit(batch)
                    )
                ).scalars()
            )
            await _apply(session, ids, now, calendars, rollups=False)
            await session.commit()
        result.conversations += len(ids)
        if len(ids) < batch:
            break
        last_id = ids[-1]
    async with db.writer() as session:
        # A refresh batch adding its differences meanwhile would be counted twice.
        await _serialise_refreshes(session)
        await _rebuild_rollups(session, None)
        state = await _state(session)
        state.refreshed_at = now
        result.days = int(
            await session.scalar(select(func.count(func.distinct(ConversationFacts.created_day))))
            or 0
        )
        await session.commit()
    result.seconds = time.perf_counter() - started
    return result
