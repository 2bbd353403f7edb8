"""Choose the event bus backend from settings: in-process by default, Redis at scale."""

from __future__ import annotations

from ledgerdesk.events.bus import EventBus, MemoryEventBus
from ledgerdesk.events.redis_bus import DEFAULT_CHANNEL_PREFIX, RedisEventBus


def create_event_bus(
    redis_url: str | None, *, channel_prefix: str = DEFAULT_CHANNEL_PREFIX
) -> EventBus:
    """A ``MemoryEventBus`` when ``redis_url`` is None, else a ``RedisEventBus``.

    Synchronous on purpose: neither backend connects when created (Redis is
    reached on first use), so this can run while the app is being built,
    outside any event loop. Pass the plain URL (``settings.redis_url`` is a
    ``SecretStr``: unwrap it with ``get_secret_value()``).
    """
    if redis_url is None:
        return MemoryEventBus()
    return RedisEventBus(redis_url, channel_prefix=channel_prefix)
