"""Watching the event loop: how long it went without running a ready task."""

from __future__ import annotations

import asyncio
import time


async def loop_gaps(ticks: int, interval: float = 0.01) -> list[float]:
    """Sleep ``interval`` ``ticks`` times; the time each sleep really took. A gap well
    over ``interval`` means something blocked the loop's thread meanwhile."""
    gaps: list[float] = []
    last = time.monotonic()
    for _ in range(ticks):
        await asyncio.sleep(interval)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
    return gaps
