"""Constrained field types for API shapes, so bad input fails validation (4xx), not the database."""

from __future__ import annotations

import json
import math
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
Label = Annotated[str, StringConstraints(max_length=100), AfterValidator(_no_nul)]
Body = Annotated[str, StringConstraints(max_length=50_000), AfterValidator(_no_nul)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=60), AfterValidator(_no_nul)]
Language = Annotated[
    str, StringConstraints(max_length=20, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_no_nul)]
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]
PathId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ChannelMessageId = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)
]
MAX_CUSTOM_FIELDS_DEPTH = 5
MAX_CUSTOM_FIELDS_BYTES = 64 * 1024


def _check_json_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise ValueError(f"{where} must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where} is not valid Unicode text") from None


def _check_json_value(value: Any, where: str, depth: int) -> None:
    # Any JSON is accepted from the client, but what we store must also be storable
    # in PostgreSQL JSONB (no NUL, no NaN) and serialisable again when read back.
    if depth > MAX_CUSTOM_FIELDS_DEPTH:
        raise ValueError(f"{where} is nested more than {MAX_CUSTOM_FIELDS_DEPTH} levels deep")
    if isinstance(value, str):
        _check_json_text(value, where)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json_text(key, f"a key in {where}")
            _check_json_value(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_value(item, f"{where}[{index}]", depth + 1)


def _storable_json(value: dict[str, Any]) -> dict[str, Any]:
    _check_json_value(value, "custom_fields", 1)
    if len(json.dumps(value)) > MAX_CUSTOM_FIELDS_BYTES:
        raise ValueError(f"custom_fields is larger than {MAX_CUSTOM_FIELDS_BYTES} bytes")
    return value


CustomFields = Annotated[dict[str, Any], Field(max_length=50), AfterValidator(_storable_json)]
