"""API shapes of the assistant."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ledgerdesk.assistant.answer import AssistantAnswer
from ledgerdesk.server.types import Language

MAX_QUESTION_CHARS = 2000


def _not_blank(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Question = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_QUESTION_CHARS), AfterValidator(_not_blank)
]


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Question
    # The customer's language; read from the question when not given.
    locale: Language | None = None


class SourceOut(BaseModel):
    slug: str
    locale: str
    title: str
    score: float


class AnswerOut(BaseModel):
    answer: str
    sources: list[SourceOut]
    confidence: float = Field(ge=0, le=1)
    handoff: bool
    # needs_human:<category>, low_confidence, ambiguous, out_of_scope; null when answered.
    reason: str | None

    @classmethod
    def of(cls, result: AssistantAnswer) -> AnswerOut:
        return cls(
            answer=result.answer,
            sources=[
                SourceOut(slug=s.slug, locale=s.locale, title=s.title, score=s.score)
                for s in result.sources
            ],
            confidence=min(1.0, max(0.0, result.confidence)),
            handoff=result.handoff,
            reason=result.reason,
        )
