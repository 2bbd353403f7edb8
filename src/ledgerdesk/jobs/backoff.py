"""When a failed job runs again: exponential backoff with jitter, pure arithmetic."""

from __future__ import annotations

import random


def retry_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    rand: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first).

    The nominal delay doubles each attempt (``base``, ``2*base``, ``4*base``...) up
    to ``cap``; the wait is drawn from its upper half ("equal jitter"), so jobs
    that failed together spread out, yet none comes back almost at once.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if base < 0 or cap < 0:
        raise ValueError("delays are never negative")
    # min() before the power would overflow for a job that failed a thousand times.
    nominal = min(cap, base * 2.0 ** min(attempt - 1, 60))
    draw = (rand or random).random()
    return nominal / 2 + draw * nominal / 2
