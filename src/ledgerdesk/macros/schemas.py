"""API shapes for macros."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ledgerdesk.macros.template import VARIABLES, variables_in
from ledgerdesk.server.types import DbId, Label

LanguageTag = Annotated[
    str,
    StringConstraints(min_length=2, max_length=20, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"),
]
MacroText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class MacroIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Label
    bodies: Annotated[dict[LanguageTag, MacroText], Field(min_length=1, max_length=20)]
    active: bool = True

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a macro needs a name")
        return value.strip()

    @field_validator("bodies")
    @classmethod
    def _valid_templates(cls, value: dict[str, str]) -> dict[str, str]:
        for language, text in value.items():
            if not text.strip():
                raise ValueError(f"the {language} text is empty")
            try:
                variables_in(text)
            except Exception as exc:  # InvalidInput: shown as this field's error
                raise ValueError(f"{language}: {exc}") from None
        return value


class MacroOut(BaseModel):
    id: int
    name: str
    bodies: dict[str, str]
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> MacroOut:
        return cls(
            id=row.id,
            name=row.name,
            bodies=row.bodies,
            active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: DbId
    language: Annotated[str, StringConstraints(max_length=20)] | None = None


class RenderOut(BaseModel):
    macro_id: int
    language: str
    body: str


class VariablesOut(BaseModel):
    variables: dict[str, str] = dict(VARIABLES)
