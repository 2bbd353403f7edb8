"""What a matching rule does: each action applied to the conversation, as the system.

An action that cannot apply (a deleted macro or team, a closed conversation) is
skipped with a log line and a history row, never an error for the change that
triggered the rule: a customer's message must not bounce because a rule is stale.
"""

from __future__ import annotations

import logging
from typing import Any

from ledgerdesk.automation.changes import SystemChanges
from ledgerdesk.automation.conditions import CompiledRule
from ledgerdesk.automation.schemas import (
    AddNote,
    AddTags,
    AssignAgent,
    AssignTeam,
    CallWebhook,
    Escalate,
    RemoveTags,
    ReplyWithMacro,
    SetPriority,
    SetStatus,
)
from ledgerdesk.automation.webhooks import do_enqueue_webhooks
from ledgerdesk.conversations.models import Conversation, ConversationEvent
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import LedgerdeskError
from ledgerdesk.macros.models import Macro
from ledgerdesk.macros.queries import render_macro
from ledgerdesk.realtime.payloads import conversation_payload
from ledgerdesk.routing.actions import do_assign_by_strategy

log = logging.getLogger(__name__)


async def apply_actions(
    uow: UnitOfWork, conversation: Conversation, rule: CompiledRule, changes: SystemChanges
) -> None:
    for action in rule.spec.actions:
        try:
            if isinstance(action, AssignAgent):
                await changes.set_assignee(action.agent_id)
            elif isinstance(action, AssignTeam):
                await changes.set_team(action.team_id)
                if action.route and conversation.assignee_id is None:
                    await do_assign_by_strategy(uow, conversation, changes)
            elif isinstance(action, Escalate):
                await changes.set_team(action.team_id)
                await changes.set_priority(action.priority)
                if conversation.assignee_id is None:
                    await do_assign_by_strategy(uow, conversation, changes)
            elif isinstance(action, SetPriority):
                await changes.set_priority(action.priority)
            elif isinstance(action, SetStatus):
                await changes.set_status(action.status)
            elif isinstance(action, AddTags):
                await changes.change_tags([t.strip().lower() for t in action.tags], [])
            elif isinstance(action, RemoveTags):
                await changes.change_tags([], [t.strip().lower() for t in action.tags])
            elif isinstance(action, ReplyWithMacro):
                await _reply_with_macro(uow, conversation, action.macro_id, rule.rule_id)
            elif isinstance(action, AddNote):
                await _add_message(uow, conversation, action.body, internal=True)
            elif isinstance(action, CallWebhook):
                await do_enqueue_webhooks(
                    uow,
                    "automation.rule",
                    {"rule_id": rule.rule_id, "conversation": conversation_payload(conversation)},
                    subscription_id=action.subscription_id,
                )
        except LedgerdeskError as exc:
            _skipped(uow, conversation, rule.rule_id, action.type, exc.message)


async def _reply_with_macro(
    uow: UnitOfWork, conversation: Conversation, macro_id: int, rule_id: int
) -> None:
    macro = await uow.session.get(Macro, macro_id)
    if macro is None or not macro.is_active:
        raise LedgerdeskError(f"macro {macro_id} does not exist or is switched off")
    _language, body = await render_macro(uow.session, macro, conversation, None)
    await _add_message(uow, conversation, body, internal=False)


async def _add_message(
    uow: UnitOfWork, conversation: Conversation, body: str, *, internal: bool
) -> None:
    # Imported here: the conversation actions call automation, and automation writes
    # messages through them (one way in for every message).
    from ledgerdesk.conversations.actions import do_add_message

    await do_add_message(
        uow,
        actor=None,
        conversation=conversation,
        body=body,
        internal=internal,
        author_kind="system",
    )


def _skipped(
    uow: UnitOfWork, conversation: Conversation, rule_id: int, action: str, why: str
) -> None:
    log.warning("rule %s skipped %s on conversation %s: %s", rule_id, action, conversation.id, why)
    data: dict[str, Any] = {"rule_id": rule_id, "action": action, "error": why[:300]}
    uow.session.add(
        ConversationEvent(
            conversation_id=conversation.id,
            kind="automation_skipped",
            actor_kind="system",
            data=data,
        )
    )
