"""Sliding-window rate limiting for login attempts by IP address.

Per-account lockout lives in the database (it must hold across processes); this
limiter guards against one address trying many accounts. It is per process; the
Redis event backend brings a shared one for multi-process installs.
"""

from __future__ import annotations

import time
from collections import deque


class MemoryRateLimiter:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> int | None:
        """Count one attempt; returns seconds to wait if over the limit, else None."""
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, int(hits[0] + self.window - now) + 1)
        hits.append(now)
        if len(self._hits) > 100_000:  # forget idle keys so memory stays bounded
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        return None
