"""Constrained field types for API shapes, so bad input fails validation (4xx), not the database."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, Field, StringConstraints


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refusing it here keeps both databases alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
ShortText = Annotated[str, StringConstraints(max_length=300), AfterValidator(_no_nul)]
Name = Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)]
Body = Annotated[str, StringConstraints(max_length=50_000), AfterValidator(_no_nul)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=60), AfterValidator(_no_nul)]
Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]
PathId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ChannelMessageId = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)
]
CustomFields = Annotated[dict[str, Any], Field(max_length=50)]
