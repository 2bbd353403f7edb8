"""Watching db/direct.py's execute_direct: which calls went straight to the driver."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from ledgerdesk.db.direct import DirectResult, execute_direct


def record_direct(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[bool]:
    """Spy on ``module``'s execute_direct: each call appends whether it ran directly."""
    taken: list[bool] = []

    async def recording(*args: Any) -> DirectResult | None:
        result = await execute_direct(*args)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(module, "execute_direct", recording)
    return taken
