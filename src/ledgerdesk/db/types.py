"""Column types shared by the domain models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

JSONType: Any = JSON().with_variant(JSONB(), "postgresql")
# For JSON columns where Python None must be SQL NULL (queryable with IS NULL),
# not the JSON value null.
NullableJSONType: Any = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigIntId: Any = BigInteger().with_variant(Integer(), "sqlite")
