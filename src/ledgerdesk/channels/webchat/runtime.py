"""What one process holds for web chat: rate limiters, the attachment store, a clock.

Lives on ``AppState.webchat``. The limiters count in this process, or in Redis
for every process when one is configured (``accounts/ratelimit.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ledgerdesk.accounts.ratelimit import RateLimiter, RateLimits
from ledgerdesk.channels.webchat.storage import AttachmentStore, LocalAttachmentStore
from ledgerdesk.db.base import utcnow
from ledgerdesk.errors import RateLimited
from ledgerdesk.settings import Settings

WINDOW_SECONDS = 60.0


@dataclass
class Limit:
    """One action limited per visitor and per address, with the words for a refusal."""

    per_visitor: RateLimiter
    per_ip: RateLimiter
    what: str

    async def retry_after(self, visitor: str | None, ip: str | None) -> int | None:
        """Count one attempt; seconds to wait when over either limit, else None."""
        if visitor is not None:
            wait = await self.per_visitor.hit(visitor)
            if wait is not None:
                return wait
        if ip is not None:
            return await self.per_ip.hit(ip)
        return None

    async def check(self, visitor: str | None, ip: str | None) -> None:
        wait = await self.retry_after(visitor, ip)
        if wait is not None:
            raise RateLimited(self.refusal(wait), retry_after=wait)

    def refusal(self, wait: int) -> str:
        unit = "second" if wait == 1 else "seconds"
        return f"too many {self.what} in a short time; try again in {wait} {unit}"


@dataclass
class WebchatRuntime:
    sessions: Limit
    sends: Limit
    uploads: Limit
    store: AttachmentStore
    # Injectable, so tests can move time instead of sleeping (presence, token expiry).
    clock: Callable[[], datetime] = field(default=utcnow)
    # agent id → monotonic time this process last wrote the agent's presence.
    presence_touches: dict[int, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, limits: RateLimits | None = None) -> WebchatRuntime:
        made = limits or RateLimits()

        def limit(per_visitor: int, per_ip: int, what: str) -> Limit:
            name = "widget-" + what.replace(" ", "-")
            return Limit(
                made.limiter(f"{name}:visitor", per_visitor, WINDOW_SECONDS),
                made.limiter(f"{name}:ip", per_ip, WINDOW_SECONDS),
                what,
            )

        return cls(
            sessions=limit(
                settings.widget_sessions_per_minute_per_visitor,
                settings.widget_sessions_per_minute_per_ip,
                "chat sessions",
            ),
            sends=limit(
                settings.widget_sends_per_minute_per_visitor,
                settings.widget_sends_per_minute_per_ip,
                "messages",
            ),
            uploads=limit(
                settings.widget_uploads_per_minute_per_visitor,
                settings.widget_uploads_per_minute_per_ip,
                "uploads",
            ),
            store=LocalAttachmentStore(settings.data_dir / "attachments"),
        )
