"""REST route of the assistant: POST /api/v1/assistant/answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ledgerdesk.assistant.runtime import AssistantRuntime
from ledgerdesk.assistant.schemas import AnswerOut, AnswerRequest
from ledgerdesk.server.deps import Actor, State

router = APIRouter(prefix="/assistant", tags=["assistant"])


def runtime_of(request: Request) -> AssistantRuntime:
    runtime: AssistantRuntime = request.app.state.assistant
    return runtime


@router.post("/answer", response_model=AnswerOut)
async def answer(payload: AnswerRequest, actor: Actor, state: State, request: Request) -> AnswerOut:
    """Answer a question from the help center, or say why a person should take it."""
    actor.require_scope("conversations:read")
    runtime = runtime_of(request)
    await runtime.check_rate(actor)
    result = await runtime.answer(state.db, payload.question, payload.locale)
    return AnswerOut.of(result)
