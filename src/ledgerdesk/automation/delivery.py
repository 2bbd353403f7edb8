"""Sending one webhook delivery: sign, POST, record the outcome on the delivery row."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx

from ledgerdesk import __version__
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.automation.models import WebhookDelivery, WebhookSubscription
from ledgerdesk.automation.signing import HEADER, sign
from ledgerdesk.automation.urls import BlockedAddress, check_resolved
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import InvalidInput
from ledgerdesk.jobs.errors import describe_error, shorten
from ledgerdesk.settings import Settings


class DeliveryFailed(RuntimeError):
    """The receiver did not answer 2xx; the job retries with backoff."""


def body_of(delivery: WebhookDelivery) -> bytes:
    """The exact bytes signed and sent: the stored payload as compact JSON."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


async def deliver(db: Database, settings: Settings, delivery_id: int, *, last_attempt: bool) -> str:
    """One attempt. Returns the delivery's status; raises DeliveryFailed to be retried."""
    async with db.session() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        subscription = (
            await session.get(WebhookSubscription, delivery.subscription_id)
            if delivery is not None
            else None
        )
    if delivery is None or delivery.status in ("delivered", "cancelled"):
        return delivery.status if delivery is not None else "missing"
    if subscription is None or not subscription.is_active:
        return await _record(db, delivery_id, "cancelled", None, "the subscription is paused")
    secret = SecretBox(settings.secret_key_value()).decrypt(subscription.secret_encrypted)
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"ledgerdesk-webhooks/{__version__}",
        HEADER: sign(secret, body, int(time.time())),
        "Idempotency-Key": delivery.event_id,
        "Ledgerdesk-Event": delivery.event_kind,
        "Ledgerdesk-Delivery": str(delivery.id),
    }
    code: int | None = None
    try:
        await check_resolved(subscription.url, allow_private=settings.webhook_allow_private_urls)
        # trust_env off: no proxy from the environment may route around the address check.
        async with httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        ) as client:
            response = await client.post(subscription.url, content=body, headers=headers)
        code = response.status_code
    except BlockedAddress as exc:
        return await _record(db, delivery_id, "failed", None, exc.message)
    except InvalidInput as exc:
        error = exc.message
    except httpx.HTTPError as exc:
        error = describe_error(exc)
    else:
        if 200 <= code < 300:
            return await _record(db, delivery_id, "delivered", code, None)
        # Never the response body: receivers echo headers and secrets back in errors.
        error = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    status = "failed" if last_attempt else "pending"
    await _record(db, delivery_id, status, code, error)
    raise DeliveryFailed(error)


async def _record(
    db: Database, delivery_id: int, status: str, code: int | None, error: str | None
) -> str:
    now = datetime.now(UTC)
    async with db.writer() as session, UnitOfWork(session) as uow:
        row = await session.get(WebhookDelivery, delivery_id)
        if row is not None:
            if status != "cancelled":
                row.attempts += 1
                row.last_attempt_at = now
                row.status_code = code
            row.status = status
            row.last_error = shorten(error) if error else None
            if status == "delivered":
                row.delivered_at = now
        await uow.commit()
    return status
