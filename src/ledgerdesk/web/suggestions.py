"""The console's assistant panel: suggested articles and a draft reply for the open
conversation, and what the assistant did in it (its turns, the hand-off reason).

Loaded by htmx after the conversation page, so asking the assistant never slows the
page down. The question is the last public customer message, as stored (secrets
already removed by the conversation actions).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import HTMLResponse

from ledgerdesk.assistant.answer import AssistantAnswer
from ledgerdesk.assistant.schemas import MAX_QUESTION_CHARS
from ledgerdesk.channels.webchat.assistant import (
    absolute_help_links,
    customer_locale,
    turns_of,
)
from ledgerdesk.conversations.models import Message
from ledgerdesk.conversations.queries import access_conversation
from ledgerdesk.server.types import PathId
from ledgerdesk.web.deps import User
from ledgerdesk.web.rendering import render

router = APIRouter(include_in_schema=False)
SUGGESTIONS = 3


async def _ask(request: Request, question: str, locale: str) -> AssistantAnswer:
    state = request.app.state
    answer: AssistantAnswer = await state.assistant.answer(
        state.ledgerdesk.db, question[:MAX_QUESTION_CHARS], locale
    )
    return answer


@router.get("/conversations/{conversation_id}/assistant")
async def assistant_panel(request: Request, conversation_id: PathId, user: User) -> HTMLResponse:
    db = request.app.state.ledgerdesk.db
    async with db.sessionmaker() as session:
        conversation = await access_conversation(session, user.principal, conversation_id)
        last = (
            await session.execute(
                select(Message)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.author_kind == "customer",
                    Message.is_internal.is_(False),
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        turns = await turns_of(session, conversation.id)
    context: dict[str, Any] = {
        "conversation": conversation,
        "turns": turns,
        "handoff_reason": next((t.reason for t in reversed(turns) if t.handoff), None),
        "answer": None,
        "draft": None,
        "sources": [],
        "can_write": user.agent.can_reply,
        "user": user,
    }
    if last is not None and last.body.strip():
        answer = await _ask(request, last.body, customer_locale(last.body, conversation.language))
        context["answer"] = answer
        public_url = request.app.state.ledgerdesk.settings.public_url
        context["draft"] = absolute_help_links(answer.answer, public_url)
        context["sources"] = answer.sources[:SUGGESTIONS]
    return render(request, "fragments/assistant_panel.html", context)
