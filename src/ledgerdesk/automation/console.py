"""Admin pages for rules (/admin/automation) and macros (/admin/macros), and the macro
picker in the console's reply box. Same habits as the other console pages: session
cookie, a CSRF token in every form, the same actions as the API, errors on the page."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from ledgerdesk.automation.actions import do_delete_rule, do_save_rule, do_set_rule_enabled
from ledgerdesk.automation.dryrun import dry_run
from ledgerdesk.automation.queries import get_rule, list_rules, list_subscriptions
from ledgerdesk.automation.schemas import DryRunOut, RuleIn
from ledgerdesk.conversations.queries import access_conversation
from ledgerdesk.errors import LedgerdeskError
from ledgerdesk.macros.actions import do_delete_macro, do_save_macro
from ledgerdesk.macros.queries import get_macro, list_macros, render_macro
from ledgerdesk.macros.schemas import MacroIn
from ledgerdesk.macros.template import VARIABLES
from ledgerdesk.server.deps import ReadSession, Uow
from ledgerdesk.server.types import PathId
from ledgerdesk.web.deps import User, sidebar
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)
RULES_PAGE = "/admin/automation"
MACROS_PAGE = "/admin/macros"
EXAMPLE_RULE = {
    "trigger": "message.received",
    "match": "all",
    "conditions": [
        {"field": "tier", "op": "is", "value": "vip"},
        {"field": "text", "op": "contains_any", "value": ["withdrawal", "提现"]},
    ],
    "actions": [{"type": "set_priority", "priority": "urgent"}],
}
SpecText = Annotated[str, Form(max_length=100_000)]


def _back(url: str, error: str | None = None) -> Response:
    return RedirectResponse(url + (f"?error={quote(error)}" if error else ""), status_code=303)


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors as one line an admin can act on."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"] if p not in ("body",))
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


def _parse_rule(name: str, spec_text: str, enabled: bool, position: str) -> RuleIn:
    try:
        raw = json.loads(spec_text)
    except json.JSONDecodeError as exc:
        raise LedgerdeskError(
            f"the rule is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    if not isinstance(raw, dict):
        raise LedgerdeskError("the rule must be a JSON object")
    raw.pop("name", None)
    data: dict[str, Any] = {**raw, "name": name, "enabled": enabled}
    if position.strip():
        data["position"] = position.strip()
    try:
        return RuleIn.model_validate(data)
    except ValidationError as exc:
        raise LedgerdeskError(_explain(exc)) from None


def _pretty(spec: dict[str, Any]) -> str:
    return json.dumps(spec, ensure_ascii=False, indent=2)


@router.get(RULES_PAGE)
async def rules_page(
    request: Request,
    user: User,
    session: ReadSession,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    user.principal.require_admin()
    context = {
        **await sidebar(session, user),
        "rules": await list_rules(session),
        "webhooks": await list_subscriptions(session),
        "example": _pretty(EXAMPLE_RULE),
        "error": error,
    }
    return render(request, "admin_automation/index.html", context)


@router.post(RULES_PAGE + "/rules")
async def create_rule(
    user: User,
    uow: Uow,
    name: Annotated[str, Form(max_length=100)],
    spec: SpecText,
    position: Annotated[str, Form(max_length=10)] = "",
    enabled: Annotated[bool, Form()] = False,
) -> Response:
    user.principal.require_admin()
    try:
        rule = await do_save_rule(
            uow, actor=user.principal, data=_parse_rule(name, spec, enabled, position)
        )
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back(RULES_PAGE, exc.message)
    return _back(f"{RULES_PAGE}/rules/{rule.id}")


async def _rule_page(
    request: Request,
    user: User,
    session: Any,
    rule_id: int,
    *,
    spec_text: str | None = None,
    result: DryRunOut | None = None,
    error: str | None = None,
) -> Response:
    rule = await get_rule(session, rule_id)
    context = {
        **await sidebar(session, user),
        "rule": rule,
        "spec_text": spec_text if spec_text is not None else _pretty(rule.spec),
        "result": result,
        "error": error,
    }
    return render(request, "admin_automation/rule.html", context)


@router.get(RULES_PAGE + "/rules/{rule_id}")
async def rule_page(
    request: Request,
    rule_id: PathId,
    user: User,
    session: ReadSession,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    user.principal.require_admin()
    return await _rule_page(request, user, session, rule_id, error=error)


@router.post(RULES_PAGE + "/rules/{rule_id}")
async def save_rule(
    rule_id: PathId,
    user: User,
    uow: Uow,
    name: Annotated[str, Form(max_length=100)],
    spec: SpecText,
    position: Annotated[str, Form(max_length=10)] = "",
    enabled: Annotated[bool, Form()] = False,
) -> Response:
    user.principal.require_admin()
    rule = await get_rule(uow.session, rule_id)
    try:
        data = _parse_rule(name, spec, enabled, position)
        await do_save_rule(uow, actor=user.principal, data=data, rule=rule)
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back(f"{RULES_PAGE}/rules/{rule_id}", exc.message)
    return _back(f"{RULES_PAGE}/rules/{rule_id}")


@router.post(RULES_PAGE + "/rules/{rule_id}/dry-run")
async def dry_run_page(
    request: Request,
    rule_id: PathId,
    user: User,
    session: ReadSession,
    spec: SpecText,
    last: Annotated[int, Form(ge=1, le=1000)] = 100,
) -> Response:
    """The edited (unsaved) rule against the last conversations; nothing changes."""
    user.principal.require_admin()
    try:
        parsed = _parse_rule("dry run", spec, True, "").spec()
    except LedgerdeskError as exc:
        return await _rule_page(request, user, session, rule_id, spec_text=spec, error=exc.message)
    result = await dry_run(session, parsed, last)
    return await _rule_page(request, user, session, rule_id, spec_text=spec, result=result)


@router.post(RULES_PAGE + "/rules/{rule_id}/toggle")
async def toggle_rule(rule_id: PathId, user: User, uow: Uow) -> Response:
    rule = await get_rule(uow.session, rule_id)
    await do_set_rule_enabled(uow, actor=user.principal, rule=rule, enabled=not rule.is_enabled)
    await uow.commit()
    return _back(RULES_PAGE)


@router.post(RULES_PAGE + "/rules/{rule_id}/delete")
async def delete_rule(rule_id: PathId, user: User, uow: Uow) -> Response:
    rule = await get_rule(uow.session, rule_id)
    await do_delete_rule(uow, actor=user.principal, rule=rule)
    await uow.commit()
    return _back(RULES_PAGE)


# Macros ------------------------------------------------------------------------------


@router.get(MACROS_PAGE)
async def macros_page(
    request: Request,
    user: User,
    session: ReadSession,
    edit: Annotated[int | None, Query(ge=1)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    user.principal.require_admin()
    context = {
        **await sidebar(session, user),
        "macros": await list_macros(session),
        "editing": await get_macro(session, edit) if edit else None,
        "variables": VARIABLES,
        "error": error,
    }
    return render(request, "admin_macros/index.html", context)


@router.post(MACROS_PAGE)
async def save_macro(
    user: User,
    uow: Uow,
    name: Annotated[str, Form(max_length=100)],
    body_en: Annotated[str, Form(max_length=10_000)] = "",
    body_zh: Annotated[str, Form(max_length=10_000)] = "",
    macro_id: Annotated[int | None, Form(ge=1)] = None,
    active: Annotated[bool, Form()] = False,
) -> Response:
    user.principal.require_admin()
    bodies = {k: v for k, v in (("en", body_en), ("zh-Hans", body_zh)) if v.strip()}
    try:
        try:
            data = MacroIn(name=name, bodies=bodies, active=active)
        except ValidationError as exc:
            raise LedgerdeskError(_explain(exc)) from None
        macro = await get_macro(uow.session, macro_id) if macro_id else None
        if macro is not None:
            # Languages this form does not show are kept.
            data.bodies = {
                **{k: v for k, v in macro.bodies.items() if k not in ("en", "zh-Hans")},
                **bodies,
            }
        await do_save_macro(uow, actor=user.principal, data=data, macro=macro)
        await uow.commit()
    except LedgerdeskError as exc:
        await uow.rollback()
        return _back(MACROS_PAGE, exc.message)
    return _back(MACROS_PAGE)


@router.post(MACROS_PAGE + "/{macro_id}/delete")
async def delete_macro(macro_id: PathId, user: User, uow: Uow) -> Response:
    macro = await get_macro(uow.session, macro_id)
    await do_delete_macro(uow, actor=user.principal, macro=macro)
    await uow.commit()
    return _back(MACROS_PAGE)


# The macro picker in the reply box ---------------------------------------------------


@router.get("/conversations/{conversation_id}/macros")
async def macro_picker(
    request: Request, conversation_id: PathId, user: User, session: ReadSession
) -> Response:
    conversation = await access_conversation(session, user.principal, conversation_id)
    context = {
        "conversation": conversation,
        "macros": await list_macros(session, active_only=True),
        "csrf_token": user.session.csrf_token,
    }
    return render(request, "admin_macros/picker.html", context)


@router.post("/conversations/{conversation_id}/macros/insert")
async def insert_macro(
    request: Request,
    conversation_id: PathId,
    user: User,
    session: ReadSession,
    macro: Annotated[int | None, Form(ge=1)] = None,
    body: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    """The reply box again, with the macro's text (for this conversation and agent)
    after whatever the agent had already typed."""
    conversation = await access_conversation(session, user.principal, conversation_id)
    text = body
    if macro is not None:
        chosen = await get_macro(session, macro)
        _language, filled = await render_macro(session, chosen, conversation, user.agent)
        text = f"{body.rstrip()}\n\n{filled}" if body.strip() else filled
    return render(request, "admin_macros/composer_body.html", {"body": text})
