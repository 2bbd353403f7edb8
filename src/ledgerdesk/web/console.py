"""Agent console routes: login with 2FA, inbox, conversation view, settings.

Routes only parse forms and call the same actions and queries as the API; the
permission checks live there, not here. The live parts (fragments for the
real-time view, presence, the outbound-link warning) are in ``live.py``.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import segno
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.actions import (
    do_begin_totp_setup,
    do_complete_second_factor,
    do_confirm_totp_setup,
    do_disable_totp,
    do_login_with_password,
    do_logout,
    do_set_2fa_required,
    do_update_agent,
    totp_provisioning_uri,
)
from ledgerdesk.accounts.models import Agent, AgentSession
from ledgerdesk.accounts.queries import is_2fa_required, list_teams
from ledgerdesk.accounts.secrets import constant_time_equal
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.conversations.actions import UNSET, do_add_message, do_update_conversation
from ledgerdesk.conversations.queries import (
    access_conversation,
    list_conversations,
    list_events,
    list_messages,
)
from ledgerdesk.conversations.status import Priority, Status
from ledgerdesk.customers.models import Customer
from ledgerdesk.customers.queries import identities_of
from ledgerdesk.errors import LedgerdeskError, NotAuthenticated, RateLimited
from ledgerdesk.realtime.queries import stream_head
from ledgerdesk.server.deps import (
    SESSION_COOKIE,
    ReadSession,
    State,
    Uow,
    client_ip,
    load_browser_session,
)
from ledgerdesk.server.state import AppState
from ledgerdesk.server.types import PathId
from ledgerdesk.sla.queries import sla_states
from ledgerdesk.web import i18n, live
from ledgerdesk.web.deps import ConsoleUser, Inbox, LoginRequired, User, sidebar
from ledgerdesk.web.deps import safe_next as _safe_next
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)
router.include_router(live.router)

PRELOGIN_COOKIE = "ld_prelogin"
VIEWS = ("mine", "unassigned", "all", "team")
__all__ = ["LoginRequired", "console_error_response", "router"]


def _set_session_cookie(response: Response, state: AppState, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=state.settings.session_ttl_hours * 3600,
        httponly=True,
        secure=state.settings.secure_cookies,
        samesite="lax",
        path="/",
    )


async def _pending_login(request: Request, session: AsyncSession) -> tuple[AgentSession, Agent]:
    found = await load_browser_session(session, request)
    if found is None or found[0].stage != "password":
        raise LoginRequired("/inbox")
    return found


# Login ------------------------------------------------------------------


@router.get("/")
async def home(request: Request, session: ReadSession) -> Response:
    found = await load_browser_session(session, request)
    return RedirectResponse("/inbox" if found else "/login", status_code=303)


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    i18n.set_language(i18n.pick_language(request.headers.get("accept-language")))
    token = request.cookies.get(PRELOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": _safe_next(next), "form_token": token})
    response.set_cookie(PRELOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.post("/login")
async def login_submit(
    request: Request,
    state: State,
    uow: Uow,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=200)],
    form_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/inbox",
) -> Response:
    i18n.set_language(i18n.pick_language(request.headers.get("accept-language")))
    context: dict[str, Any] = {"next": _safe_next(next), "form_token": form_token, "email": email}
    cookie_token = request.cookies.get(PRELOGIN_COOKIE, "")
    if not cookie_token or not constant_time_equal(cookie_token, form_token):
        context["error"] = i18n.gettext("Your login form expired. Please try again.")
        return render(request, "login.html", context, 400)
    ip = client_ip(request) or "unknown"
    wait = await state.login_limiter.hit(ip)
    if wait is not None:
        context["error"] = i18n.gettext(
            "Too many login attempts from your address. Try again in %(n)d seconds."
        ) % {"n": wait}
        return render(request, "login.html", context, 429)
    try:
        new = await do_login_with_password(
            uow,
            email=email,
            password=password,
            policy=state.login_policy,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        )
        await uow.commit()
    except NotAuthenticated as exc:
        await uow.commit()  # keep the failure count and the audit row
        locked = "locked" in exc.message
        context["error"] = (
            i18n.gettext("Too many failed logins. This account is locked for a while.")
            if locked
            else i18n.gettext("Wrong email or password.")
        )
        return render(request, "login.html", context, 401)
    if new.needs_second_factor:
        target = "/login/2fa"
    elif new.needs_2fa_setup:
        target = "/login/setup-2fa"
    else:
        target = context["next"]
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(response, state, new.token)
    response.delete_cookie(PRELOGIN_COOKIE, path="/login")
    return response


@router.get("/login/2fa")
async def second_factor_page(request: Request, session: ReadSession) -> Response:
    _, agent = await _pending_login(request, session)
    i18n.set_language(agent.language)
    if not agent.totp_enabled:
        return RedirectResponse("/login/setup-2fa", status_code=303)
    return render(request, "login_2fa.html", {"agent": agent})


@router.post("/login/2fa")
async def second_factor_submit(
    request: Request, state: State, uow: Uow, code: Annotated[str, Form(max_length=40)]
) -> Response:
    agent_session, agent = await _pending_login(request, uow.session)
    i18n.set_language(agent.language)
    wait = await state.login_limiter.hit(f"2fa:{client_ip(request)}")
    if wait is not None:
        raise RateLimited(f"too many attempts; wait {wait} seconds", retry_after=wait)
    try:
        await do_complete_second_factor(
            uow, agent_session=agent_session, code=code, box=state.box, policy=state.login_policy
        )
        await uow.commit()
    except NotAuthenticated:
        await uow.commit()
        error = i18n.gettext("That code is not right. Try the current code from your app.")
        return render(request, "login_2fa.html", {"agent": agent, "error": error}, 401)
    return RedirectResponse("/inbox", status_code=303)


def _qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4))


@router.get("/login/setup-2fa")
async def setup_2fa_page(request: Request, state: State, uow: Uow) -> Response:
    """When 2FA is mandatory, an agent without it sets it up before entering."""
    agent_session, agent = await _pending_login(request, uow.session)
    i18n.set_language(agent.language)
    secret = await do_begin_totp_setup(uow, agent=agent, box=state.box)
    await uow.commit()
    uri = totp_provisioning_uri(state.box, agent)
    return render(
        request,
        "setup_2fa.html",
        {
            "secret": secret,
            "qr": _qr_svg(uri),
            "action": "/login/setup-2fa",
            "csrf_token": agent_session.csrf_token,
            "mandatory": True,
        },
    )


@router.post("/login/setup-2fa")
async def setup_2fa_submit(
    request: Request,
    state: State,
    uow: Uow,
    code: Annotated[str, Form(max_length=40)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    agent_session, agent = await _pending_login(request, uow.session)
    i18n.set_language(agent.language)
    if not constant_time_equal(csrf_token, agent_session.csrf_token):
        raise LedgerdeskError("this form has expired; reload the page and try again")
    try:
        codes = await do_confirm_totp_setup(uow, agent=agent, code=code, box=state.box)
    except LedgerdeskError:
        await uow.rollback()
        uri = totp_provisioning_uri(state.box, agent)
        error = i18n.gettext("That code is not right. Try the current code from your app.")
        return render(
            request,
            "setup_2fa.html",
            {
                "qr": _qr_svg(uri),
                "action": "/login/setup-2fa",
                "error": error,
                "csrf_token": agent_session.csrf_token,
                "mandatory": True,
            },
            400,
        )
    agent_session.stage = "active"
    await uow.commit()
    return render(request, "recovery_codes.html", {"codes": codes})


@router.post("/logout")
async def logout(request: Request, user: User, uow: Uow) -> Response:
    agent_session = await uow.session.get(AgentSession, user.session.id)
    if agent_session is not None:
        await do_logout(uow, agent_session=agent_session)
        await uow.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# Inbox and conversations -------------------------------------------------


@router.get("/inbox")
async def inbox(
    request: Request,
    user: User,
    session: ReadSession,
    filters: Inbox,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    # The stream head is read before the rows: an event committed in between is then
    # delivered to the page's socket as well (and merged), never lost.
    head = await stream_head(session)
    rows, next_cursor = await list_conversations(
        session, user.principal, filters.conversation_filter(), cursor=cursor, limit=50
    )
    params = filters.params()
    next_url = f"/inbox?{urlencode({**params, 'cursor': next_cursor})}" if next_cursor else None
    context = {
        **await sidebar(session, user),
        **await live.inbox_rows_context(session, rows),
        "rows": rows,
        "view": filters.view,
        "team_id": filters.team_id,
        "status": filters.status,
        "priority": filters.priority,
        "q": filters.query or "",
        "next_url": next_url,
        "rows_query": urlencode(params),
        # Only the first page takes new conversations at its top.
        "live_insert": cursor is None,
        "statuses": ["unresolved", *list(Status), "any"],
        "priorities": list(Priority),
        "live_page": "inbox",
        "last_event_id": head,
    }
    return render(request, "inbox.html", context)


async def _conversation_context(
    session: AsyncSession, user: ConsoleUser, conversation_id: int
) -> dict[str, Any]:
    head = await stream_head(session)  # before the snapshot, as in the inbox
    conversation = await access_conversation(session, user.principal, conversation_id)
    customer = await session.get(Customer, conversation.customer_id)
    messages = await list_messages(session, user.principal, conversation)
    return {
        **await sidebar(session, user),
        **await live.conversation_state_context(session, user, conversation),
        "customer": customer,
        "identities": await identities_of(session, conversation.customer_id),
        "messages": messages,
        "events": await list_events(session, conversation),
        "sla_clocks": (await sla_states(session, [conversation.id])).get(conversation.id, []),
        "live_page": "conversation",
        "last_event_id": head,
    }


@router.get("/conversations/{conversation_id}")
async def conversation_page(
    request: Request,
    conversation_id: PathId,
    user: User,
    uow: Uow,
) -> Response:
    context = await _conversation_context(uow.session, user, conversation_id)
    # Opening a conversation shows the customer's data: that is audited.
    do_record_audit(
        uow,
        agent_id=user.agent.id,
        action="customer.viewed",
        object_type="customer",
        object_id=context["customer"].id,
        detail={"via": f"conversation {conversation_id}"},
        ip=client_ip(request),
    )
    await uow.commit()
    return render(request, "conversation.html", context)


@router.post("/conversations/{conversation_id}/messages")
async def conversation_reply(
    request: Request,
    conversation_id: PathId,
    user: User,
    uow: Uow,
    body: Annotated[str, Form(max_length=50_000)] = "",
    internal: Annotated[bool, Form()] = False,
) -> Response:
    conversation = await access_conversation(
        uow.session, user.principal, conversation_id, write=True
    )
    try:
        await do_add_message(
            uow,
            actor=user.principal,
            conversation=conversation,
            body=body.replace("\x00", ""),
            internal=internal,
        )
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back_to_conversation(conversation_id, error=exc.message)
    return _back_to_conversation(conversation_id)


@router.post("/conversations/{conversation_id}/update")
async def conversation_update(
    request: Request,
    conversation_id: PathId,
    user: User,
    uow: Uow,
    status: Annotated[str | None, Form(max_length=20)] = None,
    priority: Annotated[str | None, Form(max_length=20)] = None,
    assignee_id: Annotated[str | None, Form(max_length=20)] = None,
    team_id: Annotated[str | None, Form(max_length=20)] = None,
    add_tag: Annotated[str | None, Form(max_length=60)] = None,
) -> Response:
    conversation = await access_conversation(
        uow.session, user.principal, conversation_id, write=True
    )
    try:
        await do_update_conversation(
            uow,
            actor=user.principal,
            conversation=conversation,
            status=status or None,
            priority=priority or None,
            assignee_id=_optional_id(assignee_id),
            team_id=_optional_id(team_id),
            add_tags=[add_tag] if add_tag and add_tag.strip() else [],
        )
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back_to_conversation(conversation_id, error=exc.message)
    return _back_to_conversation(conversation_id)


def _optional_id(raw: str | None) -> Any:
    """Form value for an id select: absent keeps, "" clears, digits set."""
    if raw is None:
        return UNSET
    if raw == "":
        return None
    if not raw.isdigit() or int(raw) > 2**63 - 1:
        raise LedgerdeskError(f"{raw!r} is not a valid id")
    return int(raw)


def _back_to_conversation(conversation_id: int, error: str | None = None) -> Response:
    url = f"/conversations/{conversation_id}"
    if error:
        url += f"?error={quote(error)}"
    return RedirectResponse(url, status_code=303)


# Settings -----------------------------------------------------------------


@router.get("/settings")
async def settings_page(request: Request, user: User, session: ReadSession) -> Response:
    context = {
        **await sidebar(session, user),
        "require_2fa": await is_2fa_required(session),
        "teams": await list_teams(session),
    }
    return render(request, "settings.html", context)


@router.post("/settings/language")
async def settings_language(
    user: User, uow: Uow, language: Annotated[str, Form(max_length=20)]
) -> Response:
    agent = await uow.session.get(Agent, user.agent.id)
    assert agent is not None
    await do_update_agent(uow, actor=user.principal, agent=agent, language=language)
    await uow.commit()
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/2fa/begin")
async def settings_2fa_begin(request: Request, state: State, user: User, uow: Uow) -> Response:
    agent = await uow.session.get(Agent, user.agent.id)
    assert agent is not None
    secret = await do_begin_totp_setup(uow, agent=agent, box=state.box)
    await uow.commit()
    uri = totp_provisioning_uri(state.box, agent)
    return render(
        request,
        "setup_2fa.html",
        {
            "secret": secret,
            "qr": _qr_svg(uri),
            "action": "/settings/2fa/confirm",
            "csrf_token": user.session.csrf_token,
            "mandatory": False,
        },
    )


@router.post("/settings/2fa/confirm")
async def settings_2fa_confirm(
    request: Request, state: State, user: User, uow: Uow, code: Annotated[str, Form(max_length=40)]
) -> Response:
    agent = await uow.session.get(Agent, user.agent.id)
    assert agent is not None
    try:
        codes = await do_confirm_totp_setup(uow, agent=agent, code=code, box=state.box)
    except LedgerdeskError:
        await uow.rollback()
        uri = totp_provisioning_uri(state.box, agent)
        error = i18n.gettext("That code is not right. Try the current code from your app.")
        return render(
            request,
            "setup_2fa.html",
            {
                "qr": _qr_svg(uri),
                "action": "/settings/2fa/confirm",
                "error": error,
                "csrf_token": user.session.csrf_token,
                "mandatory": False,
            },
            400,
        )
    await uow.commit()
    return render(request, "recovery_codes.html", {"codes": codes})


@router.post("/settings/2fa/disable")
async def settings_2fa_disable(user: User, uow: Uow) -> Response:
    agent = await uow.session.get(Agent, user.agent.id)
    assert agent is not None
    await do_disable_totp(uow, actor=user.principal, agent=agent)
    await uow.commit()
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/security")
async def settings_security(
    user: User, uow: Uow, require_2fa: Annotated[bool, Form()] = False
) -> Response:
    await do_set_2fa_required(uow, actor=user.principal, required=require_2fa)
    await uow.commit()
    return RedirectResponse("/settings", status_code=303)


def console_error_response(request: Request, exc: Exception) -> Response | None:
    """HTML answers for console pages; None lets the JSON API handlers answer."""
    if request.url.path.startswith("/api"):
        return None
    if isinstance(exc, LoginRequired):
        if exc.to == "/login":
            return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)
        return RedirectResponse(exc.to, status_code=303)
    if isinstance(exc, LedgerdeskError):
        return render(
            request,
            "error.html",
            {"message": exc.message, "status": exc.status_code},
            exc.status_code,
        )
    return None
