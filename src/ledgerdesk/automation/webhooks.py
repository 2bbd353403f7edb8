"""Outbound webhooks: subscriptions (admins) and the deliveries an event causes.

A delivery row holds the exact JSON that will be sent and is written in the unit
of work of the change, with its ``webhook.deliver`` job: a rolled-back change
sends nothing, a committed one always sends (at least once; receivers dedupe on
the ``Idempotency-Key`` header, which is the event id).
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.automation.models import WebhookDelivery, WebhookSubscription
from ledgerdesk.automation.queries import (
    AUTOMATION_CHANGED,
    active_subscriptions,
    forget_subscriptions,
)
from ledgerdesk.automation.urls import check_url
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict
from ledgerdesk.jobs import Job, do_enqueue_job
from ledgerdesk.jobs.models import QUEUED

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
    data: dict[str, Any] | Callable[[], dict[str, Any]],
    *,
    subscription_id: int | None = None,
) -> int:
    """Stage one delivery per active subscription to ``kind`` (or only to
    ``subscription_id``, for a rule's "call webhook"). Returns how many.

    The subscriptions come from a per-process cache (queries.active_subscriptions), so
    an event with no subscriber costs no query; ``data`` may be a function, called only
    when someone subscribes. Each delivery row is inserted only if its subscription is
    still active and unchanged since it was cached; otherwise the list is read again.
    """
    body = functools.cache(data) if callable(data) else (lambda: data)
    if subscription_id is not None:
        return len(await _stage(uow, kind, body, [(subscription_id, None)]))
    count, done = 0, set[int]()
    for attempt in range(2):
        targets = [
            (s.id, s.updated_at)
            for s in await active_subscriptions(uow.session)
            if kind in s.event_kinds and s.id not in done
        ]
        staged = await _stage(uow, kind, body, targets)
        count += len(staged)
        done.update(staged)
        if len(staged) == len(targets) or attempt:
            break
        # A cached subscription changed or went away since: read the list again.
        forget_subscriptions()
    return count


async def _stage(
    uow: UnitOfWork,
    kind: str,
    data: Callable[[], dict[str, Any]],
    targets: Sequence[tuple[int, datetime | None]],
) -> list[int]:
    """A delivery row and its job per target that is still active (and, when a cached
    ``updated_at`` is given, unchanged). Returns the subscription ids served."""
    if not targets:
        return []
    body = data()
    now = datetime.now(UTC)
    served = []
    for target, updated_at in targets:
        event_id = f"evt_{uuid.uuid4().hex}"
        payload = {"id": event_id, "type": kind, "created_at": now.isoformat(), "data": body}
        params = {
            "subscription_id": target,
            "event_id": event_id,
            "event_kind": kind,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        if updated_at is not None:
            params["updated_at"] = updated_at
        found = await uow.session.execute(_delivery_statement(updated_at is not None), params)
        delivery_id = found.scalar()
        if delivery_id is None:
            continue
        await do_enqueue_job(
            uow, DELIVER_JOB, {"delivery_id": int(delivery_id)}, max_attempts=MAX_ATTEMPTS
        )
        served.append(target)
    return served


@functools.cache
def _delivery_statement(unchanged: bool) -> Executable:
    """INSERT INTO webhook_deliveries (...) SELECT ... FROM webhook_subscriptions WHERE
    id = :subscription_id AND is_active [AND updated_at = :updated_at] RETURNING id
    (a Core statement, built once)."""
    deliveries = cast(Table, WebhookDelivery.__table__)
    subscriptions = cast(Table, WebhookSubscription.__table__)
    names = ["event_id", "event_kind", "payload", "status", "attempts", "created_at"]
    where = [
        subscriptions.c.id == bindparam("subscription_id"),
        subscriptions.c.is_active.is_(True),
    ]
    if unchanged:
        where.append(
            subscriptions.c.updated_at
            == bindparam("updated_at", type_=subscriptions.c.updated_at.type)
        )
    source = select(
        subscriptions.c.id, *(bindparam(n, type_=deliveries.c[n].type) for n in names)
    ).where(*where)
    return (
        insert(deliveries)
        .from_select(["subscription_id", *names], source)
        .returning(deliveries.c.id)
    )


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
    forget_subscriptions()
    uow.emit(AUTOMATION_CHANGED)
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
    forget_subscriptions()
    uow.emit(AUTOMATION_CHANGED)


# The console page (webhooks_console.py) -------------------------------------------------


async def do_redeliver(
    uow: UnitOfWork, *, actor: Principal, delivery: WebhookDelivery
) -> WebhookDelivery:
    """Send a failed delivery again: the same row, body and event id (receivers dedupe
    on it), back to ``pending`` with a new ``webhook.deliver`` job and a fresh set of
    attempts. Only a failed delivery of an active subscription: a pending one already
    has its job, a delivered one arrived, and a paused subscription would cancel it."""
    actor.require_admin()
    subscription = await uow.session.get(WebhookSubscription, delivery.subscription_id)
    if subscription is None or not subscription.is_active:
        raise Conflict("enable the webhook before sending its deliveries again")
    # Conditional, so two clicks at once (or two admins) enqueue one job, not two.
    changed = await uow.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "failed")
        .values(status="pending")
        .execution_options(synchronize_session=False)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        raise Conflict("only a failed delivery can be sent again")
    await uow.session.refresh(delivery)
    await do_enqueue_job(
        uow, DELIVER_JOB, {"delivery_id": int(delivery.id)}, max_attempts=MAX_ATTEMPTS
    )
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="webhook.redelivered",
        object_type="webhook",
        object_id=subscription.id,
        detail={"delivery_id": delivery.id, "event_id": delivery.event_id},
    )
    return delivery


async def last_delivery_status(
    session: AsyncSession, subscription_ids: Sequence[int]
) -> dict[int, WebhookDelivery]:
    """Each subscription's newest delivery (for the list), in one query."""
    if not subscription_ids:
        return {}
    newest = (
        select(func.max(WebhookDelivery.id))
        .where(WebhookDelivery.subscription_id.in_(list(subscription_ids)))
        .group_by(WebhookDelivery.subscription_id)
    )
    found = await session.execute(select(WebhookDelivery).where(WebhookDelivery.id.in_(newest)))
    return {row.subscription_id: row for row in found.scalars()}


async def next_attempts(
    session: AsyncSession, deliveries: Sequence[WebhookDelivery]
) -> dict[int, datetime]:
    """When the queued ``webhook.deliver`` job of each pending delivery runs next."""
    pending = [d.id for d in deliveries if d.status == "pending"]
    if not pending:
        return {}
    delivery_id = Job.payload["delivery_id"].as_integer()
    found = await session.execute(
        select(delivery_id, func.min(Job.run_at))
        .where(Job.kind == DELIVER_JOB, Job.status == QUEUED, delivery_id.in_(pending))
        .group_by(delivery_id)
    )
    return {int(did): run_at for did, run_at in found.all()}
