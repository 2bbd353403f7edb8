"""API shapes of the web chat channel: the widget's requests and the admin settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ledgerdesk.channels.webchat.origins import normalise_origins
from ledgerdesk.conversations.models import Inbox
from ledgerdesk.server.types import DbId, Email, Language, Name, ShortText

WidgetKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
VisitorToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]
UserId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
UserHash = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Greeting = Annotated[str, StringConstraints(max_length=500)]


def _origins(values: list[str]) -> list[str]:
    return normalise_origins(values)


Origins = Annotated[list[ShortText], Field(max_length=50), AfterValidator(_origins)]


def _greetings(values: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(values) - {"en", "zh-Hans"})
    if unknown:
        raise ValueError(f"greetings are for 'en' and 'zh-Hans', not {', '.join(unknown)}")
    return {language: text.strip() for language, text in values.items() if text.strip()}


Greetings = Annotated[dict[str, Greeting], AfterValidator(_greetings)]


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inbox: WidgetKey = Field(description="the widget key from the embed snippet")
    visitor_token: VisitorToken | None = Field(
        default=None, description="the token an earlier session gave this browser"
    )
    user_id: UserId | None = Field(default=None, description="the platform's own user id")
    user_hash: UserHash | None = Field(
        default=None, description="hex HMAC-SHA256(identity secret, user_id), made server-side"
    )
    name: Name | None = None
    email: Email | None = None
    language: Language | None = Field(default=None, description="navigator.language")


class SessionOut(BaseModel):
    token: str
    customer_id: int
    verified_user: bool
    language: str
    conversations: list[dict[str, Any]]
    last_event_id: int
    agents_online: bool
    has_email: bool
    greeting: str
    texts: dict[str, str]
    limits: dict[str, Any]
    # The assistant's answers in these conversations: article links, "did this help?".
    assistant_turns: list[dict[str, Any]] = Field(default_factory=list)
    # Satisfaction surveys sent and not answered yet: the widget draws their cards
    # (feedback/, docs/feedback.md).
    surveys: list[dict[str, Any]] = Field(default_factory=list)


class AttachmentOut(BaseModel):
    """What a ``send`` frame's ``attachments`` carries."""

    filename: str
    content_type: str
    size: int
    url: str


class EmailRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    conversation_id: DbId | None = None


class EmailOut(BaseModel):
    email: str
    conversation_id: int | None
    message: str


class FeedbackRequest(BaseModel):
    """The visitor's answer to one of the assistant's messages."""

    model_config = ConfigDict(extra="forbid")
    conversation_id: DbId
    message_id: DbId
    verdict: Literal["helped", "human"]


class FeedbackOut(BaseModel):
    conversation_id: int
    message_id: int
    verdict: str
    assistant_state: str | None
    status: str


class WebchatInboxCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    default_team_id: DbId | None = None
    allowed_origins: Origins = Field(default_factory=list)
    greetings: Greetings = Field(default_factory=dict)
    assistant_first: bool = Field(
        default=True, description="the assistant answers before an agent (docs/webchat.md)"
    )


class WebchatInboxUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowed_origins: Origins | None = None
    greetings: Greetings | None = None
    assistant_first: bool | None = None


class WebchatInboxOut(BaseModel):
    id: int
    name: str
    widget_key: str
    allowed_origins: list[str]
    any_origin: bool = Field(description="true when every site may embed the widget (unsafe)")
    identity_verification: bool
    greetings: dict[str, str]
    assistant_first: bool
    embed_snippet: str
    identity_secret: str | None = Field(
        default=None, description="only when the inbox is created; keep it server-side"
    )

    @classmethod
    def of(
        cls, inbox: Inbox, public_url: str, *, identity_secret: str | None = None
    ) -> WebchatInboxOut:
        assert inbox.widget_key is not None
        return cls(
            id=inbox.id,
            name=inbox.name,
            widget_key=inbox.widget_key,
            allowed_origins=inbox.allowed_origins,
            any_origin=not inbox.allowed_origins,
            identity_verification=inbox.identity_secret_encrypted is not None,
            greetings=inbox.greetings,
            assistant_first=inbox.assistant_first,
            embed_snippet=(
                f'<script src="{public_url}/widget.js" data-inbox="{inbox.widget_key}" '
                "async></script>"
            ),
            identity_secret=identity_secret,
        )


class IdentitySecretOut(BaseModel):
    identity_secret: str = Field(description="shown once; keep it on the platform's server")
