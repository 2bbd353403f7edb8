"""Outbound webhooks: subscriptions (admins) and the deliveries an event causes.

A delivery row holds the exact JSON that will be sent and is written in the unit
of work of the change, with its ``webhook.deliver`` job: a rolled-back change
sends nothing, a committed one always sends (at least once; receivers dedupe on
the ``Idempotency-Key`` header, which is the event id).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.automation.models import WebhookDelivery, WebhookSubscription
from ledgerdesk.automation.urls import check_url
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict
from ledgerdesk.jobs import do_enqueue_job

EVENT_KINDS = (
    "conversation.created",
    "conversation.updated",
    "message.created",
    "note.created",
    "automation.rule",
)
DELIVER_JOB = "webhook.deliver"
MAX_ATTEMPTS = 8


async def do_enqueue_webhooks(
    uow: UnitOfWork,
    kind: str,
    data: dict[str, Any],
    *,
    subscription_id: int | None = None,
) -> int:
    """Stage one delivery per active subscription to ``kind`` (or only to
    ``subscription_id``, for a rule's "call webhook"). Returns how many."""
    query = select(WebhookSubscription).where(WebhookSubscription.is_active.is_(True))
    if subscription_id is not None:
        query = query.where(WebhookSubscription.id == subscription_id)
    subscriptions = (await uow.session.execute(query)).scalars().all()
    now = datetime.now(UTC)
    count = 0
    for subscription in subscriptions:
        if subscription_id is None and kind not in subscription.event_kinds:
            continue
        event_id = f"evt_{uuid.uuid4().hex}"
        delivery = WebhookDelivery(
            subscription_id=subscription.id,
            event_id=event_id,
            event_kind=kind,
            payload={"id": event_id, "type": kind, "created_at": now.isoformat(), "data": data},
            created_at=now,
        )
        uow.session.add(delivery)
        await uow.session.flush()
        await do_enqueue_job(
            uow, DELIVER_JOB, {"delivery_id": delivery.id}, max_attempts=MAX_ATTEMPTS
        )
        count += 1
    return count


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def do_save_subscription(
    uow: UnitOfWork,
    *,
    actor: Principal,
    box: SecretBox,
    allow_private: bool,
    name: str,
    url: str,
    event_kinds: list[str],
    active: bool = True,
    subscription: WebhookSubscription | None = None,
    rotate_secret: bool = False,
) -> tuple[WebhookSubscription, str | None]:
    """Create or change a subscription. Returns it and, when a secret was made (new or
    rotated), that secret in clear: shown once, stored only encrypted."""
    actor.require_admin()
    url = check_url(url, allow_private=allow_private)
    clash = await uow.session.execute(
        select(WebhookSubscription.id).where(WebhookSubscription.name == name)
    )
    other = clash.scalar()
    if other is not None and (subscription is None or other != subscription.id):
        raise Conflict(f"a webhook named {name!r} already exists")
    now = datetime.now(UTC)
    secret = None
    if subscription is None:
        secret = new_secret()
        subscription = WebhookSubscription(secret_encrypted=box.encrypt(secret), created_at=now)
        uow.session.add(subscription)
    elif rotate_secret:
        secret = new_secret()
        subscription.secret_encrypted = box.encrypt(secret)
    subscription.name = name
    subscription.url = url
    subscription.event_kinds = sorted(set(event_kinds))
    subscription.is_active = active
    subscription.updated_at = now
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="webhook.saved",
        object_type="webhook",
        object_id=subscription.id,
        # The URL's host only: a URL may carry a token in its path or query.
        detail={
            "name": name,
            "events": subscription.event_kinds,
            "active": active,
            "secret_rotated": secret is not None,
        },
    )
    return subscription, secret


async def do_delete_subscription(
    uow: UnitOfWork, *, actor: Principal, subscription: WebhookSubscription
) -> None:
    actor.require_admin()
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="webhook.deleted",
        object_type="webhook",
        object_id=subscription.id,
        detail={"name": subscription.name},
    )
    await uow.session.delete(subscription)
