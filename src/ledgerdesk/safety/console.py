"""Pages of verified support: the public /verify page and the admins' /admin/safety page.

The public page needs no login and speaks the visitor's language (``?lang=`` or the
browser's); the admin page follows the console's habits: session cookie, a CSRF
token in every form, the same actions as the API, errors shown on the page.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from ledgerdesk.errors import LedgerdeskError
from ledgerdesk.safety.actions import (
    do_add_denylist_entry,
    do_add_official_channel,
    do_remove_denylist_entry,
    do_remove_official_channel,
    do_rotate_signing_key,
)
from ledgerdesk.safety.models import ChannelKind, DenylistKind
from ledgerdesk.safety.queries import (
    access_denylist_entry,
    access_official_channel,
    answer_question,
    check_pasted_message,
    list_denylist,
    list_official_channels,
    signing_keys,
)
from ledgerdesk.server.deps import ReadSession, State, Uow
from ledgerdesk.server.types import PathId
from ledgerdesk.web import i18n
from ledgerdesk.web.deps import User, sidebar
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)
ADMIN_PAGE = "/admin/safety"


def _public_language(request: Request, lang: str | None) -> str:
    language = lang if lang in i18n.UI_LANGUAGES else None
    i18n.set_language(language or i18n.pick_language(request.headers.get("accept-language")))
    return i18n.current_language()


def _advice_key(language: str) -> str:
    return "zh-Hans" if language == "zh_Hans" else "en"


# The public page -------------------------------------------------------------------


@router.get("/verify")
async def verify_page(
    request: Request,
    state: State,
    session: ReadSession,
    q: Annotated[str | None, Query(max_length=300)] = None,
    lang: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    language = _public_language(request, lang)
    context: dict[str, Any] = {"q": q or "", "advice_key": _advice_key(language)}
    if q and q.strip():
        await request.app.state.safety.check(request)
        try:
            context["answer"] = await answer_question(session, q, state.settings.official_hosts)
        except LedgerdeskError as exc:
            context["q_error"] = exc.message
    return render(request, "verify/page.html", context)


@router.post("/verify")
async def verify_pasted(
    request: Request,
    session: ReadSession,
    text: Annotated[str, Form(max_length=60_000)] = "",
    lang: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """A pasted message and its signature line. Reads only, so no CSRF token is needed."""
    language = _public_language(request, lang)
    await request.app.state.safety.check(request)
    check = await check_pasted_message(session, text.replace("\x00", ""))
    context = {
        "q": "",
        "text": text,
        "advice_key": _advice_key(language),
        "check": check.as_dict(),
    }
    return render(request, "verify/page.html", context)


# The admin page ------------------------------------------------------------------


def _back(error: str | None = None) -> Response:
    url = ADMIN_PAGE + (f"?error={quote(error)}" if error else "")
    return RedirectResponse(url, status_code=303)


@router.get(ADMIN_PAGE)
async def admin_page(
    request: Request,
    user: User,
    session: ReadSession,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    user.principal.require_admin()
    context = {
        **await sidebar(session, user),
        "channels": await list_official_channels(session),
        "denylist": await list_denylist(session),
        "keys": await signing_keys(session),
        "channel_kinds": list(ChannelKind),
        "denylist_kinds": list(DenylistKind),
        "error": error,
    }
    return render(request, "admin_safety/index.html", context)


@router.post(ADMIN_PAGE + "/channels")
async def admin_add_channel(
    user: User,
    uow: Uow,
    kind: Annotated[str, Form(max_length=20)],
    value: Annotated[str, Form(max_length=300)],
    note: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    user.principal.require_admin()
    try:
        await do_add_official_channel(
            uow, actor=user.principal, kind=kind, value=value.replace("\x00", ""), note=note
        )
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back(exc.message)
    return _back()


@router.post(ADMIN_PAGE + "/channels/{channel_id}/delete")
async def admin_remove_channel(channel_id: PathId, user: User, uow: Uow) -> Response:
    channel = await access_official_channel(uow.session, user.principal, channel_id)
    await do_remove_official_channel(uow, actor=user.principal, channel=channel)
    await uow.commit()
    return _back()


@router.post(ADMIN_PAGE + "/denylist")
async def admin_add_denylist(
    user: User,
    uow: Uow,
    kind: Annotated[str, Form(max_length=20)],
    value: Annotated[str, Form(max_length=300)],
    note: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    user.principal.require_admin()
    try:
        await do_add_denylist_entry(
            uow, actor=user.principal, kind=kind, value=value.replace("\x00", ""), note=note
        )
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back(exc.message)
    return _back()


@router.post(ADMIN_PAGE + "/denylist/{entry_id}/delete")
async def admin_remove_denylist(entry_id: PathId, user: User, uow: Uow) -> Response:
    entry = await access_denylist_entry(uow.session, user.principal, entry_id)
    await do_remove_denylist_entry(uow, actor=user.principal, entry=entry)
    await uow.commit()
    return _back()


@router.post(ADMIN_PAGE + "/signing-keys/rotate")
async def admin_rotate_key(user: User, uow: Uow, state: State) -> Response:
    await do_rotate_signing_key(uow, actor=user.principal, box=state.box)
    await uow.commit()
    return _back()
