"""Rules as data: the JSON an admin writes, validated by Pydantic before it is stored.

A rule is ``{"trigger", "match", "conditions", "actions"}`` (plus ``idle_minutes``
for the time trigger). See docs/automation.md for every field and an example.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ledgerdesk.conversations.status import Priority, Status
from ledgerdesk.server.types import DbId, Label, Tag


class Trigger(StrEnum):
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    MESSAGE_RECEIVED = "message.received"
    SLA_WARNING = "sla.warning"
    SLA_BREACHED = "sla.breached"
    CONVERSATION_IDLE = "conversation.idle"


# Fields a condition can test, and the kind of value each holds.
SCALAR_FIELDS = (
    "channel",
    "language",
    "category",
    "intent",
    "priority",
    "tier",
    "status",
    "inbox_id",
    "team_id",
    "assignee_id",
)
LIST_FIELDS = ("tags", "risk_flags")
TEXT_FIELDS = ("text",)
SCALAR_OPS = ("is", "is_not", "any_of", "none_of", "is_set", "is_empty")
LIST_OPS = ("has_any", "has_all", "has_none", "is_set", "is_empty")
TEXT_OPS = ("contains", "contains_any", "contains_none")
VALUELESS_OPS = ("is_set", "is_empty")
MANY_OPS = ("any_of", "none_of", "has_any", "has_all", "has_none", "contains_any", "contains_none")
INT_FIELDS = ("inbox_id", "team_id", "assignee_id")
CHOICES: dict[str, tuple[str, ...]] = {
    "priority": tuple(Priority),
    "status": tuple(Status),
    "channel": ("webchat", "email", "telegram", "discord", "api"),
    "tier": ("standard", "vip"),
}

Word = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Scalar = Annotated[str, StringConstraints(min_length=1, max_length=100)] | DbId


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: Literal[
        "channel",
        "language",
        "category",
        "intent",
        "priority",
        "tier",
        "status",
        "inbox_id",
        "team_id",
        "assignee_id",
        "tags",
        "risk_flags",
        "text",
    ]
    op: Literal[
        "is",
        "is_not",
        "any_of",
        "none_of",
        "is_set",
        "is_empty",
        "has_any",
        "has_all",
        "has_none",
        "contains",
        "contains_any",
        "contains_none",
    ]
    value: Scalar | Annotated[list[Scalar], Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _op_fits_field(self) -> Condition:
        field, op = self.field, self.op
        allowed = (
            TEXT_OPS if field in TEXT_FIELDS else LIST_OPS if field in LIST_FIELDS else SCALAR_OPS
        )
        if op not in allowed:
            raise ValueError(f"{field!r} takes the operators {', '.join(allowed)}, not {op!r}")
        if op in VALUELESS_OPS:
            if self.value is not None:
                raise ValueError(f"{op!r} takes no value")
            return self
        many = op in MANY_OPS
        if many and not (isinstance(self.value, list) and self.value):
            raise ValueError(f"{op!r} needs a non-empty list of values")
        if not many and (self.value is None or isinstance(self.value, list)):
            raise ValueError(f"{op!r} needs one value")
        values = self.value if isinstance(self.value, list) else [self.value]
        for value in values:
            if field in INT_FIELDS and not isinstance(value, int):
                raise ValueError(f"{field!r} compares ids (numbers), not {value!r}")
            if field not in INT_FIELDS and not isinstance(value, str):
                raise ValueError(f"{field!r} compares text, not {value!r}")
            if field in CHOICES and value not in CHOICES[field]:
                raise ValueError(f"{field!r} is one of {', '.join(CHOICES[field])}, not {value!r}")
        return self


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignAgent(_Action):
    type: Literal["assign_agent"]
    agent_id: DbId


class AssignTeam(_Action):
    type: Literal["assign_team"]
    team_id: DbId
    # Then let the team's routing strategy choose an agent.
    route: bool = True


class SetPriority(_Action):
    type: Literal["set_priority"]
    priority: Priority


class SetStatus(_Action):
    type: Literal["set_status"]
    status: Status


class AddTags(_Action):
    type: Literal["add_tags"]
    tags: Annotated[list[Tag], Field(min_length=1, max_length=20)]


class RemoveTags(_Action):
    type: Literal["remove_tags"]
    tags: Annotated[list[Tag], Field(min_length=1, max_length=20)]


class ReplyWithMacro(_Action):
    type: Literal["reply_macro"]
    macro_id: DbId


class AddNote(_Action):
    type: Literal["add_note"]
    body: Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class CallWebhook(_Action):
    type: Literal["call_webhook"]
    subscription_id: DbId


class Escalate(_Action):
    type: Literal["escalate"]
    team_id: DbId
    priority: Priority = Priority.URGENT


Action = Annotated[
    AssignAgent
    | AssignTeam
    | SetPriority
    | SetStatus
    | AddTags
    | RemoveTags
    | ReplyWithMacro
    | AddNote
    | CallWebhook
    | Escalate,
    Field(discriminator="type"),
]


class RuleSpec(BaseModel):
    """What a rule does; stored as JSON in ``automation_rules.spec``."""

    model_config = ConfigDict(extra="forbid")

    trigger: Trigger
    match: Literal["all", "any"] = "all"
    conditions: Annotated[list[Condition], Field(max_length=50)] = []
    actions: Annotated[list[Action], Field(min_length=1, max_length=20)]
    # conversation.idle only: how long without an update (5 minutes to 90 days).
    idle_minutes: Annotated[int, Field(ge=5, le=90 * 24 * 60)] | None = None

    @model_validator(mode="after")
    def _idle_needs_minutes(self) -> RuleSpec:
        if self.trigger == Trigger.CONVERSATION_IDLE and self.idle_minutes is None:
            raise ValueError("the conversation.idle trigger needs idle_minutes")
        if self.trigger != Trigger.CONVERSATION_IDLE and self.idle_minutes is not None:
            raise ValueError("idle_minutes belongs to the conversation.idle trigger only")
        return self


class RuleIn(RuleSpec):
    name: Label
    enabled: bool = True
    position: Annotated[int, Field(ge=0, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _has_name(self) -> RuleIn:
        if not self.name.strip():
            raise ValueError("a rule needs a name")
        return self

    def spec(self) -> RuleSpec:
        return RuleSpec.model_validate(self.model_dump(include=set(RuleSpec.model_fields)))


class RuleOut(BaseModel):
    id: int
    name: str
    enabled: bool
    position: int
    trigger: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> RuleOut:
        return cls(
            id=row.id,
            name=row.name,
            enabled=row.is_enabled,
            position=row.position,
            trigger=row.trigger,
            spec=row.spec,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class RuleToggle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: RuleSpec
    last: Annotated[int, Field(ge=1, le=1000)] = 100


class DryRunMatch(BaseModel):
    id: int
    subject: str
    status: str
    priority: str
    created_at: datetime


class DryRunOut(BaseModel):
    checked: int
    matched: list[DryRunMatch]
