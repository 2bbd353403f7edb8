"""The sweep: find clocks whose warning or due time has passed, mark them, escalate.

It reads only due rows: ``next_check_at < now`` on a partial index, in batches, so
its cost follows the number of clocks that fell due since the last sweep, not the
number of open conversations. Marking is set-based (one UPDATE per batch and kind)
and idempotent: a marked clock has moved its ``next_check_at`` on and is not found
again. On PostgreSQL the batch is locked with SKIP LOCKED, so sweeps in several
processes share the work instead of doing it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ledgerdesk.accounts.models import Agent
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.conversations.status import Status
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.events.bus import Event
from ledgerdesk.realtime import outbox
from ledgerdesk.realtime.payloads import conversation_payload, message_payload
from ledgerdesk.sla.models import ConversationSla, SlaPolicy
from ledgerdesk.sla.policy import raised_priority

SLA_TOPIC = "sla"
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
    ids = {row.conversation_id for row in (*breached, *warned)}
    if not ids:
        return
    found = await session.execute(select(Conversation).where(Conversation.id.in_(ids)))
    conversations = {c.id: c for c in found.scalars()}
    for row in warned:
        _emit(uow, "sla.warning", row, now)
    for row in breached:
        _emit(uow, "sla.breached", row, now)
    escalation = _Escalation(uow, now)
    for row in breached:
        if row.policy_id not in policies:
            policies[row.policy_id] = await session.get(SlaPolicy, row.policy_id)
        policy = policies[row.policy_id]
        conversation = conversations.get(row.conversation_id)
        if policy is not None and conversation is not None:
            result.escalations += await escalation.run(conversation, row, policy)
    await escalation.finish()
    for conversation_id in ids - escalation.changed.keys():
        conversation = conversations.get(conversation_id)
        if conversation is not None:
            _announce(uow, conversation, ["sla"])
    result.conversation_ids |= ids


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


def _announce(uow: UnitOfWork, conversation: Conversation, changes: list[str]) -> None:
    outbox.append(
        uow,
        kind="conversation.updated",
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        team_id=conversation.team_id,
        data={"conversation": conversation_payload(conversation), "changes": sorted(changes)},
    )


class _Escalation:
    """Runs a policy's escalation actions for breached clocks, as the system."""

    def __init__(self, uow: UnitOfWork, now: datetime) -> None:
        self.uow = uow
        self.now = now
        self.changed: dict[int, tuple[Conversation, set[str]]] = {}
        self.notes: list[Message] = []

    def _record(self, conversation: Conversation, kind: str, data: dict[str, Any]) -> None:
        self.uow.session.add(
            ConversationEvent(
                conversation_id=conversation.id,
                kind=kind,
                actor_kind="system",
                data=data,
                created_at=self.now,
            )
        )

    def _changed(self, conversation: Conversation, what: str) -> None:
        self.changed.setdefault(conversation.id, (conversation, {"sla"}))[1].add(what)

    async def run(self, conversation: Conversation, row: Any, policy: SlaPolicy) -> int:
        self._changed(conversation, "sla")
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
        note = Message(
            conversation_id=conversation.id,
            author_kind="system",
            is_internal=True,
            body=(
                f"SLA breached: {metric} was due at {row.due_at:%Y-%m-%d %H:%M} UTC "
                f"(policy {policy.name})."
            ),
            channel=conversation.channel,
            attachments=[],
            created_at=self.now,
        )
        self.uow.session.add(note)
        self.notes.append(note)
        conversation.message_count += 1
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
                self._record(
                    conversation, "status_changed", {"from": "new", "to": "open", **reason}
                )
                conversation.status = Status.OPEN
                self._changed(conversation, "status")
            moved = True
        return moved

    async def finish(self) -> None:
        """Announce what changed: the notes (ids need a flush) and each conversation once."""
        if self.notes:
            await self.uow.session.flush()
        for note in self.notes:
            conversation = self.changed[note.conversation_id][0]
            outbox.append(
                self.uow,
                kind="message.created",
                conversation_id=conversation.id,
                customer_id=conversation.customer_id,
                team_id=conversation.team_id,
                data={
                    "conversation": conversation_payload(conversation),
                    "message": message_payload(note),
                },
            )
        for conversation, changes in self.changed.values():
            conversation.updated_at = self.now
            _announce(self.uow, conversation, sorted(changes))
