"""The sweep: find clocks whose warning or due time has passed, mark them, escalate.

It reads only due rows: ``next_check_at < now`` on a partial index, in batches, so
its cost follows the number of clocks that fell due since the last sweep, not the
number of open conversations. Marking is set-based (one UPDATE per batch and kind)
and idempotent: a marked clock has moved its ``next_check_at`` on and is not found
again. On PostgreSQL the batch is locked with SKIP LOCKED, so sweeps in several
processes share the work instead of doing it twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm.attributes import set_committed_value

from ledgerdesk.accounts.models import Agent
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.conversations.status import Status
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import Event
from ledgerdesk.realtime import outbox
from ledgerdesk.realtime.models import StreamEvent
from ledgerdesk.realtime.payloads import conversation_payload, message_payload
from ledgerdesk.sla.models import ConversationSla, SlaPolicy
from ledgerdesk.sla.policy import raised_priority

SLA_TOPIC = "sla"
# Core tables for the set-based writes.
MESSAGES = cast(Table, Message.__table__)
HISTORY = cast(Table, ConversationEvent.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
STREAM = cast(Table, StreamEvent.__table__)
STREAM_KEY = "sla.stream"
METRIC_NAMES = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


@dataclass
class SweepResult:
    warned: int = 0
    breached: int = 0
    escalations: int = 0
    batches: int = 0
    # True when max_rows stopped the sweep with due clocks left (run it again).
    more: bool = False
    conversation_ids: set[int] = field(default_factory=set)


async def do_sweep_sla(
    uow: UnitOfWork, now: datetime, *, batch_size: int = 1000, max_rows: int | None = None
) -> SweepResult:
    """Mark warnings and breaches due before ``now``; stage events; run escalations."""
    result = SweepResult()
    seen = 0
    policies: dict[int, SlaPolicy | None] = {}
    while True:
        limit = batch_size if max_rows is None else min(batch_size, max_rows - seen)
        if limit <= 0:
            result.more = True
            break
        rows = await _due_batch(uow, now, limit)
        if not rows:
            break
        result.batches += 1
        seen += len(rows)
        await _apply(uow, rows, now, result, policies)
        if len(rows) < limit:
            break
    return result


async def _due_batch(uow: UnitOfWork, now: datetime, limit: int) -> Sequence[Any]:
    clock = ConversationSla
    query = (
        select(
            clock.id,
            clock.conversation_id,
            clock.metric,
            clock.policy_id,
            clock.warn_at,
            clock.due_at,
            clock.warned_at,
        )
        .where(clock.next_check_at.is_not(None), clock.next_check_at < now)
        .order_by(clock.next_check_at)
        .limit(limit)
    )
    if uow.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found: Sequence[Any] = (await uow.session.execute(query)).all()
    return found


async def _apply(
    uow: UnitOfWork,
    rows: Sequence[Any],
    now: datetime,
    result: SweepResult,
    policies: dict[int, SlaPolicy | None],
) -> None:
    session = uow.session
    breached = [row for row in rows if row.due_at < now]
    warned = [row for row in rows if row.due_at >= now and row.warned_at is None]
    clock = ConversationSla
    if breached:
        await session.execute(
            update(clock)
            .where(clock.id.in_([row.id for row in breached]), clock.breached_at.is_(None))
            .values(breached_at=now, next_check_at=None)
            .execution_options(synchronize_session=False)
        )
    if warned:
        await session.execute(
            update(clock)
            .where(clock.id.in_([row.id for row in warned]), clock.warned_at.is_(None))
            .values(warned_at=now, next_check_at=clock.due_at)
            .execution_options(synchronize_session=False)
        )
    result.warned += len(warned)
    result.breached += len(breached)
    result.conversation_ids |= {row.conversation_id for row in (*breached, *warned)}
    for row in warned:
        _emit(uow, "sla.warning", row, now)
    for row in breached:
        _emit(uow, "sla.breached", row, now)
    for row in breached:
        if row.policy_id not in policies:
            policies[row.policy_id] = await session.get(SlaPolicy, row.policy_id)
    # Only breaches whose policy escalates need their conversation loaded.
    escalating = [
        row for row in breached if (policy := policies[row.policy_id]) and policy.escalations
    ]
    if not escalating:
        return
    found = await session.execute(
        select(Conversation).where(Conversation.id.in_({row.conversation_id for row in escalating}))
    )
    conversations = {c.id: c for c in found.scalars()}
    escalation = _Escalation(uow, now)
    for row in escalating:
        policy = policies[row.policy_id]
        conversation = conversations.get(row.conversation_id)
        if policy is not None and conversation is not None:
            result.escalations += await escalation.run(conversation, row, policy)
    await escalation.finish()


def _emit(uow: UnitOfWork, kind: str, row: Any, now: datetime) -> None:
    uow.emit(
        Event(
            kind,
            (SLA_TOPIC, f"conversation:{row.conversation_id}"),
            {
                "clock_id": row.id,
                "conversation_id": row.conversation_id,
                "metric": row.metric,
                "policy_id": row.policy_id,
                "warn_at": row.warn_at.isoformat(),
                "due_at": row.due_at.isoformat(),
                "at": now.isoformat(),
            },
        )
    )


def _stream(uow: UnitOfWork, kind: str, conversation: Conversation, data: dict[str, Any]) -> None:
    """Stage an agents-only real-time stream entry, written set-based before the commit."""
    uow.staged(STREAM_KEY).append(
        {
            "kind": kind,
            "conversation_id": conversation.id,
            "customer_id": conversation.customer_id,
            "team_id": conversation.team_id,
            "data": data,
            "customer_data": None,
        }
    )
    uow.before_commit(STREAM_KEY, _write_stream)


async def _write_stream(uow: UnitOfWork) -> None:
    """The outbox's rule in bulk: under its advisory lock, last thing before the commit,
    so stream ids stay in commit order; then one "stream.appended" after the commit."""
    rows: list[dict[str, Any]] = list(uow.staged(STREAM_KEY))
    if not rows:
        return
    session = uow.session
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": outbox.ADVISORY_LOCK_KEY}
        )
    now = datetime.now(UTC)
    inserted = await session.execute(
        insert(STREAM).returning(STREAM.c.id, sort_by_parameter_order=True),
        [{**row, "created_at": now} for row in rows],
    )
    last_id = max(inserted.scalars().all())
    uow.emit(Event("stream.appended", (outbox.AGENTS_TOPIC,), {"last_id": last_id}))


class _Escalation:
    """Runs a policy's escalation actions for breached clocks, as the system.

    Notes and history rows are written set-based at the end of a batch (one INSERT
    each, one UPDATE of the message counts); the rarer changes of priority, team or
    assignee go through the ORM objects.
    """

    def __init__(self, uow: UnitOfWork, now: datetime) -> None:
        self.uow = uow
        self.now = now
        self.conversations: dict[int, Conversation] = {}
        self.changes: dict[int, set[str]] = {}
        self.notes: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []

    def _record(self, conversation: Conversation, kind: str, data: dict[str, Any]) -> None:
        self.history.append(
            {
                "conversation_id": conversation.id,
                "kind": kind,
                "actor_kind": "system",
                "actor_agent_id": None,
                "actor_customer_id": None,
                "data": data,
                "created_at": self.now,
            }
        )

    def _changed(self, conversation: Conversation, what: str) -> None:
        self.changes.setdefault(conversation.id, set()).add(what)

    async def run(self, conversation: Conversation, row: Any, policy: SlaPolicy) -> int:
        self.conversations[conversation.id] = conversation
        reason = {"reason": "sla_breach", "clock_id": row.id, "policy_id": policy.id}
        done = 0
        for action in policy.escalations:
            kind = action.get("type")
            if kind == "notify":
                self._notify(conversation, row, policy)
            elif kind == "raise_priority":
                target = raised_priority(conversation.priority, action.get("to"))
                if target == conversation.priority:
                    continue
                self._record(
                    conversation,
                    "priority_changed",
                    {"from": conversation.priority, "to": target, **reason},
                )
                conversation.priority = target
                self._changed(conversation, "priority")
            elif kind == "reassign":
                if not await self._reassign(conversation, action, reason):
                    continue
            else:
                continue
            done += 1
        return done

    def _notify(self, conversation: Conversation, row: Any, policy: SlaPolicy) -> None:
        metric = METRIC_NAMES.get(row.metric, row.metric)
        self.notes.append(
            {
                "conversation_id": conversation.id,
                "author_kind": "system",
                "agent_id": None,
                "customer_id": None,
                "is_internal": True,
                "body": (
                    f"SLA breached: {metric} was due at {row.due_at:%Y-%m-%d %H:%M} UTC "
                    f"(policy {policy.name})."
                ),
                "channel": conversation.channel,
                "channel_message_id": None,
                "attachments": [],
                "signature": None,
                "signing_key_id": None,
                "safety_flags": None,
                "created_at": self.now,
            }
        )
        topics = [SLA_TOPIC, "sla:notify", f"conversation:{conversation.id}"]
        if conversation.team_id is not None:
            topics.append(f"team:{conversation.team_id}")
        if conversation.assignee_id is not None:
            topics.append(f"agent:{conversation.assignee_id}")
        self.uow.emit(
            Event(
                "sla.notify",
                tuple(topics),
                {
                    "conversation_id": conversation.id,
                    "metric": row.metric,
                    "policy_id": policy.id,
                    "due_at": row.due_at.isoformat(),
                    "team_id": conversation.team_id,
                    "assignee_id": conversation.assignee_id,
                },
            )
        )

    async def _reassign(
        self, conversation: Conversation, action: dict[str, Any], reason: dict[str, Any]
    ) -> bool:
        team_id, agent_id = action.get("team_id"), action.get("agent_id")
        moved = False
        if team_id is not None and team_id != conversation.team_id:
            self._record(
                conversation,
                "team_changed",
                {"from": conversation.team_id, "to": team_id, **reason},
            )
            conversation.team_id = team_id
            self._changed(conversation, "team_id")
            moved = True
        if agent_id is not None and agent_id != conversation.assignee_id:
            agent = await self.uow.session.get(Agent, agent_id)
            if agent is None or not agent.is_active or not agent.can_reply:
                return moved  # deactivated since the policy was saved: keep the assignee
            self._record(
                conversation,
                "assignee_changed",
                {"from": conversation.assignee_id, "to": agent_id, **reason},
            )
            conversation.assignee_id = agent_id
            self._changed(conversation, "assignee_id")
            if conversation.status == Status.NEW:
                opened = {"from": "new", "to": "open", **reason}
                self._record(conversation, "status_changed", opened)
                conversation.status = Status.OPEN
                self._changed(conversation, "status")
            moved = True
        return moved

    async def finish(self) -> None:
        """Write the notes and history rows; announce each change on the stream."""
        session = self.uow.session
        if self.history:
            await session.execute(insert(HISTORY), self.history)
        notes: list[Message] = []
        if self.notes:
            inserted = await session.execute(
                insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True),
                self.notes,
            )
            ids = inserted.scalars().all()
            # Plain rows shaped like a Message for message_payload: building thousands of
            # ORM objects only to read them back cost more than writing them.
            notes = [
                cast(Message, SimpleNamespace(id=i, **values))
                for i, values in zip(ids, self.notes, strict=True)
            ]
            added = Counter(note.conversation_id for note in notes)
            table = CONVERSATIONS
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("conversation"))
                .values(
                    message_count=table.c.message_count + bindparam("added"), updated_at=self.now
                ),
                [{"conversation": key, "added": n} for key, n in added.items()],
            )
            for key, n in added.items():
                # Already written above: keep the ORM from writing them again.
                conversation = self.conversations[key]
                set_committed_value(conversation, "message_count", conversation.message_count + n)
                set_committed_value(conversation, "updated_at", self.now)
        for key in self.changes:
            self.conversations[key].updated_at = self.now
        for note in notes:
            conversation = self.conversations[note.conversation_id]
            _stream(
                self.uow,
                "message.created",
                conversation,
                {
                    "conversation": conversation_payload(conversation),
                    "message": message_payload(note),
                },
            )
        for key, changes in self.changes.items():
            conversation = self.conversations[key]
            payload = {
                "conversation": conversation_payload(conversation),
                "changes": sorted(changes),
            }
            _stream(self.uow, "conversation.updated", conversation, payload)
