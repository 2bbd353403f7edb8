"""REST routes: automation rules and their dry run, webhook subscriptions and deliveries.
Agents may read rules; admins write them. Webhooks are admin-only (their URLs are
integration details)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ledgerdesk.automation.actions import do_delete_rule, do_save_rule, do_set_rule_enabled
from ledgerdesk.automation.dryrun import dry_run
from ledgerdesk.automation.queries import (
    get_rule,
    get_subscription,
    list_deliveries,
    list_rules,
    list_subscriptions,
)
from ledgerdesk.automation.schemas import DryRunIn, DryRunOut, RuleIn, RuleOut, RuleToggle
from ledgerdesk.automation.webhooks import (
    EVENT_KINDS,
    do_delete_subscription,
    do_save_subscription,
)
from ledgerdesk.server.deps import Actor, ReadSession, State, Uow
from ledgerdesk.server.types import Label, PathId

router = APIRouter(tags=["automation"])


@router.get("/automation/rules", response_model=list[RuleOut])
async def get_rules(actor: Actor, session: ReadSession) -> list[RuleOut]:
    actor.require_agent()
    return [RuleOut.of(row) for row in await list_rules(session)]


@router.post("/automation/rules", status_code=status.HTTP_201_CREATED, response_model=RuleOut)
async def create_rule(payload: RuleIn, actor: Actor, uow: Uow) -> RuleOut:
    row = await do_save_rule(uow, actor=actor, data=payload)
    await uow.commit()
    return RuleOut.of(row)


@router.post("/automation/rules/dry-run", response_model=DryRunOut)
async def dry_run_rule(payload: DryRunIn, actor: Actor, session: ReadSession) -> DryRunOut:
    """Which of the last ``last`` conversations the rule's conditions match now."""
    actor.require_admin()
    return await dry_run(session, payload.rule, payload.last)


@router.get("/automation/rules/{rule_id}", response_model=RuleOut)
async def get_one_rule(rule_id: PathId, actor: Actor, session: ReadSession) -> RuleOut:
    actor.require_agent()
    return RuleOut.of(await get_rule(session, rule_id))


@router.put("/automation/rules/{rule_id}", response_model=RuleOut)
async def replace_rule(rule_id: PathId, payload: RuleIn, actor: Actor, uow: Uow) -> RuleOut:
    actor.require_admin()
    row = await get_rule(uow.session, rule_id)
    await do_save_rule(uow, actor=actor, data=payload, rule=row)
    await uow.commit()
    return RuleOut.of(row)


@router.patch("/automation/rules/{rule_id}", response_model=RuleOut)
async def toggle_rule(rule_id: PathId, payload: RuleToggle, actor: Actor, uow: Uow) -> RuleOut:
    actor.require_admin()
    row = await get_rule(uow.session, rule_id)
    await do_set_rule_enabled(uow, actor=actor, rule=row, enabled=payload.enabled)
    await uow.commit()
    return RuleOut.of(row)


@router.delete("/automation/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: PathId, actor: Actor, uow: Uow) -> Response:
    actor.require_admin()
    row = await get_rule(uow.session, rule_id)
    await do_delete_rule(uow, actor=actor, rule=row)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Webhooks ---------------------------------------------------------------------------

EventKind = Annotated[
    str, Field(pattern="^(" + "|".join(k.replace(".", r"\.") for k in EVENT_KINDS) + ")$")
]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label
    url: Annotated[str, Field(min_length=8, max_length=2000)]
    events: Annotated[list[EventKind], Field(min_length=1, max_length=len(EVENT_KINDS))]
    active: bool = True
    rotate_secret: bool = False


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    # Only in the answer that created or rotated it: keep it, it is not shown again.
    secret: str | None = None

    @classmethod
    def of(cls, row: Any, secret: str | None = None) -> WebhookOut:
        return cls(
            id=row.id,
            name=row.name,
            url=row.url,
            events=row.event_kinds,
            active=row.is_active,
            created_at=row.created_at,
            secret=secret,
        )


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event_kind: str
    status: str
    attempts: int
    status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> DeliveryOut:
        return cls.model_validate(row, from_attributes=True)


@router.get("/webhooks", response_model=list[WebhookOut])
async def get_webhooks(actor: Actor, session: ReadSession) -> list[WebhookOut]:
    actor.require_admin()
    return [WebhookOut.of(row) for row in await list_subscriptions(session)]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookOut)
async def create_webhook(payload: WebhookIn, actor: Actor, uow: Uow, state: State) -> WebhookOut:
    row, secret = await do_save_subscription(
        uow,
        actor=actor,
        box=state.box,
        allow_private=state.settings.webhook_allow_private_urls,
        name=payload.name.strip(),
        url=payload.url,
        event_kinds=payload.events,
        active=payload.active,
    )
    await uow.commit()
    return WebhookOut.of(row, secret)


@router.put("/webhooks/{webhook_id}", response_model=WebhookOut)
async def replace_webhook(
    webhook_id: PathId, payload: WebhookIn, actor: Actor, uow: Uow, state: State
) -> WebhookOut:
    actor.require_admin()
    row = await get_subscription(uow.session, webhook_id)
    _, secret = await do_save_subscription(
        uow,
        actor=actor,
        box=state.box,
        allow_private=state.settings.webhook_allow_private_urls,
        name=payload.name.strip(),
        url=payload.url,
        event_kinds=payload.events,
        active=payload.active,
        subscription=row,
        rotate_secret=payload.rotate_secret,
    )
    await uow.commit()
    return WebhookOut.of(row, secret)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: PathId, actor: Actor, uow: Uow) -> Response:
    actor.require_admin()
    row = await get_subscription(uow.session, webhook_id)
    await do_delete_subscription(uow, actor=actor, subscription=row)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
async def get_deliveries(
    webhook_id: PathId,
    actor: Actor,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> list[DeliveryOut]:
    actor.require_admin()
    await get_subscription(session, webhook_id)
    rows = await list_deliveries(session, webhook_id, limit=limit, before=before)
    return [DeliveryOut.of(row) for row in rows]
