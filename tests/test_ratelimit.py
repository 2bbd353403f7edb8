"""Rate limits: the process window, and the window shared by processes through Redis.

The Redis tests use the machine's real Redis (``require_redis``); two ``RateLimits``
made from the same settings stand for two server processes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from ledgerdesk.accounts.ratelimit import MemoryRateLimiter, RateLimits, RedisRateLimiter
from ledgerdesk.app import build_state
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.settings import Settings
from tests.conftest import require_redis


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_process_window_refuses_over_the_limit_and_says_how_long_to_wait() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(3, 60, clock=clock)
    for second in range(3):
        clock.now = 1000.0 + second
        assert await limiter.hit("203.0.113.7") is None
    clock.now = 1010.0
    assert await limiter.hit("203.0.113.7") == 50  # the first attempt leaves at 1060
    clock.now = 1010.2
    assert await limiter.hit("203.0.113.7") == 50, "a part of a second counts as one"
    assert await limiter.hit("198.51.100.1") is None, "another address has its own window"
    clock.now = 1060.5
    assert await limiter.hit("203.0.113.7") is None


@pytest.fixture
async def redis_settings(settings: Settings) -> AsyncIterator[Settings]:
    url = await require_redis()
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    yield settings.model_copy(update={"redis_url": SecretStr(url), "redis_channel_prefix": prefix})
    client = Redis.from_url(url)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_processes_share_one_window(redis_settings: Settings) -> None:
    first, second = (
        RateLimits.from_settings(redis_settings),
        RateLimits.from_settings(redis_settings),
    )
    try:
        assert first.shared and second.shared
        limiters = [first.limiter("login", 5, 60), second.limiter("login", 5, 60)]
        allowed = [await limiters[i % 2].hit("203.0.113.7") is None for i in range(8)]
        assert allowed == [True] * 5 + [False] * 3, "five in all, not five per process"
        wait = await limiters[0].hit("203.0.113.7")
        assert wait is not None and 1 <= wait <= 60
        assert await limiters[1].hit("198.51.100.1") is None, "another key"
        other = first.limiter("widget-messages:ip", 5, 60)
        assert await other.hit("203.0.113.7") is None, "another limit, same key"
    finally:
        await first.close()
        await second.close()


async def test_the_shared_window_slides_and_its_keys_expire(redis_settings: Settings) -> None:
    limits = RateLimits.from_settings(redis_settings)
    try:
        limiter = limits.limiter("votes", 2, 1.0)
        assert await limiter.hit("visitor") is None
        assert await limiter.hit("visitor") is None
        assert await limiter.hit("visitor") == 1
        assert limits.redis is not None
        ttl = await limits.redis.pttl(
            f"{redis_settings.redis_channel_prefix}ratelimit:votes:visitor"
        )
        assert 0 < ttl <= 1000
        await asyncio.sleep(1.1)
        assert await limiter.hit("visitor") is None
    finally:
        await limits.close()


async def test_without_redis_the_limit_still_holds_in_the_process_and_the_log_has_no_secret(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = settings.model_copy(
        update={"redis_url": SecretStr("redis://:hunter2-secret@127.0.0.1:1/0")}
    )
    limits = RateLimits.from_settings(unreachable)
    try:
        limiter = limits.limiter("login", 2, 60)
        assert isinstance(limiter, RedisRateLimiter)
        with caplog.at_level(logging.WARNING, logger="ledgerdesk.accounts.ratelimit"):
            results = [await limiter.hit("203.0.113.7") for _ in range(4)]
        assert results[:2] == [None, None]
        assert results[2] is not None and results[3] is not None
        warnings = [r for r in caplog.records if "shared rate limit unavailable" in r.message]
        assert len(warnings) == 1, "said once, not on every request"
        assert "hunter2" not in caplog.text and "127.0.0.1:1" not in caplog.text
    finally:
        await limits.close()


async def test_the_server_state_takes_every_limiter_from_redis_when_it_is_set(
    redis_settings: Settings, settings: Settings
) -> None:
    shared = build_state(redis_settings, bus=MemoryEventBus())
    alone = build_state(settings, bus=MemoryEventBus())
    other_process = build_state(redis_settings, bus=MemoryEventBus())
    try:
        assert isinstance(shared.login_limiter, RedisRateLimiter)
        assert isinstance(shared.webchat.sends.per_visitor, RedisRateLimiter)
        assert isinstance(shared.webchat.sessions.per_ip, RedisRateLimiter)
        assert isinstance(alone.login_limiter, MemoryRateLimiter)
        limit = redis_settings.login_ip_limit_per_minute
        for i in range(limit):
            state = shared if i % 2 else other_process
            assert await state.login_limiter.hit("203.0.113.9") is None
        assert await shared.login_limiter.hit("203.0.113.9") is not None
        assert await other_process.login_limiter.hit("203.0.113.9") is not None
    finally:
        for state in (shared, alone, other_process):
            await state.rate_limits.close()
            await state.db.dispose()
