"""Watching db/direct.py's run_direct: which calls went straight to sqlite3."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from ledgerdesk.db.direct import DirectResult, run_direct


def record_direct(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[bool]:
    """Spy on ``module``'s run_direct: each call appends whether it ran directly."""
    taken: list[bool] = []

    def recording(*args: Any) -> DirectResult | None:
        result = run_direct(*args)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(module, "run_direct", recording)
    return taken
