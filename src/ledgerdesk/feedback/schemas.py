"""API shapes of surveys and of the feedback settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ledgerdesk.feedback.models import Survey
from ledgerdesk.server.types import DbId

MAX_COMMENT_CHARS = 2000
MAX_FOLLOW_UP_CHARS = 2000


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Category = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60),
    AfterValidator(_no_nul),
]
FollowUpText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_FOLLOW_UP_CHARS),
    AfterValidator(_no_nul),
]
Comment = Annotated[str, StringConstraints(max_length=MAX_COMMENT_CHARS), AfterValidator(_no_nul)]
Rating = Annotated[int, Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")]

DEFAULT_FOLLOW_UP_TEXTS = {
    "en": (
        "Hi, we are checking in on your request from a few days ago. Is everything working "
        "as it should now? If not, just reply to this message and we will pick it up again."
    ),
    "zh": (
        "您好，我们想跟进一下您几天前的问题。现在一切正常吗？"
        "如果还有问题，直接回复这条消息，我们会继续为您处理。"
    ),
}


class FollowUpTexts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: FollowUpText = DEFAULT_FOLLOW_UP_TEXTS["en"]
    zh: FollowUpText = DEFAULT_FOLLOW_UP_TEXTS["zh"]


class FeedbackSettings(BaseModel):
    """What an admin sets on /admin/feedback (stored in site_settings under "feedback")."""

    model_config = ConfigDict(extra="forbid")
    survey_enabled: bool = True
    survey_delay_minutes: int = Field(
        default=30, ge=0, le=7 * 24 * 60, description="after solving, before the survey is sent"
    )
    change_window_hours: int = Field(
        default=72, ge=0, le=30 * 24, description="how long an answer can still be changed"
    )
    follow_up_enabled: bool = False
    follow_up_days: int = Field(default=3, ge=1, le=90, description="after solving")
    follow_up_categories: list[Category] = Field(
        default_factory=list,
        max_length=50,
        description='conversation custom_fields["category"] values that get a follow-up',
    )
    follow_up_texts: FollowUpTexts = Field(default_factory=FollowUpTexts)

    def follow_up_text(self, language: str | None) -> str:
        if language and language.lower().startswith("zh"):
            return self.follow_up_texts.zh
        return self.follow_up_texts.en

    def wants_follow_up(self, custom_fields: dict[str, Any] | None) -> bool:
        if not self.follow_up_enabled:
            return False
        category = (custom_fields or {}).get("category")
        return isinstance(category, str) and category.strip() in self.follow_up_categories


class SurveyAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Rating
    comment: Comment | None = Field(
        default=None, description=f"at most {MAX_COMMENT_CHARS} characters"
    )


class WidgetSurveyAnswerIn(SurveyAnswerIn):
    conversation_id: DbId


class SurveyOut(BaseModel):
    """A survey as its customer sees it (no nonce, no customer id)."""

    conversation_id: int
    status: str
    rating: int | None
    comment: str | None
    sent_at: datetime | None
    answered_at: datetime | None
    changeable_until: datetime | None
    language: str

    @classmethod
    def of(cls, survey: Survey, language: str | None) -> SurveyOut:
        return cls(
            conversation_id=survey.conversation_id,
            status=survey.status,
            rating=survey.rating,
            comment=survey.comment,
            sent_at=survey.sent_at,
            answered_at=survey.answered_at,
            changeable_until=survey.changeable_until,
            language="zh" if (language or "").lower().startswith("zh") else "en",
        )


class SurveyRow(BaseModel):
    """A survey as the team sees it."""

    id: int
    conversation_id: int
    customer_id: int
    channel: str
    status: str
    rating: int | None
    comment: str | None
    scheduled_for: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    changeable_until: datetime | None

    @classmethod
    def of(cls, survey: Survey) -> SurveyRow:
        return cls(
            id=survey.id,
            conversation_id=survey.conversation_id,
            customer_id=survey.customer_id,
            channel=survey.channel,
            status=survey.status,
            rating=survey.rating,
            comment=survey.comment,
            scheduled_for=survey.scheduled_for,
            sent_at=survey.sent_at,
            answered_at=survey.answered_at,
            changeable_until=survey.changeable_until,
        )
