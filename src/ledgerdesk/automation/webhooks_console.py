"""The admin page for outbound webhooks (/admin/webhooks): subscriptions, their signing
secret (shown once, when made), their recent deliveries and "send again" for a failed
one. The same actions as the API (automation/webhooks.py); errors on the page, never a
500; admins only (require_admin's PermissionDenied is a 403 page for anyone else)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.automation.models import WebhookDelivery, WebhookSubscription
from ledgerdesk.automation.queries import get_subscription, list_deliveries, list_subscriptions
from ledgerdesk.automation.webhooks import (
    EVENT_KINDS,
    do_delete_subscription,
    do_redeliver,
    do_save_subscription,
    last_delivery_status,
    next_attempts,
)
from ledgerdesk.errors import LedgerdeskError, NotFound
from ledgerdesk.server.deps import ReadSession, State, Uow
from ledgerdesk.server.types import PathId
from ledgerdesk.web import i18n
from ledgerdesk.web.deps import ConsoleUser, User, sidebar
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)
PAGE = "/admin/webhooks"
RECENT_DELIVERIES = 50
NAME_MAX, URL_MAX = 100, 2000
# The secret page must not be kept by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}


def _back(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


async def _list_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    subscriptions = await list_subscriptions(session)
    context = {
        **await sidebar(session, user),
        "subscriptions": subscriptions,
        "last": await last_delivery_status(session, [s.id for s in subscriptions]),
        "event_kinds": EVENT_KINDS,
        "form": form or {"name": "", "url": "", "events": []},
        "error": error,
        "name_max": NAME_MAX,
        "url_max": URL_MAX,
    }
    return render(request, "admin_webhooks/index.html", context, status_code)


@router.get(PAGE)
async def webhooks_page(request: Request, user: User, session: ReadSession) -> Response:
    user.principal.require_admin()
    return await _list_page(request, user, session)


def _check_form(name: str, url: str, events: list[str]) -> str | None:
    """What is wrong with the new-webhook form, in words, or None."""
    if "\x00" in name or "\x00" in url:  # PostgreSQL refuses NUL in text
        return i18n.gettext("The name and the URL may not contain NUL characters.")
    if not name:
        return i18n.gettext("Give the webhook a name that says what it is for.")
    if len(name) > NAME_MAX:
        return i18n.gettext("The name is longer than %(n)d characters.") % {"n": NAME_MAX}
    if not url:
        return i18n.gettext("A webhook needs a URL.")
    if len(url) > URL_MAX:
        return i18n.gettext("The URL is longer than %(n)d characters.") % {"n": URL_MAX}
    if not events:
        return i18n.gettext("Choose at least one event.")
    unknown = sorted(set(events) - set(EVENT_KINDS))
    if unknown:
        return i18n.gettext("Unknown event: %(events)s") % {"events": ", ".join(unknown)}
    return None


@router.post(PAGE)
async def create_webhook(
    request: Request,
    user: User,
    uow: Uow,
    state: State,
    # Lengths are checked in _check_form, so a long value gets the form back with a
    # message; these bounds only stop absurd requests.
    name: Annotated[str, Form(max_length=10_000)] = "",
    url: Annotated[str, Form(max_length=10_000)] = "",
    events: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006 (FastAPI copies it)
) -> Response:
    user.principal.require_admin()
    name, url = name.strip(), url.strip()
    form = {"name": name, "url": url, "events": events}
    problem = _check_form(name, url, events)
    if problem is not None:
        return await _list_page(
            request, user, uow.session, form=form, error=problem, status_code=422
        )
    try:
        subscription, secret = await do_save_subscription(
            uow,
            actor=user.principal,
            box=state.box,
            allow_private=state.settings.webhook_allow_private_urls,
            name=name,
            url=url,
            event_kinds=events,
        )
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return await _list_page(
            request, user, uow.session, form=form, error=exc.message, status_code=exc.status_code
        )
    # The secret is in this answer only: not in a URL, not in a later page.
    context = {**await sidebar(uow.session, user), "subscription": subscription, "secret": secret}
    response = render(request, "admin_webhooks/created.html", context)
    response.headers.update(NO_STORE)
    return response


async def _subscription_page(
    request: Request,
    user: ConsoleUser,
    session: AsyncSession,
    subscription: WebhookSubscription,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    deliveries = await list_deliveries(session, subscription.id, limit=RECENT_DELIVERIES)
    context = {
        **await sidebar(session, user),
        "subscription": subscription,
        "deliveries": deliveries,
        "next_attempts": await next_attempts(session, deliveries),
        "error": error,
    }
    return render(request, "admin_webhooks/subscription.html", context, status_code)


@router.get(PAGE + "/{webhook_id}")
async def subscription_page(
    request: Request,
    webhook_id: PathId,
    user: User,
    session: ReadSession,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    user.principal.require_admin()
    subscription = await get_subscription(session, webhook_id)
    return await _subscription_page(request, user, session, subscription, error=error)


@router.post(PAGE + "/{webhook_id}/toggle")
async def toggle_webhook(
    request: Request, webhook_id: PathId, user: User, uow: Uow, state: State
) -> Response:
    user.principal.require_admin()
    subscription = await get_subscription(uow.session, webhook_id)
    try:
        await do_save_subscription(
            uow,
            actor=user.principal,
            box=state.box,
            allow_private=state.settings.webhook_allow_private_urls,
            name=subscription.name,
            url=subscription.url,
            event_kinds=list(subscription.event_kinds),
            active=not subscription.is_active,
            subscription=subscription,
        )
        await uow.commit()
    except LedgerdeskError as exc:
        # E.g. a private URL saved while LEDGERDESK_WEBHOOK_ALLOW_PRIVATE_URLS was on.
        return await _refused(request, user, uow, webhook_id, exc)
    return _back(f"{PAGE}/{webhook_id}")


@router.post(PAGE + "/{webhook_id}/delete")
async def delete_webhook(webhook_id: PathId, user: User, uow: Uow) -> Response:
    user.principal.require_admin()
    subscription = await get_subscription(uow.session, webhook_id)
    await do_delete_subscription(uow, actor=user.principal, subscription=subscription)
    await uow.commit()
    return _back(PAGE)


@router.post(PAGE + "/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(
    request: Request, webhook_id: PathId, delivery_id: PathId, user: User, uow: Uow
) -> Response:
    user.principal.require_admin()
    subscription = await get_subscription(uow.session, webhook_id)
    delivery = await uow.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription.id:
        raise NotFound(f"delivery {delivery_id} of webhook {webhook_id} not found")
    try:
        await do_redeliver(uow, actor=user.principal, delivery=delivery)
        await uow.commit()
    except LedgerdeskError as exc:
        return await _refused(request, user, uow, webhook_id, exc)
    return _back(f"{PAGE}/{webhook_id}")


async def _refused(
    request: Request, user: User, uow: Uow, webhook_id: int, exc: LedgerdeskError
) -> Response:
    """The webhook's page again, with why the change was refused (nothing was kept)."""
    await uow.rollback()
    subscription = await get_subscription(uow.session, webhook_id)
    return await _subscription_page(
        request, user, uow.session, subscription, error=exc.message, status_code=409
    )
