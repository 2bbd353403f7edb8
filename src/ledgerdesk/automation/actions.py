"""Every change to rules: admins only, every change audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from ledgerdesk.accounts.models import Agent, Team
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.automation.models import AutomationRule, WebhookSubscription
from ledgerdesk.automation.queries import AUTOMATION_CHANGED, forget_rules
from ledgerdesk.automation.schemas import (
    AssignAgent,
    AssignTeam,
    CallWebhook,
    Escalate,
    ReplyWithMacro,
    RuleIn,
    RuleSpec,
)
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput
from ledgerdesk.macros.models import Macro


async def check_references(uow: UnitOfWork, spec: RuleSpec) -> None:
    """Ids a rule names must exist when it is saved (a typo is an error, not a no-op)."""
    for index, action in enumerate(spec.actions):
        where = f"action {index + 1} ({action.type})"
        problem = None
        if isinstance(action, AssignAgent):
            agent = await uow.session.get(Agent, action.agent_id)
            if agent is None or not agent.is_active or not agent.can_reply:
                problem = f"agent {action.agent_id} cannot be assigned work"
        elif isinstance(action, AssignTeam | Escalate):
            if await uow.session.get(Team, action.team_id) is None:
                problem = f"team {action.team_id} does not exist"
        elif isinstance(action, ReplyWithMacro):
            if await uow.session.get(Macro, action.macro_id) is None:
                problem = f"macro {action.macro_id} does not exist"
        elif isinstance(action, CallWebhook):
            found = await uow.session.get(WebhookSubscription, action.subscription_id)
            problem = None if found else f"webhook {action.subscription_id} does not exist"
        if problem is not None:
            raise InvalidInput(f"{where}: {problem}")


async def do_save_rule(
    uow: UnitOfWork, *, actor: Principal | None, data: RuleIn, rule: AutomationRule | None = None
) -> AutomationRule:
    """Create a rule (at the end of the order unless ``position`` says) or replace one."""
    if actor is not None:
        actor.require_admin()
    name = data.name.strip()
    clash = await uow.session.execute(select(AutomationRule.id).where(AutomationRule.name == name))
    other = clash.scalar()
    if other is not None and (rule is None or other != rule.id):
        raise Conflict(f"a rule named {name!r} already exists")
    spec = data.spec()
    await check_references(uow, spec)
    now = datetime.now(UTC)
    creating = rule is None
    if rule is None:
        top = await uow.session.scalar(select(func.max(AutomationRule.position)))
        rule = AutomationRule(
            created_at=now,
            created_by_id=actor.agent_id if actor else None,
            position=(top or 0) + 10,
        )
        uow.session.add(rule)
    rule.name = name
    rule.trigger = spec.trigger
    rule.spec = spec.model_dump(mode="json", exclude_none=True)
    rule.is_enabled = data.enabled
    if data.position is not None:
        rule.position = data.position
    rule.updated_at = now
    await uow.session.flush()
    forget_rules()
    uow.emit(AUTOMATION_CHANGED)
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="automation.rule_created" if creating else "automation.rule_changed",
        object_type="automation_rule",
        object_id=rule.id,
        detail={"name": name, "enabled": rule.is_enabled, "spec": rule.spec},
    )
    return rule


async def do_set_rule_enabled(
    uow: UnitOfWork, *, actor: Principal, rule: AutomationRule, enabled: bool
) -> AutomationRule:
    actor.require_admin()
    if rule.is_enabled != enabled:
        rule.is_enabled = enabled
        rule.updated_at = datetime.now(UTC)
        forget_rules()
        uow.emit(AUTOMATION_CHANGED)
        do_record_audit(
            uow,
            agent_id=actor.agent_id,
            action="automation.rule_enabled" if enabled else "automation.rule_disabled",
            object_type="automation_rule",
            object_id=rule.id,
            detail={"name": rule.name},
        )
    return rule


async def do_delete_rule(uow: UnitOfWork, *, actor: Principal, rule: AutomationRule) -> None:
    actor.require_admin()
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="automation.rule_deleted",
        object_type="automation_rule",
        object_id=rule.id,
        detail={"name": rule.name, "spec": rule.spec},
    )
    await uow.session.delete(rule)
    forget_rules()
    uow.emit(AUTOMATION_CHANGED)
