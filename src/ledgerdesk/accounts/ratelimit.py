"""Sliding-window rate limits: logins by address, widget sessions and sends, votes...

One interface, two backends. On one process (the embedded default) the windows
live in memory. With ``LEDGERDESK_REDIS_URL`` set, every process counts in the
same Redis sorted set per key, so N processes behind a balancer allow the limit
once, not N times. Per-account login lockout is separate: it lives in the
database (``accounts/actions.py``).

When Redis cannot be reached, a limiter falls back to its own process's window
and logs that once a minute: an outage of the shared counter must neither lock
every customer out nor lift the limits.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from redis.exceptions import RedisError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)
FALLBACK_LOG_EVERY_SECONDS = 60.0


class RateLimiter(Protocol):
    async def hit(self, key: str) -> int | None:
        """Count one attempt; seconds to wait when over the limit (not counted), else None."""
        ...


class MemoryRateLimiter:
    """The window of one process."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, key: str) -> int | None:
        return self.hit_now(key)

    def hit_now(self, key: str) -> int | None:
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        if len(self._hits) > 100_000:  # forget idle keys so memory stays bounded
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        return None


# Trim the window, count, and record the attempt only when under the limit, in one
# atomic step on Redis's own clock (the processes' clocks may differ). Returns 0
# when allowed, else the seconds until the oldest attempt leaves the window.
_SLIDING_WINDOW = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, math.ceil((tonumber(oldest[2]) + window_ms - now) / 1000))
end
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, window_ms)
return 0
"""


class RedisRateLimiter:
    """The window shared by every process that uses the same Redis and key prefix."""

    def __init__(
        self,
        redis: Redis,
        name: str,
        limit: int,
        window_seconds: float,
        *,
        prefix: str,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._redis = redis
        self._script = redis.register_script(_SLIDING_WINDOW)
        self._prefix = f"{prefix}ratelimit:{name}:"
        self._fallback = MemoryRateLimiter(limit, window_seconds)
        self._last_warning = -math.inf

    async def hit(self, key: str) -> int | None:
        try:
            wait = await self._script(
                keys=[self._prefix + key],
                args=[self.limit, max(1, int(self.window * 1000)), uuid.uuid4().hex],
            )
        except (RedisError, OSError) as exc:
            self._warn(exc)
            return self._fallback.hit_now(key)
        return int(wait) or None

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning >= FALLBACK_LOG_EVERY_SECONDS:
            self._last_warning = now
            # The exception's class only: a message could carry the Redis URL.
            log.warning(
                "shared rate limit unavailable (%s); counting in this process meanwhile",
                type(exc).__name__,
            )


class RateLimits:
    """Makes the process's limiters: in memory, or shared through Redis when one is set."""

    def __init__(self, redis: Redis | None = None, prefix: str = "ledgerdesk:") -> None:
        self.redis = redis
        self.prefix = prefix
        # One limiter per (name, limit, window): a process window only counts if every
        # request of that kind hits the same one.
        self._made: dict[tuple[str, int, float], RateLimiter] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        if settings.redis_url is None:
            return cls()
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = Redis.from_url(
            settings.redis_url.get_secret_value(),
            socket_connect_timeout=2,
            socket_timeout=2,
            # A limit check sits in front of a request: fail over to the process's
            # own window at once rather than hold the request through retries.
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, settings.redis_channel_prefix)

    @property
    def shared(self) -> bool:
        return self.redis is not None

    def limiter(self, name: str, limit: int, window_seconds: float) -> RateLimiter:
        """The limiter named ``name`` (the same object on every call with these values)."""
        key = (name, limit, window_seconds)
        made = self._made.get(key)
        if made is None:
            if self.redis is None:
                made = MemoryRateLimiter(limit, window_seconds)
            else:
                made = RedisRateLimiter(self.redis, name, limit, window_seconds, prefix=self.prefix)
            self._made[key] = made
        return made

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
