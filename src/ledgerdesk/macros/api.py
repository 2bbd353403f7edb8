"""REST routes for macros: agents list and render them, admins write them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from ledgerdesk.conversations.queries import access_conversation
from ledgerdesk.macros.actions import do_delete_macro, do_save_macro
from ledgerdesk.macros.queries import get_macro, list_macros, render_macro
from ledgerdesk.macros.schemas import MacroIn, MacroOut, RenderIn, RenderOut, VariablesOut
from ledgerdesk.server.deps import Actor, ReadSession, Uow
from ledgerdesk.server.types import PathId

router = APIRouter(prefix="/macros", tags=["macros"])


@router.get("", response_model=list[MacroOut])
async def get_macros(actor: Actor, session: ReadSession) -> list[MacroOut]:
    actor.require_agent()
    return [MacroOut.of(row) for row in await list_macros(session)]


@router.get("/variables", response_model=VariablesOut)
async def get_variables(actor: Actor) -> VariablesOut:
    actor.require_agent()
    return VariablesOut()


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MacroOut)
async def create_macro(payload: MacroIn, actor: Actor, uow: Uow) -> MacroOut:
    row = await do_save_macro(uow, actor=actor, data=payload)
    await uow.commit()
    return MacroOut.of(row)


@router.get("/{macro_id}", response_model=MacroOut)
async def get_one_macro(macro_id: PathId, actor: Actor, session: ReadSession) -> MacroOut:
    actor.require_agent()
    return MacroOut.of(await get_macro(session, macro_id))


@router.put("/{macro_id}", response_model=MacroOut)
async def replace_macro(macro_id: PathId, payload: MacroIn, actor: Actor, uow: Uow) -> MacroOut:
    actor.require_admin()
    row = await get_macro(uow.session, macro_id)
    await do_save_macro(uow, actor=actor, data=payload, macro=row)
    await uow.commit()
    return MacroOut.of(row)


@router.delete("/{macro_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_macro(macro_id: PathId, actor: Actor, uow: Uow) -> Response:
    actor.require_admin()
    row = await get_macro(uow.session, macro_id)
    await do_delete_macro(uow, actor=actor, macro=row)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{macro_id}/render", response_model=RenderOut)
async def render_one(
    macro_id: PathId, payload: RenderIn, actor: Actor, session: ReadSession
) -> RenderOut:
    """The macro's text for a conversation, as the acting agent would send it."""
    agent = actor.require_agent()
    macro = await get_macro(session, macro_id)
    conversation = await access_conversation(session, actor, payload.conversation_id)
    language, body = await render_macro(session, macro, conversation, agent, payload.language)
    return RenderOut(macro_id=macro.id, language=language, body=body)
