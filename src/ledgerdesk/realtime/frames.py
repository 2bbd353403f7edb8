"""The frames a real-time client may send, validated like any other input."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ledgerdesk.conversations.schemas import Attachment
from ledgerdesk.server.types import Body, ChannelMessageId, DbId, ShortText


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hello(_Frame):
    type: Literal["hello"]
    # A customer or API token; browsers logged into the console send none (cookie).
    token: Annotated[str, Field(max_length=200)] | None = None
    last_event_id: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None


class Send(_Frame):
    """A message. ``client_id`` makes resending safe: the server stores it once."""

    type: Literal["send"]
    client_id: ChannelMessageId
    conversation_id: DbId | None = None
    body: Body = ""
    internal: bool = False
    subject: ShortText = ""
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)


class Typing(_Frame):
    type: Literal["typing"]
    conversation_id: DbId
    typing: bool = True
    internal: bool = False


class Ping(_Frame):
    type: Literal["ping"]


class Pong(_Frame):
    type: Literal["pong"]


ClientFrame = Annotated[Send | Typing | Ping | Pong, Field(discriminator="type")]
_client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


def parse_client_frame(raw: str) -> ClientFrame:
    return _client_frame.validate_json(raw)


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "frame"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
