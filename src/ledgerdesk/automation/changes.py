"""Changes made to a conversation by the system (a rule, routing), not by a person.

Each change writes its history row (actor "system", with the reason: which rule,
routing, security), keeps the SLA clocks in step and, at ``finish``, announces one
``conversation.updated`` on the real-time stream, as a person's change would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete

from ledgerdesk.accounts.models import Agent, Team, TeamMembership
from ledgerdesk.automation.webhooks import do_enqueue_webhooks
from ledgerdesk.conversations.models import Conversation, ConversationEvent, ConversationTag
from ledgerdesk.conversations.status import Status, check_transition
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.feedback.actions import note_status_change
from ledgerdesk.realtime import outbox
from ledgerdesk.realtime.payloads import conversation_payload, customer_conversation_payload
from ledgerdesk.sla.actions import do_sla_on_update

MAX_TAGS = 50


class SystemChanges:
    """Collects what changed on one conversation; ``finish`` announces it once."""

    def __init__(self, uow: UnitOfWork, conversation: Conversation, reason: dict[str, Any]):
        self.uow = uow
        self.conversation = conversation
        self.reason = reason
        self.changed: set[str] = set()

    def _record(self, kind: str, data: dict[str, Any]) -> None:
        self.uow.session.add(
            ConversationEvent(
                conversation_id=self.conversation.id,
                kind=kind,
                actor_kind="system",
                data={**data, **self.reason},
            )
        )

    async def set_priority(self, priority: str) -> bool:
        c = self.conversation
        if c.priority == priority:
            return False
        self._record("priority_changed", {"from": c.priority, "to": priority})
        c.priority = priority
        self.changed.add("priority")
        await do_sla_on_update(self.uow, c, ["priority"])
        return True

    async def set_status(self, status: str) -> bool:
        c = self.conversation
        if c.status == status:
            return False
        try:
            check_transition(Status(c.status), Status(status))
        except ValueError:
            return False  # a rule may not force an impossible move (closed is final)
        previous = c.status
        self._record("status_changed", {"from": previous, "to": status})
        c.status = status
        if status == Status.SOLVED:
            c.solved_at = datetime.now(UTC)
        elif status != Status.CLOSED:
            c.solved_at = None
        note_status_change(self.uow, c, previous)  # the survey and follow-up (feedback/actions.py)
        self.changed.add("status")
        await do_sla_on_update(self.uow, c, ["status"])
        return True

    async def set_team(self, team_id: int | None) -> bool:
        c = self.conversation
        if c.team_id == team_id:
            return False
        if team_id is not None and await self.uow.session.get(Team, team_id) is None:
            return False  # the team was deleted after the rule was written
        self._record("team_changed", {"from": c.team_id, "to": team_id})
        c.team_id = team_id
        self.changed.add("team_id")
        # A private team's work must not stay with someone who cannot see it.
        if c.assignee_id is not None and not await can_see(self.uow, team_id, c.assignee_id):
            await self.set_assignee(None)
        return True

    async def set_assignee(self, agent_id: int | None) -> bool:
        c = self.conversation
        if c.assignee_id == agent_id:
            return False
        if agent_id is not None:
            agent = await self.uow.session.get(Agent, agent_id)
            if agent is None or not agent.is_active or not agent.can_reply:
                return False
            if not await can_see(self.uow, c.team_id, agent_id):
                return False
        self._record("assignee_changed", {"from": c.assignee_id, "to": agent_id})
        c.assignee_id = agent_id
        self.changed.add("assignee_id")
        if agent_id is not None and c.status == Status.NEW:
            await self.set_status(Status.OPEN)
        return True

    async def change_tags(self, add: list[str], remove: list[str]) -> bool:
        c = self.conversation
        current = set(c.tags)
        target = (current | set(add)) - set(remove)
        if len(target) > MAX_TAGS:
            target = current | set(sorted(set(add) - current)[: MAX_TAGS - len(current)])
            target -= set(remove)
        added, removed = sorted(target - current), sorted(current - target)
        if not added and not removed:
            return False
        if removed:
            await self.uow.session.execute(
                delete(ConversationTag).where(
                    ConversationTag.conversation_id == c.id, ConversationTag.tag.in_(removed)
                )
            )
        self.uow.session.add_all(ConversationTag(conversation_id=c.id, tag=t) for t in added)
        self._record("tags_changed", {"added": added, "removed": removed})
        c.tags = sorted(target)
        self.changed.add("tags")
        return True

    async def finish(self) -> set[str]:
        """Announce what changed (agents see all of it, the customer only a status) and
        send the ``conversation.updated`` webhooks."""
        if not self.changed:
            return set()
        c = self.conversation
        c.updated_at = datetime.now(UTC)
        outbox.append(
            self.uow,
            kind="conversation.updated",
            conversation_id=c.id,
            customer_id=c.customer_id,
            team_id=c.team_id,
            data={"conversation": conversation_payload(c), "changes": sorted(self.changed)},
            customer_data=(
                {"conversation": customer_conversation_payload(c), "changes": ["status"]}
                if "status" in self.changed
                else None
            ),
        )
        done, self.changed = self.changed, set()
        reason = dict(self.reason)
        await do_enqueue_webhooks(
            self.uow,
            "conversation.updated",
            lambda: {"conversation": conversation_payload(c), "changes": sorted(done), **reason},
        )
        return done


async def can_see(uow: UnitOfWork, team_id: int | None, agent_id: int) -> bool:
    """Whether the agent may see a conversation of this team (private teams: members)."""
    if team_id is None:
        return True
    team = await uow.session.get(Team, team_id)
    agent = await uow.session.get(Agent, agent_id)
    if team is None or agent is None or not team.is_private or agent.is_supervisor:
        return True
    return await uow.session.get(TeamMembership, (team_id, agent_id)) is not None
